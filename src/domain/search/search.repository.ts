// Every query shape of search: the FTS5 table PromptSearch (prisma/migrations/*_prompt_search),
// kept current by triggers, whose rowid is the Prompt row's rowid. One statement per search
// page, bound parameters only: expressions come from search.logic.ts and still travel as values.
import { Prisma } from "../../generated/prisma/client.js";
import type { Db } from "../../db/client.js";
import type { SyncReader } from "../../db/sync-reader.js";
import type { PromptType } from "../prompts/prompt.logic.js";
import type { PromptFilter, PromptRecord } from "../prompts/prompt.repository.js";
import { HIGHLIGHT_CLOSE, HIGHLIGHT_OPEN, SEARCH_COLUMNS, type SearchColumn } from "./search.logic.js";

/** bm25 weights per column (table order): a hit in the name or a tag counts most, then description, then content. */
export const COLUMN_WEIGHTS: Record<SearchColumn, number> = { name: 10, description: 4, tags: 10, content: 1 };

/** Tokens of context around the matches in a snippet (FTS5 allows up to 64). */
const SNIPPET_TOKENS = 16;
const MAX_ROWID = Prisma.raw("9223372036854775807");

export interface SearchRow {
  prompt: PromptRecord;
  /** -bm25 with COLUMN_WEIGHTS: higher is better. */
  score: number;
  /** The column with the largest weighted share of the score; the snippet is taken from it. */
  column: SearchColumn;
  /** Snippet text with HIGHLIGHT_OPEN / HIGHLIGHT_CLOSE around the matches. */
  snippet: string;
}

export interface SimilarRow {
  prompt: PromptRecord;
  /** -bm25 of the prompt for the similarity expression. */
  score: number;
  /** The same for the prompt the others are compared with. */
  selfScore: number;
}

/** SQLite rejected a MATCH expression: the expression is at fault, not the database. */
export class MatchExpressionError extends Error {}

const weights = (only?: number) =>
  SEARCH_COLUMNS.map((column, i) => (only === undefined || only === i ? COLUMN_WEIGHTS[column] : 0).toFixed(1)).join(", ");
// Constant SQL built from the weights above, never from input.
const BM25 = Prisma.raw(`bm25(PromptSearch, ${weights()})`);
/** One single-column bm25 per column, as b0, b1, ... (lower is better). */
const COLUMN_BM25 = Prisma.raw(SEARCH_COLUMNS.map((_, i) => `bm25(PromptSearch, ${weights(i)}) AS b${i}`).join(", "));
const COLUMN_SCORES = SEARCH_COLUMNS.map((_, i) => `b${i}`);
/** Index of the column with the lowest (best) single-column bm25; ties go to the first. */
const BEST_COLUMN = Prisma.raw(
  `CASE min(${COLUMN_SCORES.join(", ")}) ${COLUMN_SCORES.slice(0, -1)
    .map((score, i) => `WHEN ${score} THEN ${i}`)
    .join(" ")} ELSE ${COLUMN_SCORES.length - 1} END`,
);
const MARKERS = Prisma.raw(`char(${HIGHLIGHT_OPEN.codePointAt(0)}), char(${HIGHLIGHT_CLOSE.codePointAt(0)})`);

const PROMPT_COLUMNS = Prisma.raw(
  "p.id, p.name, p.description, p.category, p.type, p.latestVersionNumber, p.createdAt, p.updatedAt, p.archivedAt",
);

type PromptRow = {
  id: string;
  name: string;
  description: string | null;
  category: string | null;
  type: string;
  latestVersionNumber: number | bigint;
  createdAt: Date | string;
  updatedAt: Date | string;
  archivedAt: Date | string | null;
};

const toDate = (value: Date | string | number) => (value instanceof Date ? value : new Date(value));

function toPrompt(row: PromptRow): PromptRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    category: row.category,
    type: row.type as PromptType,
    latestVersionNumber: Number(row.latestVersionNumber),
    createdAt: toDate(row.createdAt),
    updatedAt: toDate(row.updatedAt),
    archivedAt: row.archivedAt === null ? null : toDate(row.archivedAt),
  };
}

export class SearchRepository {
  constructor(
    private readonly db: Db,
    /** Runs the statements as prepared ones on the read-only connection (Prisma's cost per statement is most of a rare query's). */
    private readonly reader?: SyncReader,
  ) {}

