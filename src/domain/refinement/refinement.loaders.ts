import DataLoader from "dataloader";
import type { LoaderOptions } from "../prompts/prompt.loaders.js";
import type { RefinementDocumentRecord, RefinementRepository, RefinementSessionRecord } from "./refinement.repository.js";

export function createRefinementLoaders(repo: RefinementRepository, options: LoaderOptions) {
  const byId = new DataLoader<string, RefinementSessionRecord | null>(
    async (ids) => {
      const rows = new Map((await repo.findByIds(ids)).map((s) => [s.id, s]));
      return ids.map((id) => rows.get(id) ?? null);
    },
    { cache: options.cache },
  );
  const children = new DataLoader<string, RefinementSessionRecord[]>(
    async (ids) => {
      const byParent = await repo.childrenOf(ids);
      return ids.map((id) => byParent.get(id) ?? []);
    },
    { cache: options.cache },
  );
  const documents = new DataLoader<string, RefinementDocumentRecord[]>(
    async (ids) => {
      const bySession = await repo.documents(ids);
      return ids.map((id) => bySession.get(id) ?? []);
    },
    { cache: options.cache },
  );
  const byAppliedVersion = new DataLoader<{ promptId: string; number: number }, RefinementSessionRecord | null, string>(
    async (keys) => {
      const rows = new Map((await repo.byAppliedVersions(keys)).map((s) => [`${s.promptId}:${s.appliedVersionNumber}`, s]));
      return keys.map((k) => rows.get(`${k.promptId}:${k.number}`) ?? null);
    },
    { cache: options.cache, cacheKeyFn: (k) => `${k.promptId}:${k.number}` },
  );
  return { byId, children, documents, byAppliedVersion };
}

export type RefinementLoaders = ReturnType<typeof createRefinementLoaders>;
