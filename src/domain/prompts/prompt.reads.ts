import type { SyncReader } from "../../db/sync-reader.js";
import type { IncludeEdge } from "./include-graph.js";
import type { LabelRecord } from "./label.repository.js";
import { sqlDate } from "../../db/sync-writer.js";
import type { PromptType } from "./prompt.logic.js";
import { bySpan, spansJson, type VersionSpan } from "./version-span.js";
import { toVersion, type PromptFilter, type VersionKey, type PromptKey, type PromptOrderField, type PromptRecord, type PromptVersionRecord, type SortDirection, type VersionRow } from "./prompt.repository.js";

// The batched reads behind Prompt's relation fields (prompt.loaders.ts), as prepared statements:
// a page of 100 prompts reads a few hundred rows, which Prisma maps at a cost of milliseconds.
// Ids travel as one JSON array, so each statement is prepared once whatever the batch size.
const TAGS = "SELECT promptId, tag FROM PromptTag WHERE promptId IN (SELECT value FROM json_each(?)) ORDER BY promptId, tag";
const LABELS =
  "SELECT promptId, name, versionNumber, updatedAt, updatedBy FROM PromptLabel WHERE promptId IN (SELECT value FROM json_each(?)) ORDER BY promptId, name";
// A key may bring its prompt's type (a prompt's type never changes): coalesce() then reads no
// Prompt row for it (a page of 100 latest versions: 0.47 ms against 0.67 in-process).
const VERSIONS_BY_KEYS = `
  SELECT v.*, coalesce(k.value ->> 2, (SELECT p.type FROM Prompt p WHERE p.id = v.promptId)) AS type FROM json_each(?) k
  JOIN PromptVersion v ON v.promptId = k.value ->> 0 AND v.number = k.value ->> 1`;
// The versions from..to of each span (version-span.ts): one index range each, no sort (a page
// of 100 prompts' newest five: 1.30 ms, against 1.45 ms for the newest-first page from an
// OFFSET subquery per prompt plus 0.55 ms for their latest versions on their own).
const VERSION_RANGES = `
  SELECT v.*, k.key AS span, k.value ->> 3 AS type FROM json_each(?) k
  JOIN PromptVersion v ON v.promptId = k.value ->> 0 AND v.number BETWEEN k.value ->> 1 AND k.value ->> 2`;

/** The Prompt columns every raw read of a prompt selects (what toPromptRecord maps). */
export const PROMPT_COLUMNS = "id, name, description, category, type, latestVersionNumber, createdAt, updatedAt, archivedAt";
export type PromptRow = Omit<PromptRecord, "type" | "createdAt" | "updatedAt" | "archivedAt"> & { type: string; createdAt: string; updatedAt: string; archivedAt: string | null };
/** A Prompt row read with better-sqlite3 (dates as text) as a record. */
export const toPromptRecord = (row: PromptRow): PromptRecord => ({
  ...row,
  type: row.type as PromptType,
  createdAt: new Date(row.createdAt),
  updatedAt: new Date(row.updatedAt),
  archivedAt: row.archivedAt === null ? null : new Date(row.archivedAt),
});

const PROMPTS_BY_IDS = `SELECT ${PROMPT_COLUMNS} FROM Prompt WHERE id IN (SELECT value FROM json_each(?))`;
const PROMPTS_BY_NAMES = `SELECT ${PROMPT_COLUMNS} FROM Prompt WHERE name IN (SELECT value FROM json_each(?))`;
// In the primary key's order (promptId, includedId), as Prisma's reads come back on that index.
const INCLUDES_FROM = "SELECT promptId, includedId, selector FROM PromptInclude WHERE promptId IN (SELECT value FROM json_each(?)) ORDER BY promptId, includedId";
const INCLUDED_BY = "SELECT promptId, includedId FROM PromptInclude WHERE includedId IN (SELECT value FROM json_each(?)) ORDER BY promptId, includedId";
const LABEL_HISTORY_COUNT = "SELECT count(*) AS n FROM PromptLabelEvent WHERE promptId = ?";
const LABEL = "SELECT promptId, name, versionNumber, updatedAt, updatedBy FROM PromptLabel WHERE promptId = ? AND name = ?";
type LabelRow = Omit<LabelRecord, "updatedAt"> & { updatedAt: string };
const PROMPT_BY_ID = `SELECT ${PROMPT_COLUMNS} FROM Prompt WHERE id = ?`;
const PROMPT_BY_NAME = `SELECT ${PROMPT_COLUMNS} FROM Prompt WHERE name = ?`;
// A prompt and its latest version in one statement (the update path): one read transaction
// instead of two. Every commit empties this connection's page cache, so under edits each read
// transaction starts cold (in-process, with a commit every 8 reads: 52-55 µs against 62-74 µs
// for the two statements).
const WITH_LATEST = (column: "id" | "name") => `
  SELECT p.id, p.name, p.description, p.category, p.type, p.latestVersionNumber, p.createdAt, p.updatedAt, p.archivedAt,
         v.id AS v_id, v.content AS v_content, v.config AS v_config, v.variables AS v_variables,
         v.commitMessage AS v_commitMessage, v.author AS v_author, v.contentHash AS v_contentHash, v.createdAt AS v_createdAt
  FROM Prompt p LEFT JOIN PromptVersion v ON v.promptId = p.id AND v.number = p.latestVersionNumber
  WHERE p.${column} = ?`;
