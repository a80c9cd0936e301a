// The inputs and results of PromptService: plain data, shared by GraphQL, bulk jobs and imports.
import type { ContentInput, PromptType } from "./prompt.logic.js";
import type { ArchiveFilter, PromptOrderField, PromptRecord, PromptVersionRecord, SortDirection } from "./prompt.repository.js";

export interface PromptRef {
  id?: string | null;
  name?: string | null;
}

export interface CreatePromptCommand extends ContentInput {
  name: string;
  /** Start from this prompt's latest version and metadata (given fields override), recorded as DERIVED_FROM. */
  copyFrom?: PromptRef | null;
  description?: string | null;
  category?: string | null;
  tags?: string[] | null;
  type?: PromptType | null;
  config?: unknown;
  commitMessage?: string | null;
  author?: string | null;
}

export interface UpdatePromptCommand extends ContentInput {
  description?: string | null;
  category?: string | null;
  tags?: string[] | null;
  config?: unknown;
  commitMessage?: string | null;
  author?: string | null;
  /** The latest version number the caller based its change on; CONFLICT if it moved since. */
  expectedVersion?: number | null;
}

export interface ListPromptsQuery {
  first?: number | null;
  after?: string | null;
  tags?: string[] | null;
  category?: string | null;
  folder?: string | null;
  archived?: ArchiveFilter | null;
  orderBy?: PromptOrderField | null;
  direction?: SortDirection | null;
}

/** Who acts, and label moves that must land in the same transaction as the update. */
export interface UpdateOptions {
  actor?: string | null;
  /** Labels to point at the resulting latest version (new or unchanged). */
  moveLabels?: { labels: string[]; reason: string | null };
}

export interface UpdateResult {
  prompt: PromptRecord;
  /** The version this update created, or null when content and config were unchanged. */
  version: PromptVersionRecord | null;
}

export interface ServiceLimits {
  maxContentBytes: number;
}
