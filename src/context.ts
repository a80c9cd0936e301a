import { randomUUID } from "node:crypto";
import { createPromptLoaders, type PromptLoaders } from "./domain/prompts/prompt.loaders.js";
import type { LabelRepository } from "./domain/prompts/label.repository.js";
import type { PromptRepository } from "./domain/prompts/prompt.repository.js";
import { createRelationshipLoaders, type RelationshipLoaders } from "./domain/relationships/relationship.loaders.js";
import type { RelationshipRepository } from "./domain/relationships/relationship.repository.js";
import { createRefinementLoaders, type RefinementLoaders } from "./domain/refinement/refinement.loaders.js";
import type { RefinementRepository } from "./domain/refinement/refinement.repository.js";
import type { ResolverContainer } from "./resolvers/container.js";

/** Per-request state: created for every HTTP request and for every graphql-ws subscription. */
export interface AppContext {
  requestId: string;
  /**
   * Who is acting, for attribution in history (label moves, relationships, default version
   * author). Until access control exists this is the caller's `x-actor` header, unverified.
   */
  actor: string | null;
  loaders: { prompts: PromptLoaders; relationships: RelationshipLoaders; refinement: RefinementLoaders };
  /** The app's resolver instances (app lifetime): how the shared schema reaches this app's services. */
  container: ResolverContainer;
}

export interface ContextDeps {
  promptRepository: PromptRepository;
  labelRepository: LabelRepository;
  relationshipRepository: RelationshipRepository;
  refinementRepository: RefinementRepository;
  container: ResolverContainer;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a caller's request id only when it is short and printable, so logs stay clean. */
export function requestIdFrom(header: string | string[] | undefined | null): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && REQUEST_ID.test(value) ? value : randomUUID();
}

const ACTOR = /^[\p{L}\p{N} ._@:/-]{1,200}$/u;

/** The x-actor header when it is a short, printable name; otherwise anonymous. */
export function actorFrom(header: string | string[] | undefined | null): string | null {
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  return value && ACTOR.test(value) ? value : null;
}

export function createContext(
  deps: ContextDeps,
  requestId: string,
  options: { cache: boolean; actor?: string | null },
): AppContext {
  return {
    requestId,
    actor: options.actor ?? null,
    loaders: {
      prompts: createPromptLoaders(deps.promptRepository, deps.labelRepository, options),
      relationships: createRelationshipLoaders(deps.relationshipRepository, options),
      refinement: createRefinementLoaders(deps.refinementRepository, options),
    },
    container: deps.container,
  };
}