  /** One page of ranked matches with their snippets: see searchStatement. */
  async search(expression: string, filter: PromptFilter, limit: number, offset: number, candidates: number): Promise<SearchRow[]> {
    const rows = await this.match<(PromptRow & { score: number; col: number | bigint; snippet: string })[]>(
      searchStatement(expression, filter, limit, offset, candidates),
    );
    return rows.map((row) => ({
      prompt: toPrompt(row),
      score: Number(row.score),
      column: SEARCH_COLUMNS[Number(row.col)] ?? "content",
      snippet: row.snippet ?? "",
    }));
  }

  /** How many prompts the ranking considers for this expression and filter (at most `candidates`). */
  async count(expression: string, filter: PromptFilter, candidates: number): Promise<number> {
    const [row] = await this.match<{ n: number | bigint }[]>(Prisma.sql`
      SELECT count(*) AS n
      FROM (${newestMatches(expression, candidates)}) AS c CROSS JOIN Prompt p ON p.rowid = c.rid
      WHERE ${filterSql(filter)}`);
    return Number(row?.n ?? 0);
  }

  /** The indexed (latest) content of a prompt, as its FTS row holds it. */
  async indexedContent(promptId: string): Promise<{ rowid: bigint; content: string } | null> {
    const [row] = await this.db.$queryRaw<{ rid: number | bigint; content: string }[]>`
      SELECT rowid AS rid, content FROM PromptSearch WHERE rowid = (SELECT rowid FROM Prompt WHERE id = ${promptId})`;
    return row ? { rowid: BigInt(row.rid), content: row.content ?? "" } : null;
  }

  /**
   * In how many prompts' content each term occurs, from the fts5vocab table. The VALUES join
   * makes every term an equality lookup (an IN list would scan the whole vocabulary); each
   * lookup still reads that term's doclist, so callers keep the list short.
   */
  async contentDocumentFrequencies(terms: readonly string[]): Promise<Map<string, number>> {
    const frequencies = new Map<string, number>();
    if (terms.length === 0) return frequencies;
    const values = Prisma.join(terms.map((term) => Prisma.sql`(${term})`));
    const rows = await this.db.$queryRaw<{ term: string; doc: number | bigint }[]>`
      WITH wanted(term) AS (VALUES ${values})
      SELECT v.term AS term, v.doc AS doc
      FROM wanted JOIN PromptSearchVocab v ON v.term = wanted.term
      WHERE v.col = 'content'`;
    for (const row of rows) frequencies.set(row.term, Number(row.doc));
    return frequencies;
  }

  /** About how many prompts are indexed: the largest rowid (one B-tree descent; a count(*) reads every row). */
  async documentCount(): Promise<number> {
    const [row] = await this.db.$queryRaw<{ n: number | bigint | null }[]>`SELECT max(rowid) AS n FROM Prompt`;
    return Number(row?.n ?? 0);
  }

  /**
   * Active prompts other than `selfRowid` ranked for the expression (newest `candidates` matches
   * only), each with the score the prompt itself gets for it, computed in the same statement.
   */
  async similar(expression: string, selfRowid: bigint, limit: number, candidates: number): Promise<SimilarRow[]> {
    // Rowids are compared as INTEGERs: FTS5 ignores a rowid constraint whose value is a REAL,
    // which is how a driver may bind a JavaScript number.
    const rows = await this.match<(PromptRow & { score: number; selfScore: number | null })[]>(Prisma.sql`
      WITH candidate AS MATERIALIZED (${newestMatches(expression, candidates, Prisma.sql`, -bm25(PromptSearch) AS score`)})
      SELECT ${PROMPT_COLUMNS}, c.score,
             (SELECT -bm25(PromptSearch) FROM PromptSearch
              WHERE PromptSearch MATCH ${expression} AND rowid = CAST(${selfRowid} AS INTEGER)) AS selfScore
      FROM candidate c CROSS JOIN Prompt p ON p.rowid = c.rid
      WHERE c.rid <> CAST(${selfRowid} AS INTEGER) AND p.archivedAt IS NULL
      ORDER BY c.score DESC, c.rid DESC
      LIMIT ${limit}`);
    return rows.map((row) => ({ prompt: toPrompt(row), score: Number(row.score), selfScore: Number(row.selfScore ?? 0) }));
  }

  /** Runs a MATCH statement; SQLite's complaints about the expression become MatchExpressionError. */
  private async match<T>(query: Prisma.Sql): Promise<T> {
    try {
      // Prisma.sql renders SQLite placeholders (?) and keeps the values in order.
      return this.reader ? (this.reader.all(query.sql, ...query.values) as T) : await this.db.$queryRaw<T>(query);
    } catch (error) {
      if (isMatchError(error)) throw new MatchExpressionError((error as Error).message);
      throw error;
    }
  }
}

