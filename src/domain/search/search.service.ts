import { createHash } from "node:crypto";
import { badInput } from "../../errors.js";
import { normalizeFilter } from "../prompts/prompt.listing.js";
import type { ArchiveFilter, PromptRecord } from "../prompts/prompt.repository.js";
import type { PromptRef } from "../prompts/prompt.commands.js";
import type { PromptService } from "../prompts/prompt.service.js";
import { decodeCursor, encodeCursor, pageSize, type Page } from "../shared/pagination.js";
import {
  extractHighlights,
  pickDistinctiveTerms,
  searchExpression,
  similarityExpression,
  termFrequencies,
  type Highlighted,
  type SearchColumn,
} from "./search.logic.js";
import { MatchExpressionError, type SearchRepository } from "./search.repository.js";

/**
 * How many of the newest matches a search ranks. Ranking every match of a common word or short
 * prefix would cost a bm25 evaluation per prompt (tens of ms at 100k prompts); this keeps a
 * search near a few ms. The price: an older prompt can be missing from the results of a query
 * that more than this many newer prompts also match. Narrow queries (< this many matches) are
 * ranked completely.
 */
export const SEARCH_CANDIDATE_LIMIT = 2000;
/** Terms of a prompt's content that similarPrompts searches for. */
export const SIMILAR_TERMS = 12;
/** Candidate terms whose document frequency is read (each read costs a doclist scan). */
export const SIMILAR_VOCABULARY_LOOKUPS = 64;

export interface SearchOptions {
  /** Defaults to SEARCH_CANDIDATE_LIMIT; tests inject a small one. */
  candidateLimit?: number;
}

export interface SearchQuery {
  query: string;
  first?: number | null;
  after?: string | null;
  tags?: string[] | null;
  category?: string | null;
  folder?: string | null;
  archived?: ArchiveFilter | null;
}

export interface SearchHit {
  prompt: PromptRecord;
  /** Relevance: -bm25 with the column weights, higher is better; comparable within one query only. */
  score: number;
  matchedField: SearchColumn;
  snippet: Highlighted;
  /** 1-based position in the ranking (what the cursor encodes). */
  position: number;
}

export interface SearchPage extends Page<SearchHit> {
  cursor(hit: SearchHit): string;
  /** The number of ranked matches (at most the candidate limit); a statement of its own, so only on demand. */
  count(): Promise<number>;
}

export interface SimilarPrompt {
  prompt: PromptRecord;
  /** 0..1: the prompt's bm25 for the source's distinctive terms over the source's own. */
  score: number;
}

export class SearchService {
  private readonly candidates: number;

  constructor(
    private readonly repo: SearchRepository,
    private readonly prompts: PromptService,
    options: SearchOptions = {},
  ) {
    this.candidates = options.candidateLimit ?? SEARCH_CANDIDATE_LIMIT;
    if (!Number.isInteger(this.candidates) || this.candidates < 1) {
      throw new Error(`candidateLimit must be a positive integer (got ${this.candidates})`);
    }
  }

  async search(query: SearchQuery): Promise<SearchPage> {
    const expression = searchExpression(query.query);
    const limit = pageSize(query.first);
    const filter = normalizeFilter(query);
    // Offsets only make sense for the same ranking: the cursor names the query it came from.
    const ranking = createHash("sha256").update(JSON.stringify([expression, filter])).digest("base64url").slice(0, 16);
    const offset = query.after ? decodeOffset(query.after, ranking) : 0;
    const rows =
      limit === 0 || offset >= this.candidates
        ? []
        : await this.guard(() => this.repo.search(expression, filter, limit + 1, offset, this.candidates));
    const items = rows.slice(0, limit).map(
      (row, i): SearchHit => ({
        prompt: row.prompt,
        score: row.score,
        matchedField: row.column,
        snippet: extractHighlights(row.snippet),
        position: offset + i + 1,
      }),
    );
    return {
      items,
      hasNextPage: rows.length > limit,
      hasPreviousPage: offset > 0,
      cursor: (hit) => encodeCursor({ r: ranking, o: hit.position }),
      count: () => this.guard(() => this.repo.count(expression, filter, this.candidates)),
    };
  }

  /**
   * Prompts whose content resembles this prompt's latest content: its most distinctive terms
   * (TF-IDF over the index's document frequencies) searched with OR, ranked by bm25 and scaled
   * by the prompt's own score for the same terms. Archived prompts are left out.
   */
  async similar(ref: PromptRef, first?: number | null): Promise<SimilarPrompt[]> {
    const limit = pageSize(first);
    const prompt = await this.prompts.get(ref, "prompt");
    if (limit === 0) return [];
    const indexed = await this.repo.indexedContent(prompt.id);
    if (!indexed) return [];
    const tf = termFrequencies(indexed.content, SIMILAR_VOCABULARY_LOOKUPS);
    if (tf.size === 0) return [];
    const df = await this.repo.contentDocumentFrequencies([...tf.keys()]);
    const terms = pickDistinctiveTerms(tf, df, await this.repo.documentCount(), SIMILAR_TERMS);
    if (terms.length === 0) return [];
    const rows = await this.guard(() => this.repo.similar(similarityExpression(terms), indexed.rowid, limit, this.candidates));
    return rows.map((row) => ({
      prompt: row.prompt,
      score: row.selfScore > 0 ? Math.min(1, Math.max(0, row.score / row.selfScore)) : 0,
    }));
  }

  /** The last line of defence: the parser should make every expression valid, but SQLite has the final word. */
  private async guard<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof MatchExpressionError) {
        throw badInput("query", "query could not be run as a full-text search; simplify it (words, \"phrases\", prefix*, -exclusions)");
      }
      throw error;
    }
  }
}

function decodeOffset(after: string, ranking: string): number {
  const cursor = decodeCursor(after);
  if (cursor.r !== ranking || typeof cursor.o !== "number" || !Number.isInteger(cursor.o) || cursor.o < 0) {
    throw badInput("after", "after is a cursor from another search; start again without it");
  }
  return cursor.o;
}
