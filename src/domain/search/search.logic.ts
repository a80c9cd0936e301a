// Pure rules of search: the user's query syntax -> an FTS5 MATCH expression, snippet
// highlights, and the choice of a prompt's distinctive terms. No I/O, so each rule has table
// tests (tests/search-logic.test.ts).
//
// Users never write FTS5 syntax. They write this small language, and every word or phrase
// they give becomes an FTS5 string ("...") in the expression we build, so nothing they type
// can be an FTS5 operator, column name or special character:
//
//   welcome customer      both words, anywhere (a space means AND; `AND` may be written too)
//   "exact words"         the words next to each other, in this order
//   welc*                 a word starting with `welc` (at least 2 letters or digits before `*`);
//                         a phrase may end with one too: "dear cust"*
//   -draft                leave out prompts containing the word (or -"a phrase")
//   billing OR invoice    either term; OR binds tighter than AND: `refund billing OR invoice`
//                         is refund AND (billing OR invoice)
//   name:greet            only in that field: name:, description:, tags: (or tag:), content:;
//                         combines with the rest: -tags:draft, content:"dear customer", name:wel*
//
// Matching ignores case and accents; punctuation separates words, so `e-mail` is the phrase
// "e mail" and parentheses have no effect.
import { badInput } from "../../errors.js";

/** The FTS5 columns, in table order: a column's position is its index in bm25() and snippet(). */
export const SEARCH_COLUMNS = ["name", "description", "tags", "content"] as const;
export type SearchColumn = (typeof SEARCH_COLUMNS)[number];

export const QUERY_LIMITS = { length: 500, terms: 32, prefixMinLength: 2 } as const;

export interface SearchTerm {
  /** The user's words (without the quotes and the `*`); tokenized by FTS5 like indexed text. */
  text: string;
  /** True when the user quoted it. Bare words and phrases are both FTS5 phrases; this only documents intent. */
  phrase: boolean;
  /** Matches words that start with the last word of `text`. */
  prefix: boolean;
  /** Restricts the term to one column; null for any column. */
  column: SearchColumn | null;
}

/** A query in conjunctive form: every group must match (one of its terms), no excluded term may. */
export interface ParsedQuery {
  groups: SearchTerm[][];
  excluded: SearchTerm[];
}

const COLUMN_PREFIX = /^(name|description|tags|tag|content):/i;
const WORD_CHAR = /[\p{L}\p{N}]/u;
const PREFIX_TAIL = new RegExp(`[\\p{L}\\p{N}]{${QUERY_LIMITS.prefixMinLength},}$`, "u");
const isSpace = (ch: string | undefined) => ch !== undefined && /\s/u.test(ch);

type Item = { kind: "term"; term: SearchTerm; negated: boolean; at: number } | { kind: "op"; op: "OR" | "AND"; at: number };

const fail = (message: string) => badInput("query", message);

/** Parses the user syntax above; BAD_USER_INPUT (field `query`) for anything malformed. */
export function parseSearchQuery(raw: string): ParsedQuery {
  if (raw.length > QUERY_LIMITS.length) {
    throw fail(`query is too long: at most ${QUERY_LIMITS.length} characters (got ${raw.length})`);
  }
  const items = scan(raw);
  if (items.length === 0) throw fail("query is empty: give at least one word to search for");

  const groups: SearchTerm[][] = [];
  const excluded: SearchTerm[] = [];
  let previous: "positive" | "negative" | "op" | null = null;
  let pendingOr = false;
  for (const item of items) {
    if (item.kind === "op") {
      if (previous === null || previous === "op") throw fail(`${item.op} at position ${item.at + 1} must stand between two terms`);
      if (item.op === "OR" && previous === "negative") {
        throw fail(`an exclusion cannot be part of an OR (position ${item.at + 1}): write the alternatives without -`);
      }
      pendingOr = item.op === "OR";
      previous = "op";
    } else if (item.negated) {
      if (pendingOr) throw fail(`an exclusion cannot be part of an OR (position ${item.at + 1}): write the alternatives without -`);
      excluded.push(item.term);
      previous = "negative";
    } else {
      if (pendingOr) groups.at(-1)!.push(item.term);
      else groups.push([item.term]);
      pendingOr = false;
      previous = "positive";
    }
  }
  const last = items.at(-1)!;
  if (last.kind === "op") throw fail(`${last.op} at position ${last.at + 1} must stand between two terms`);
  if (groups.length === 0) throw fail("query only excludes: add at least one word or phrase to find");
  const termCount = groups.reduce((n, g) => n + g.length, 0) + excluded.length;
  if (termCount > QUERY_LIMITS.terms) throw fail(`query has too many terms: at most ${QUERY_LIMITS.terms} (got ${termCount})`);
  return { groups, excluded };
}

