// How a new version row is made from validated content: one place for create, update,
// bulk creation and import, so hashes and variables are computed the same way everywhere.
import { randomUUID } from "node:crypto";
import {
  LIMITS,
  contentHash,
  extractVariables,
  optionalText,
  serializeContent,
  type JsonObject,
  type PromptContent,
} from "./prompt.logic.js";
import type { NewVersion, PromptVersionRecord } from "./prompt.repository.js";

export function buildVersion(
  number: number,
  content: PromptContent,
  config: JsonObject,
  meta: { commitMessage?: string | null; author?: string | null; createdAt?: Date },
  now: Date,
): NewVersion {
  return {
    id: randomUUID(),
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