const PROMPT_WITH_LATEST_BY_ID = WITH_LATEST("id");
const PROMPT_WITH_LATEST_BY_NAME = WITH_LATEST("name");
type WithLatestRow = PromptRow & {
  v_id: string | null;
  v_content: string;
  v_config: string;
  v_variables: string;
  v_commitMessage: string | null;
  v_author: string | null;
  v_contentHash: string;
  v_createdAt: string;
};

type VersionWithType = Omit<VersionRow, "createdAt"> & { createdAt: string; type: string };
const version = (row: VersionWithType) => toVersion({ ...row, createdAt: new Date(row.createdAt) }, row.type as PromptType);

/** The WHERE terms (from constant pieces; values bound) of a prompt filter, as PromptRepository's `where`. */
function filterSql(filter: PromptFilter): { where: string[]; params: unknown[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.archived === "ACTIVE") where.push("archivedAt IS NULL");
  if (filter.archived === "ARCHIVED") where.push("archivedAt IS NOT NULL");
  if (filter.category !== undefined) {
    where.push("category = ?");
    params.push(filter.category);
  }
  if (filter.folder !== undefined) {
    where.push("name >= ? AND name < ?");
    params.push(filter.folder, `${filter.folder}\u007f`);
  }
  for (const tag of filter.tags ?? []) {
    where.push("EXISTS (SELECT 1 FROM PromptTag t WHERE t.promptId = Prompt.id AND t.tag = ?)");
    params.push(tag);
  }
  return { where, params };
}

/** Same answers as the repositories' Prisma reads of the same name (outside transactions). */
export class PromptReads {
  constructor(private readonly reader: SyncReader) {}

  /**
   * A page of prompts, as PromptRepository.list: the same filter, order and position. The SQL is
   * built from constant pieces (values are bound), one shape per combination of filters.
   */
  list(filter: PromptFilter, order: PromptOrderField, direction: SortDirection, limit: number, after?: PromptKey): PromptRecord[] {
    const { where, params } = filterSql(filter);
    const cmp = direction === "ASC" ? ">" : "<";
    const dir = direction === "ASC" ? "ASC" : "DESC";
    if (after && order === "NAME") {
      where.push(`name ${cmp} ?`);
      params.push(after.name);
    } else if (after) {
      where.push(`(updatedAt ${cmp} ? OR (updatedAt = ? AND id ${cmp} ?))`);
      params.push(sqlDate(after.updatedAt), sqlDate(after.updatedAt), after.id);
    }
    const orderBy = order === "NAME" ? `name ${dir}` : `updatedAt ${dir}, id ${dir}`;
    const sql = `SELECT ${PROMPT_COLUMNS} FROM Prompt ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY ${orderBy} LIMIT ?`;
    return this.reader.all<PromptRow>(sql, ...params, limit).map(toPromptRecord);
  }

  /**
   * How many prompts match, as PromptRepository.count. Through Prisma the count was compiled in
   * wasm again for every connection that selected totalCount (1.1-2.5 ms of the server's thread
   * per request in 617c1a0's measurements).
   */
  count(filter: PromptFilter): number {
    const { where, params } = filterSql(filter);
    return this.reader.get<{ n: number }>(`SELECT count(*) AS n FROM Prompt ${where.length ? `WHERE ${where.join(" AND ")}` : ""}`, ...params)!.n;
  }

