// What one item of each kind does, through the same services as GraphQL, bound to the
// chunk's transaction. A handler returns the outcome or throws an AppError (the item fails).
import { AppError, badInput, type ErrorCode } from "../../errors.js";
import type { ConflictMode, ImportService } from "../prompts/import.service.js";
import type { LabelService } from "../prompts/label.service.js";
import type { CreatePromptCommand, PromptRef } from "../prompts/prompt.commands.js";
import type { PromptService } from "../prompts/prompt.service.js";
import { validateTags } from "../prompts/prompt.logic.js";
import type { BulkKind, ItemStatus } from "./bulk.repository.js";

export interface BoundServices {
  prompts: PromptService;
  labels: LabelService;
  importer: ImportService;
  actor: string | null;
}

export interface HandlerResult {
  status: Extract<ItemStatus, "SUCCEEDED" | "SKIPPED">;
  result: Record<string, unknown>;
}

type Handler = (item: Record<string, unknown>, params: Record<string, unknown>, s: BoundServices) => Promise<HandlerResult>;

const done = (result: Record<string, unknown>): HandlerResult => ({ status: "SUCCEEDED", result });
const skipped = (reason: string, result: Record<string, unknown> = {}): HandlerResult => ({ status: "SKIPPED", result: { reason, ...result } });

function refOf(item: Record<string, unknown>): PromptRef {
  const ref = item.prompt;
  if (ref === null || typeof ref !== "object") throw badInput("prompt", "the item needs prompt: {id} or {name}");
  const { id, name } = ref as { id?: unknown; name?: unknown };
  return { id: typeof id === "string" ? id : null, name: typeof name === "string" ? name : null };
}

function contentFields(item: Record<string, unknown>) {
  const { content, ...rest } = item;
  if (content !== undefined && content !== null && typeof content !== "string") throw badInput("content", "content must be a string");
  return { ...rest, text: content as string | null | undefined };
}

/** A CREATE_PROMPTS item as the service's command (GraphQL's `content` is the service's `text`). */
export function toCreateCommand(item: Record<string, unknown>): CreatePromptCommand {
  return contentFields(item) as unknown as CreatePromptCommand;
}

export const HANDLERS: Record<BulkKind, Handler> = {
  async CREATE_PROMPTS(item, _params, s) {
    if (typeof item.name !== "string") throw badInput("name", "the item needs a name");
    const { prompt } = await s.prompts.create(toCreateCommand(item), s.actor);
    return done({ promptId: prompt.id, name: prompt.name, version: 1 });
  },

  async UPDATE_PROMPTS(item, _params, s) {
    const { prompt: _ref, ...changes } = item;
    const result = await s.prompts.update(refOf(item), contentFields(changes) as Parameters<PromptService["update"]>[1], { actor: s.actor });
    return result.version
      ? done({ promptId: result.prompt.id, version: result.version.number })
      : skipped("no change", { promptId: result.prompt.id });
  },

  async DELETE_PROMPTS(item, _params, s) {
    const prompt = await s.prompts.delete(refOf(item));
    return done({ promptId: prompt.id, name: prompt.name });
  },

  async ARCHIVE_PROMPTS(item, _params, s) {
    const before = await s.prompts.get(refOf(item));
    if (before.archivedAt) return skipped("already archived", { promptId: before.id });
    await s.prompts.archive({ id: before.id });
    return done({ promptId: before.id });
  },

  async ADD_TAGS(item, params, s) {
    return retag(item, params, s, (current, tags) => [...new Set([...current, ...tags])]);
  },

  async REMOVE_TAGS(item, params, s) {
    return retag(item, params, s, (current, tags) => current.filter((t) => !tags.includes(t)));
  },

  async SET_LABEL(item, params, s) {
    const prompt = await s.prompts.get(refOf(item));
    const label = String(params.label);
    const version = typeof item.version === "number" ? item.version : typeof params.version === "number" ? params.version : prompt.latestVersionNumber;
    const current = await s.labels.labelRepository.find(prompt.id, label);
    if (current?.versionNumber === version) return skipped("already there", { promptId: prompt.id, version });
    await s.labels.setLabel({ id: prompt.id }, label, version, typeof params.reason === "string" ? params.reason : "bulk operation", s.actor);
    return done({ promptId: prompt.id, version });
  },

  async IMPORT(item, params, s) {
    const [outcome] = await s.importer.import(
      { format: "prompt-store.export", formatVersion: 1, prompts: [item] },
      (params.onConflict as ConflictMode | undefined) ?? "SKIP",
      s.actor,
    );
    if (!outcome) throw badInput("item", "empty import item");
    if (outcome.status === "FAILED") {
      throw new AppError((outcome.error?.code ?? "BAD_USER_INPUT") as ErrorCode, outcome.error?.message ?? "import failed", { field: "item" });
    }
    if (outcome.status === "SKIPPED" || outcome.status === "UNCHANGED") return skipped(outcome.status === "SKIPPED" ? "exists" : "no change", { name: outcome.name });
    return done({ name: outcome.name, status: outcome.status, versionsCreated: outcome.versionsCreated });
  },
};

async function retag(item: Record<string, unknown>, params: Record<string, unknown>, s: BoundServices, change: (current: string[], tags: string[]) => string[]) {
  const prompt = await s.prompts.get(refOf(item));
  const tags = validateTags(params.tags as string[]);
  const current = (await s.prompts.tagsOf(prompt.id)).sort();
  const next = validateTags(change(current, tags));
  if (next.join(",") === current.join(",")) return skipped("tags unchanged", { promptId: prompt.id });
  await s.prompts.update({ id: prompt.id }, { tags: next }, { actor: s.actor });
  return done({ promptId: prompt.id, tags: next });
}