function scan(raw: string): Item[] {
  const items: Item[] = [];
  let i = 0;
  while (i < raw.length) {
    if (isSpace(raw[i])) {
      i++;
      continue;
    }
    const at = i;
    let negated = false;
    if (raw[i] === "-") {
      negated = true;
      i++;
      if (i >= raw.length || isSpace(raw[i])) throw fail(`- at position ${at + 1} must be followed by a word or phrase to exclude`);
    }
    let column: SearchColumn | null = null;
    const columnMatch = COLUMN_PREFIX.exec(raw.slice(i));
    if (columnMatch) {
      const name = columnMatch[1]!.toLowerCase();
      column = name === "tag" ? "tags" : (name as SearchColumn);
      i += columnMatch[0].length;
      if (i >= raw.length || isSpace(raw[i])) {
        throw fail(`${columnMatch[0]} at position ${at + 1} must be followed by a word or phrase, without a space`);
      }
    }
    let text: string;
    let phrase: boolean;
    let prefix = false;
    if (raw[i] === '"') {
      const close = raw.indexOf('"', i + 1);
      if (close < 0) throw fail(`unbalanced quote: the phrase starting at position ${i + 1} is not closed`);
      text = raw.slice(i + 1, close);
      phrase = true;
      i = close + 1;
      if (raw[i] === "*") {
        prefix = true;
        i++;
      }
      if (i < raw.length && !isSpace(raw[i])) throw fail(`put a space after the phrase that ends at position ${i}`);
    } else {
      let end = i;
      while (end < raw.length && !isSpace(raw[end])) end++;
      text = raw.slice(i, end);
      phrase = false;
      i = end;
      if (text.includes('"')) throw fail(`unexpected quote in "${text}": a phrase must start a term, as in "exact words"`);
      if (text.endsWith("*")) {
        prefix = true;
        text = text.slice(0, -1);
      }
      if (!negated && column === null && !prefix && (text === "OR" || text === "AND")) {
        items.push({ kind: "op", op: text, at });
        continue;
      }
    }
    if (text.includes("*")) throw fail(`* is only allowed once, at the end of a word, as in welc* (got ${shown(text, prefix)})`);
    if (!WORD_CHAR.test(text)) throw fail(`${shown(text, prefix, phrase)} has no letters or digits to search for`);
    if (prefix && !PREFIX_TAIL.test(text)) {
      throw fail(`a prefix needs at least ${QUERY_LIMITS.prefixMinLength} letters or digits before * (got ${shown(text, prefix, phrase)})`);
    }
    items.push({ kind: "term", term: { text, phrase, prefix, column }, negated, at });
  }
  return items;
}

const shown = (text: string, prefix: boolean, phrase = false) => (phrase ? `"${text}"` : text) + (prefix ? "*" : "");

/** An FTS5 string literal: the only way user text enters an expression. */
export function fts5String(text: string): string {
  return `"${text.replaceAll('"', '""')}"`;
}

function termExpression(term: SearchTerm): string {
  return `${term.column ? `${term.column}:` : ""}${fts5String(term.text)}${term.prefix ? "*" : ""}`;
}

const anyOf = (terms: SearchTerm[]) =>
  terms.length === 1 ? termExpression(terms[0]!) : `(${terms.map(termExpression).join(" OR ")})`;

/** The FTS5 expression of a parsed query; fully parenthesized, so FTS5's precedence never matters. */
export function toFts5(query: ParsedQuery): string {
  const positive = query.groups.map(anyOf).join(" AND ");
  if (query.excluded.length === 0) return positive;
  return `${query.groups.length > 1 ? `(${positive})` : positive} NOT ${anyOf(query.excluded)}`;
}

