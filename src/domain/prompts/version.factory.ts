// How new prompt and version rows are made from validated input: one place for create,
// update, bulk creation and import, so ids, hashes and variables are made the same way everywhere.
import { newId } from "../shared/ids.js";
import {
  LIMITS,
  contentHash,
  extractVariables,
  optionalText,
  serializeContent,
  type JsonObject,
  type PromptContent,
} from "./prompt.logic.js";
import type { NewVersion, PromptRecord, PromptVersionRecord } from "./prompt.repository.js";

/** A new prompt row (version 1 unless `latestVersionNumber` says otherwise). */
export function newPrompt(
  fields: Pick<PromptRecord, "name" | "type" | "description" | "category"> & Partial<Pick<PromptRecord, "latestVersionNumber" | "createdAt" | "archivedAt">>,
  now: Date,
): PromptRecord {
  return { id: newId(), latestVersionNumber: 1, createdAt: now, archivedAt: null, ...fields, updatedAt: now };
}

export function buildVersion(
  number: number,
  content: PromptContent,
  config: JsonObject,
  meta: { commitMessage?: string | null; author?: string | null; createdAt?: Date },
  now: Date,
): NewVersion {
  return {
    id: newId(),
    number,
    content: serializeContent(content),
    config: JSON.stringify(config),
    variables: JSON.stringify(extractVariables(content)),
    commitMessage: optionalText(meta.commitMessage, "commitMessage", LIMITS.commitMessageLength) ?? null,
    author: optionalText(meta.author, "author", LIMITS.authorLength) ?? null,
    contentHash: contentHash(content, config),
    createdAt: meta.createdAt ?? now,
  };
}

/** The record a caller gets back for a row it has just written. */
export function versionRecordOf(promptId: string, row: NewVersion, content: PromptContent, config: JsonObject): PromptVersionRecord {
  return {
    id: row.id,
    promptId,
    number: row.number,
    content,
    config,
    variables: extractVariables(content),
    commitMessage: row.commitMessage,
    author: row.author,
    contentHash: row.contentHash,
    createdAt: row.createdAt,
  };
}