  /** One prompt by its id or its (unique) name. */
  findBy(column: "id" | "name", value: string): PromptRecord | null {
    const row = this.reader.get<PromptRow>(column === "id" ? PROMPT_BY_ID : PROMPT_BY_NAME, value);
    return row ? toPromptRecord(row) : null;
  }

  /** One prompt by its id or name, with its latest version (null only if that row is missing). */
  findWithLatest(column: "id" | "name", value: string): { prompt: PromptRecord; latest: PromptVersionRecord | null } | null {
    const row = this.reader.get<WithLatestRow>(column === "id" ? PROMPT_WITH_LATEST_BY_ID : PROMPT_WITH_LATEST_BY_NAME, value);
    if (!row) return null;
    const { v_id, v_content, v_config, v_variables, v_commitMessage, v_author, v_contentHash, v_createdAt, ...promptRow } = row;
    const prompt = toPromptRecord(promptRow);
    const latest =
      v_id === null
        ? null
        : toVersion(
            {
              id: v_id,
              promptId: prompt.id,
              number: prompt.latestVersionNumber,
              content: v_content,
              config: v_config,
              variables: v_variables,
              commitMessage: v_commitMessage,
              author: v_author,
              contentHash: v_contentHash,
              createdAt: new Date(v_createdAt),
            },
            prompt.type,
          );
    return { prompt, latest };
  }

  /** Prompts by id or by name (in no particular order, as Prisma's findMany gives them). */
  byIds(ids: readonly string[]): PromptRecord[] {
    return this.reader.all<PromptRow>(PROMPTS_BY_IDS, JSON.stringify(ids)).map(toPromptRecord);
  }

  byNames(names: readonly string[]): PromptRecord[] {
    return this.reader.all<PromptRow>(PROMPTS_BY_NAMES, JSON.stringify(names)).map(toPromptRecord);
  }

  /** Include edges from many prompts (their dependencies), as PromptRepository.includesFrom. */
  includesFrom(ids: readonly string[]): Map<string, IncludeEdge[]> {
    const byPrompt = new Map<string, IncludeEdge[]>(ids.map((id) => [id, []]));
    for (const row of this.reader.all<{ promptId: string; includedId: string; selector: string | null }>(INCLUDES_FROM, JSON.stringify(ids))) {
      byPrompt.get(row.promptId)?.push({ includedId: row.includedId, selector: row.selector });
    }
    return byPrompt;
  }

  /** The prompts that include each of `ids` (their dependents), as PromptRepository.includedBy. */
  includedBy(ids: readonly string[]): Map<string, string[]> {
    const byPrompt = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (const row of this.reader.all<{ promptId: string; includedId: string }>(INCLUDED_BY, JSON.stringify(ids))) byPrompt.get(row.includedId)?.push(row.promptId);
    return byPrompt;
  }

  /** How many label moves a prompt has had, as LabelRepository.historyCount (labelHistory's totalCount). */
  labelHistoryCount(promptId: string): number {
    return this.reader.get<{ n: number }>(LABEL_HISTORY_COUNT, promptId)!.n;
  }

  label(promptId: string, name: string): LabelRecord | null {
    const row = this.reader.get<LabelRow>(LABEL, promptId, name);
    return row ? { ...row, updatedAt: new Date(row.updatedAt) } : null;
  }

  tagsByPromptIds(ids: readonly string[]): Map<string, string[]> {
    const byPrompt = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (const row of this.reader.all<{ promptId: string; tag: string }>(TAGS, JSON.stringify(ids))) byPrompt.get(row.promptId)?.push(row.tag);
    return byPrompt;
  }

  labelsByPromptIds(ids: readonly string[]): Map<string, LabelRecord[]> {
    const byPrompt = new Map<string, LabelRecord[]>(ids.map((id) => [id, []]));
    for (const row of this.reader.all<LabelRow>(LABELS, JSON.stringify(ids))) {
      byPrompt.get(row.promptId)?.push({ ...row, updatedAt: new Date(row.updatedAt) });
    }
    return byPrompt;
  }

  versionsByKeys(keys: readonly VersionKey[]): PromptVersionRecord[] {
    if (keys.length === 0) return [];
    return this.reader.all<VersionWithType>(VERSIONS_BY_KEYS, JSON.stringify(keys.map((k) => [k.promptId, k.number, k.type ?? null]))).map(version);
  }

  versionRanges(spans: readonly VersionSpan[]): PromptVersionRecord[][] {
    return bySpan(spans.length, this.reader.all<VersionWithType & { span: number }>(VERSION_RANGES, spansJson(spans)), version);
  }
}
