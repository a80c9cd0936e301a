import { randomUUID } from "node:crypto";
import { createPromptLoaders, type PromptLoaders } from "./domain/prompts/prompt.loaders.js";
import type { PromptRepository } from "./domain/prompts/prompt.repository.js";
import type { ResolverContainer } from "./resolvers/container.js";

/** Per-request state: created for every HTTP request and for every graphql-ws subscription. */
export interface AppContext {
  requestId: string;
  loaders: { prompts: PromptLoaders };
  /** The app's resolver instances (app lifetime): how the shared schema reaches this app's services. */
  container: ResolverContainer;
}

export interface ContextDeps {
  promptRepository: PromptRepository;
  container: ResolverContainer;
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Accepts a caller's request id only when it is short and printable, so logs stay clean. */
export function requestIdFrom(header: string | string[] | undefined | null): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value && REQUEST_ID.test(value) ? value : randomUUID();
}

export function createContext(deps: ContextDeps, requestId: string, options: { cache: boolean }): AppContext {
  return {
    requestId,
    loaders: { prompts: createPromptLoaders(deps.promptRepository, options) },
    container: deps.container,
  };
}
