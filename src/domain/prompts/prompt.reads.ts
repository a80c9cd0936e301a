import type { SyncReader } from "../../db/sync-reader.js";
import type { LabelRecord } from "./label.repository.js";
import type { PromptType } from "./prompt.logic.js";
import { toVersion, type PromptVersionRecord, type VersionRow } from "./prompt.repository.js";

// The batched reads behind Prompt's relation fields (prompt.loaders.ts), as prepared statements:
// a page of 100 prompts reads a few hundred rows, which Prisma maps at a cost of milliseconds.
// Ids travel as one JSON array, so each statement is prepared once whatever the batch size.
const TAGS = "SELECT promptId, tag FROM PromptTag WHERE promptId IN (SELECT value FROM json_each(?)) ORDER BY promptId, tag";
const LABELS =
  "SELECT promptId, name, versionNumber, updatedAt, updatedBy FROM PromptLabel WHERE promptId IN (SELECT value FROM json_each(?)) ORDER BY promptId, name";
const VERSIONS_BY_KEYS = `
  SELECT v.*, p.type AS type FROM json_each(?) k
  JOIN PromptVersion v ON v.promptId = json_extract(k.value, '$[0]') AND v.number = json_extract(k.value, '$[1]')
  JOIN Prompt p ON p.id = v.promptId`;
const VERSION_PAGES = `
  SELECT * FROM (
    SELECT v.*, p.type AS type, ROW_NUMBER() OVER (PARTITION BY v.promptId ORDER BY v.number DESC) AS rn
    FROM PromptVersion v JOIN Prompt p ON p.id = v.promptId
    WHERE v.promptId IN (SELECT value FROM json_each(?)) AND v.number < ?
  ) WHERE rn <= ?
  ORDER BY promptId, number DESC`;

type VersionWithType = Omit<VersionRow, "createdAt"> & { createdAt: string; type: string };
const version = (row: VersionWithType) => toVersion({ ...row, createdAt: new Date(row.createdAt) }, row.type as PromptType);

/** Same answers as the repositories' Prisma reads of the same name (outside transactions). */
export class PromptReads {
  constructor(private readonly reader: SyncReader) {}

  tagsByPromptIds(ids: readonly string[]): Map<string, string[]> {
    const byPrompt = new Map<string, string[]>(ids.map((id) => [id, []]));
    for (const row of this.reader.all<{ promptId: string; tag: string }>(TAGS, JSON.stringify(ids))) byPrompt.get(row.promptId)?.push(row.tag);
    return byPrompt;
  }

  labelsByPromptIds(ids: readonly string[]): Map<string, LabelRecord[]> {
    const byPrompt = new Map<string, LabelRecord[]>(ids.map((id) => [id, []]));
    for (const row of this.reader.all<Omit<LabelRecord, "updatedAt"> & { updatedAt: string }>(LABELS, JSON.stringify(ids))) {
      byPrompt.get(row.promptId)?.push({ ...row, updatedAt: new Date(row.updatedAt) });
    }
    return byPrompt;
  }

  versionsByKeys(keys: readonly { promptId: string; number: number }[]): PromptVersionRecord[] {
    if (keys.length === 0) return [];
    return this.reader.all<VersionWithType>(VERSIONS_BY_KEYS, JSON.stringify(keys.map((k) => [k.promptId, k.number]))).map(version);
  }

  versionPages(promptIds: readonly string[], limit: number, beforeNumber: number | undefined): Map<string, PromptVersionRecord[]> {
    const pages = new Map<string, PromptVersionRecord[]>(promptIds.map((id) => [id, []]));
    if (promptIds.length === 0) return pages;
    const rows = this.reader.all<VersionWithType>(VERSION_PAGES, JSON.stringify(promptIds), beforeNumber ?? Number.MAX_SAFE_INTEGER, limit);
    for (const row of rows) pages.get(row.promptId)?.push(version(row));
    return pages;
  }
}
