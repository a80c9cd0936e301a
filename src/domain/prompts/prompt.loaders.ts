import DataLoader from "dataloader";
import type { PromptRepository, PromptVersionRecord } from "./prompt.repository.js";

export interface LoaderOptions {
  /** Off for subscriptions: their context lives as long as the stream and must not serve stale rows. */
  cache: boolean;
}

export interface VersionPageKey {
  promptId: string;
  limit: number;
  beforeNumber: number | undefined;
}

/** Per-request batching of every relation field of Prompt: one statement per field per request. */
export function createPromptLoaders(repo: PromptRepository, options: LoaderOptions) {
  const tags = new DataLoader<string, string[]>(
    async (ids) => {
      const byPrompt = await repo.tagsByPromptIds(ids);
      return ids.map((id) => byPrompt.get(id) ?? []);
    },
    { cache: options.cache },
  );

  const version = new DataLoader<{ promptId: string; number: number }, PromptVersionRecord | null, string>(
    async (keys) => {
      const rows = await repo.versionsByKeys(keys);
      const found = new Map(rows.map((row) => [`${row.promptId}:${row.number}`, row]));
      return keys.map((k) => found.get(`${k.promptId}:${k.number}`) ?? null);
    },
    { cache: options.cache, cacheKeyFn: (k) => `${k.promptId}:${k.number}` },
  );

  // A page request differs by its limit and cursor; keys with the same (limit, cursor) share one statement.
  const versionPages = new DataLoader<VersionPageKey, PromptVersionRecord[], string>(
    async (keys) => {
      const groups = new Map<string, VersionPageKey[]>();
      for (const key of keys) {
        const group = `${key.limit}:${key.beforeNumber ?? ""}`;
        groups.set(group, [...(groups.get(group) ?? []), key]);
      }
      const results = new Map<string, PromptVersionRecord[]>();
      for (const group of groups.values()) {
        const { limit, beforeNumber } = group[0]!;
        const pages = await repo.versionPages(group.map((k) => k.promptId), limit, beforeNumber);
        for (const key of group) results.set(pageKey(key), pages.get(key.promptId) ?? []);
      }
      return keys.map((key) => results.get(pageKey(key)) ?? []);
    },
    { cache: options.cache, cacheKeyFn: pageKey },
  );

  return { tags, version, versionPages };
}

function pageKey(key: VersionPageKey): string {
  return `${key.promptId}:${key.limit}:${key.beforeNumber ?? ""}`;
}

export type PromptLoaders = ReturnType<typeof createPromptLoaders>;
