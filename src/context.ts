import { randomUUID } from "node:crypto";
import { createPromptLoaders, type PromptLoaders } from "./domain/prompts/prompt.loaders.js";
import type { LabelRepository } from "./domain/prompts/label.repository.js";
import type { PromptRepository } from "./domain/prompts/prompt.repository.js";
import { createRelationshipLoaders, type RelationshipLoaders } from "./domain/relationships/relationship.loaders.js";
import type { RelationshipRepository } from "./domain/relationships/relationship.repository.js";
import { createRefinementLoaders, type RefinementLoaders } from "./domain/refinement/refinement.loaders.js";
import type { RefinementRepository } from "./domain/refinement/refinement.repository.js";
import type { ResolverContainer } from "./resolvers/container.js";
import type { AuditService } from "./audit/audit.service.js";
import type { Principal } from "./auth/principal.js";

/** Per-request state: created for every HTTP request and for every graphql-ws subscription. */
export interface AppContext {
  requestId: string;
  /** Who is calling, verified (an API key, the bootstrap admin key, open local mode or nobody). */
  viewer: Principal;
  /** The viewer's name, for attribution in histories (label moves, relationships, version authors). */
  actor: string | null;
  audit: AuditService;
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
  audit: AuditService;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a caller's request id only when it is short and printable, so logs stay clean. */
export function requestIdFrom(header: string | string[] | undefined | null): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && REQUEST_ID.test(value) ? value : randomUUID();
}

export function createContext(
  deps: ContextDeps,
  requestId: string,
  options: { cache: boolean; viewer: Principal },
): AppContext {
  return {
    requestId,
    viewer: options.viewer,
    actor: options.viewer.name,
    audit: deps.audit,
    loaders: {
      prompts: createPromptLoaders(deps.promptRepository, deps.labelRepository, options),
      relationships: createRelationshipLoaders(deps.relationshipRepository, options),
      refinement: createRefinementLoaders(deps.refinementRepository, options),
    },
    container: deps.container,
  };
}
