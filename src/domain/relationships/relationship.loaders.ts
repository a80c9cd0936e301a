import DataLoader from "dataloader";
import type { LoaderOptions } from "../prompts/prompt.loaders.js";
import type { RelationshipRecord, RelationshipRepository } from "./relationship.repository.js";

export function createRelationshipLoaders(repo: RelationshipRepository, options: LoaderOptions) {
  const touching = new DataLoader<string, RelationshipRecord[]>(
    async (ids) => {
      const byPrompt = await repo.touching(ids);
      return ids.map((id) => byPrompt.get(id) ?? []);
    },
    { cache: options.cache },
  );
  return { touching };
}

export type RelationshipLoaders = ReturnType<typeof createRelationshipLoaders>;
