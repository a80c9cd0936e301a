// The rules of a prompt listing, shared by the prompts query, export, bulk selection and search.
import { badInput } from "../../errors.js";
import { decodeCursor, encodeCursor } from "../shared/pagination.js";
import { normalizeFolder, validateTags } from "./prompt.logic.js";
import type { ArchiveFilter, PromptFilter, PromptKey, PromptOrderField, PromptRecord, SortDirection } from "./prompt.repository.js";

export interface FilterInput {
  tags?: string[] | null;
  category?: string | null;
  folder?: string | null;
  archived?: ArchiveFilter | null;
}

/** Validates and normalizes a filter: active prompts by default, folders with a trailing "/". */
export function normalizeFilter(query: FilterInput): PromptFilter {
  return {
    archived: query.archived ?? "ACTIVE",
    category: query.category ?? undefined,
    folder: query.folder != null ? normalizeFolder(query.folder) : undefined,
    tags: query.tags != null ? validateTags(query.tags, "filter.tags") : undefined,
  };
}

export function encodePromptCursor(p: PromptRecord, order: PromptOrderField, direction: SortDirection): string {
  return encodeCursor({ o: order, d: direction, n: p.name, u: p.updatedAt.toISOString(), i: p.id });
}

/** The position a cursor encodes; BAD_USER_INPUT when it came from a listing in another order. */
export function decodePromptCursor(after: string, order: PromptOrderField, direction: SortDirection): PromptKey {
  const c = decodeCursor(after);
  if (c.o !== order || c.d !== direction || typeof c.n !== "string" || typeof c.u !== "string" || typeof c.i !== "string") {
    throw badInput("after", "after is a cursor from a listing with another order; start again without it");
  }
  return { name: c.n, updatedAt: new Date(c.u), id: c.i };
}