export function searchExpression(raw: string): string {
  return toFts5(parseSearchQuery(raw));
}

// ---------------------------------------------------------------------------------------------
// Snippets: FTS5's snippet() is asked to wrap matches in two private-use characters that no
// prompt is expected to contain; stripping them yields the plain text and the ranges.

export const HIGHLIGHT_OPEN = "\uE000";
export const HIGHLIGHT_CLOSE = "\uE001";

export interface TextRange {
  /** Offset in UTF-16 code units (JavaScript string indices). */
  start: number;
  length: number;
}

export interface Highlighted {
  text: string;
  highlights: TextRange[];
}

/** Strips the markers; unbalanced markers (the text itself contained one) are dropped, not trusted. */
export function extractHighlights(marked: string): Highlighted {
  let text = "";
  const highlights: TextRange[] = [];
  let open: number | null = null;
  for (const ch of marked) {
    if (ch === HIGHLIGHT_OPEN) open = text.length;
    else if (ch === HIGHLIGHT_CLOSE) {
      if (open !== null && text.length > open) highlights.push({ start: open, length: text.length - open });
      open = null;
    } else text += ch;
  }
  return { text, highlights };
}

// ---------------------------------------------------------------------------------------------
// Similar prompts: a prompt's most distinctive content terms (TF-IDF), searched with OR.

/** Words too common to say anything about a prompt, skipped before document frequencies are read. */
const STOP_WORDS = new Set(
  (
    "a about above after again all also am an and any are as at be because been before being below between both but by " +
    "can could did do does doing down during each few for from further had has have having he her here hers him his how " +
    "i if in into is it its itself just me more most my no nor not now of off on once only or other our ours out over own " +
    "same she should so some such than that the their theirs them then there these they this those through to too under " +
    "until up very was we were what when where which while who whom why will with would you your yours"
  ).split(" "),
);

/**
 * Folds text roughly like FTS5's `unicode61 remove_diacritics 2` tokenizer (lowercase, accents
 * removed, letters and digits only). Terms it gets wrong are simply absent from the vocabulary.
 */
export function tokenize(text: string): string[] {
  return text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter((token) => token.length > 0);
}

/**
 * Term frequencies of a text, without stop words, one-character words and numbers; only the
 * `limit` most frequent (ties: first seen), since each costs a vocabulary lookup.
 */
export function termFrequencies(text: string, limit = 64): Map<string, number> {
  const counts = new Map<string, number>();
  for (const token of tokenize(text)) {
    if (token.length < 2 || STOP_WORDS.has(token) || /^\p{N}+$/u.test(token)) continue;
    counts.set(token, (counts.get(token) ?? 0) + 1);
  }
  // Map iteration follows first insertion and sort is stable, so ties keep first-seen order.
  return new Map([...counts].sort((a, b) => b[1] - a[1]).slice(0, limit));
}

/**
 * The k terms with the highest tf * ln(N / df). A term must occur in at least one other
 * prompt (df >= 2) to find anything, and one in every prompt (df >= N) tells nothing.
 * Ties go to the alphabetically first term, so the choice is deterministic.
 */
export function pickDistinctiveTerms(
  tf: ReadonlyMap<string, number>,
  df: ReadonlyMap<string, number>,
  totalDocs: number,
  k = 12,
): string[] {
  const scored: { term: string; score: number }[] = [];
  for (const [term, frequency] of tf) {
    const docs = df.get(term) ?? 0;
    if (docs < 2 || docs >= totalDocs) continue;
    scored.push({ term, score: frequency * Math.log(totalDocs / docs) });
  }
  scored.sort((a, b) => b.score - a.score || (a.term < b.term ? -1 : a.term > b.term ? 1 : 0));
  return scored.slice(0, k).map((s) => s.term);
}

/** Any of the terms, in the content column only. */
export function similarityExpression(terms: readonly string[]): string {
  return `content:(${terms.map(fts5String).join(" OR ")})`;
}
