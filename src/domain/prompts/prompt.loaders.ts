import DataLoader from "dataloader";
import type { LabelEventRecord, LabelRecord, LabelRepository } from "./label.repository.js";
import type { IncludeEdge } from "./include-graph.js";
import type { PromptRecord, PromptRepository, PromptVersionRecord, VersionKey } from "./prompt.repository.js";
import { mergeSpans, type VersionSpan } from "./version-span.js";

export interface LoaderOptions {
  /** Off for subscriptions: their context lives as long as the stream and must not serve stale rows. */
  cache: boolean;
}

/** Per-request batching of every relation field of Prompt: one statement per field per request. */
export function createPromptLoaders(repo: PromptRepository, labelRepo: LabelRepository, options: LoaderOptions) {
  const tags = new DataLoader<string, string[]>(
    async (ids) => {
      const byPrompt = await repo.tagsByPromptIds(ids);
      return ids.map((id) => byPrompt.get(id) ?? []);
    },
    { cache: options.cache },
  );

  const version = new DataLoader<VersionKey, PromptVersionRecord | null, string>(
    async (keys) => {
      const rows = await repo.versionsByKeys(keys);
      const found = new Map(rows.map((row) => [`${row.promptId}:${row.number}`, row]));
      return keys.map((k) => found.get(`${k.promptId}:${k.number}`) ?? null);
    },
    { cache: options.cache, cacheKeyFn: (k) => `${k.promptId}:${k.number}` },
  );

  // Prompt.latestVersion and Prompt.versions ask for ranges of version numbers; all of a batch
  // is one statement, in which a prompt's ranges that overlap or touch are read once.
  const versionRange = new DataLoader<VersionSpan, PromptVersionRecord[], string>(
    async (keys) => {
      const { spans, spanOf } = mergeSpans(keys);
      const lists = await repo.versionRanges(spans);
      return keys.map((key, i) => (lists[spanOf[i]!] ?? []).filter((v) => v.number >= key.from && v.number <= key.to));
    },
    { cache: options.cache, cacheKeyFn: (k) => `${k.promptId}:${k.from}:${k.to}` },
  );

  const byId = new DataLoader<string, PromptRecord | null>(
    async (ids) => {
      const found = new Map((await repo.findByIds(ids)).map((p) => [p.id, p]));
      return ids.map((id) => found.get(id) ?? null);
    },
    { cache: options.cache },
  );

  const labels = new DataLoader<string, LabelRecord[]>(
    async (ids) => {
      const byPrompt = await labelRepo.labelsByPromptIds(ids);
      return ids.map((id) => byPrompt.get(id) ?? []);
    },
    { cache: options.cache },
  );

  const labelHistory = new DataLoader<HistoryPageKey, (LabelEventRecord & { seq: number })[], string>(
    async (keys) => {
      const results = new Map<string, (LabelEventRecord & { seq: number })[]>();
      for (const group of groupBy(keys, (k) => `${k.limit}:${k.beforeSeq ?? ""}`)) {
        const pages = await labelRepo.historyPages(group.map((k) => k.promptId), group[0]!.limit, group[0]!.beforeSeq);
        for (const key of group) results.set(historyKey(key), pages.get(key.promptId) ?? []);
      }
      return keys.map((key) => results.get(historyKey(key)) ?? []);
    },
    { cache: options.cache, cacheKeyFn: historyKey },
  );

  const includes = new DataLoader<string, IncludeEdge[]>(
    async (ids) => {
      const byPrompt = await repo.includesFrom(ids);
      return ids.map((id) => byPrompt.get(id) ?? []);
    },
    { cache: options.cache },
  );

  const includedBy = new DataLoader<string, string[]>(
    async (ids) => {
      const byPrompt = await repo.includedBy(ids);
      return ids.map((id) => byPrompt.get(id) ?? []);
    },
    { cache: options.cache },
  );

  return { tags, version, versionRange, byId, labels, labelHistory, includes, includedBy };
}

export interface HistoryPageKey {
  promptId: string;
  limit: number;
  beforeSeq: number | undefined;
}

function historyKey(key: HistoryPageKey): string {
  return `${key.promptId}:${key.limit}:${key.beforeSeq ?? ""}`;
}

/** Groups batch keys that can share one statement. */
export function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group) group.push(item);
    else groups.set(key, [item]);
  }
  return [...groups.values()];
}

export type PromptLoaders = ReturnType<typeof createPromptLoaders>;