/**
 * The `candidates` newest matches of an expression (by rowid, i.e. creation order), as `rid`
 * plus `columns`, which may call FTS5's auxiliary functions. FTS5 walks the doclists newest first
 * and stops after `candidates` rows, so a term found in every prompt costs that many rows, not
 * the table. Filters apply after this, so they narrow the candidates, never widen them.
 */
function newestMatches(expression: string, candidates: number, columns: Prisma.Sql = Prisma.empty): Prisma.Sql {
  return Prisma.sql`SELECT PromptSearch.rowid AS rid${columns} FROM PromptSearch
    WHERE PromptSearch MATCH ${expression} ORDER BY PromptSearch.rowid DESC LIMIT ${candidates}`;
}

/**
 * The statement behind SearchRepository.search (exported so that the benchmark runs exactly it).
 *
 * FTS5's bm25() first counts, once per cursor, every row in the table that matches each phrase
 * of the query (for the IDF): a walk of each phrase's whole doclist, which for a word or phrase
 * found in every prompt costs more than all the rest (at 100,000 prompts, 12 of the 15 ms of
 * `"reply in the customer"`). So bm25 runs on one cursor only: the
 * candidates pass computes the score and the single-column scores (for the best column) of every
 * candidate in one go. The page keeps only rowids, scores and columns (its sorter sees every
 * candidate that passes the filter); the Prompt columns are read for the page's rows only. The
 * snippet needs an FTS5 cursor on the row too, but snippet() reads no IDF: a second cursor
 * computes it for the page's rows only, walking just the rowid range the page spans.
 * `CROSS JOIN` keeps the FTS5 side as the outer loop: given a tag or category filter, SQLite
 * would otherwise start from that index and re-run the MATCH once per prompt (5 ms became
 * 130-1500 ms at 100k prompts).
 */
export function searchStatement(expression: string, filter: PromptFilter, limit: number, offset: number, candidates: number): Prisma.Sql {
  return Prisma.sql`
    WITH candidate AS (${newestMatches(expression, candidates, Prisma.sql`, -${BM25} AS score, ${COLUMN_BM25}`)}),
    page AS MATERIALIZED (
      SELECT c.rid, c.score, ${BEST_COLUMN} AS col
      FROM candidate c CROSS JOIN Prompt p ON p.rowid = c.rid
      WHERE ${filterSql(filter)}
      ORDER BY c.score DESC, c.rid DESC
      LIMIT ${limit} OFFSET ${offset}
    )
    SELECT page.score, page.col, ${PROMPT_COLUMNS},
           snippet(PromptSearch, page.col, ${MARKERS}, '…', ${SNIPPET_TOKENS}) AS snippet
    FROM PromptSearch CROSS JOIN page CROSS JOIN Prompt p ON p.rowid = page.rid
    WHERE PromptSearch MATCH ${expression}
      AND PromptSearch.rowid BETWEEN coalesce((SELECT min(rid) FROM page), ${MAX_ROWID}) AND coalesce((SELECT max(rid) FROM page), 0)
      AND +PromptSearch.rowid = page.rid
    ORDER BY page.score DESC, page.rid DESC`;
}

/**
 * FTS5 reports a bad expression as an SQLITE_ERROR whose message names the problem; the
 * message is all the driver passes on. Busy, I/O and constraint errors never match these.
 */
function isMatchError(error: unknown): boolean {
  const message = error instanceof Error ? error.message : String(error);
  return /fts5: |unterminated string|no such column: |unknown special query/i.test(message);
}

/** The listing filter as SQL over `p` (Prompt), all values bound. */
function filterSql(filter: PromptFilter): Prisma.Sql {
  const parts: Prisma.Sql[] = [Prisma.sql`1 = 1`];
  if (filter.archived === "ACTIVE") parts.push(Prisma.sql`p.archivedAt IS NULL`);
  if (filter.archived === "ARCHIVED") parts.push(Prisma.sql`p.archivedAt IS NOT NULL`);
  if (filter.category !== undefined) parts.push(Prisma.sql`p.category = ${filter.category}`);
  // The same index-friendly range as the listing: 0x7f sorts after every character of a name.
  if (filter.folder !== undefined) parts.push(Prisma.sql`p.name >= ${filter.folder} AND p.name < ${`${filter.folder}\u007f`}`);
  for (const tag of filter.tags ?? []) {
    parts.push(Prisma.sql`EXISTS (SELECT 1 FROM PromptTag t WHERE t.promptId = p.id AND t.tag = ${tag})`);
  }
  return Prisma.join(parts, " AND ");
}
