// The cache's public shapes: options, entry options, statistics, and what it needs of the event bus.
import type { Redis } from "ioredis";
import type { Logger } from "../logger.js";

/** The event topic of invalidations (add it to src/subscriptions/topics.ts: `CacheInvalidation`). */
export const CACHE_INVALIDATE_TOPIC = "cache.invalidate";

/** What an instance publishes when it invalidates: the others drop these from their first level. */
export interface CacheInvalidation {
  keys?: string[];
  tags?: string[];
  /** The publishing cache: it skips its own events. */
  origin: string;
  /** The publishing cache's namespace: caches of other namespaces skip the event. */
  namespace?: string;
}

/**
 * The event bus, typed loosely (an EventBus fits): publish must neither throw nor wait, subscribe
 * starts listening at once. Events it carries to the other instances reach their caches.
 */
export interface CacheBus {
  publish(topic: string, payload: unknown): void;
  subscribe(topic: string): AsyncIterableIterator<unknown>;
}

export interface CacheRedisOptions {
  /** A client, or a factory called once. */
  client: Redis | (() => Redis);
  /** Whether close() closes the client: by default yes for a factory's, no for a client passed in. */
  ownsClient?: boolean;
  /** The deployment's prefix (PROMPT_STORE_REDIS_PREFIX): keys are `<prefix>:cache:...`. */
  prefix: string;
  /** A Redis read unanswered this long is given up (the request goes on without Redis). Default 50. */
  commandTimeoutMs?: number;
  /** The same for writes (nobody waits for them) and invalidations (their callers do). Default 500. */
  writeTimeoutMs?: number;
  /** After a Redis failure, Redis is skipped this long before it is tried again. Default 1000. */
  retryAfterMs?: number;
}

export interface CacheOptions {
  /** Separates caches sharing a Redis and a bus. */
  namespace?: string;
  /** First level bounds: entries, and bytes (each entry counts its key's and its value's JSON's UTF-8 bytes). */
  maxEntries: number;
  maxBytes: number;
  /** Time to live of an entry, in both levels, unless set() or getOrLoad() says otherwise. */
  defaultTtlMs: number;
  /** The second level; without it the cache is local to this process. */
  redis?: CacheRedisOptions;
  /** Carries invalidations to the other instances. */
  bus?: CacheBus;
  logger: Logger;
}

export interface EntryOptions {
  /** Must be positive; defaults to defaultTtlMs. */
  ttlMs?: number;
  /** invalidateTags(tags) drops every entry carrying one of them. */
  tags?: readonly string[];
}

export interface CacheStats {
  /** entries and bytes: what the first level holds, expired entries included until read or evicted. */
  l1: { entries: number; bytes: number; hits: number; misses: number; maxEntries: number; maxBytes: number };
  l2: { enabled: boolean; healthy: boolean; hits: number; misses: number; errors: number };
  /** First-level entries dropped to stay within maxEntries or maxBytes (not expiries, not invalidations). */
  evictions: number;
  /** Invalidation events from other instances applied here. */
  remoteInvalidations: number;
}

/** Whether an event from the bus is a well-formed invalidation (events come from other processes). */
export function isInvalidation(payload: unknown): payload is CacheInvalidation {
  if (typeof payload !== "object" || payload === null) return false;
  const { origin, keys, tags, namespace } = payload as Record<string, unknown>;
  const strings = (list: unknown) => list === undefined || (Array.isArray(list) && list.every((item) => typeof item === "string"));
  return typeof origin === "string" && strings(keys) && strings(tags) && (namespace === undefined || typeof namespace === "string");
}
