// Builds the app's cache from its config: local only without Redis, two levels with it.
import type { RedisConfig } from "../config.js";
import type { Logger } from "../logger.js";
import { Cache, type CacheBus } from "./cache.js";
import { connectCacheRedis } from "./redis-store.js";

export interface CreateCacheOptions {
  namespace?: string;
  maxEntries?: number;
  maxBytes?: number;
  defaultTtlMs?: number;
  commandTimeoutMs?: number;
  writeTimeoutMs?: number;
  retryAfterMs?: number;
  bus?: CacheBus;
}

/** Local only without `config.redis`; otherwise with Redis as the second level (ioredis loaded only then). */
export async function createCache(config: { redis?: RedisConfig }, logger: Logger, options: CreateCacheOptions = {}): Promise<Cache> {
  const { commandTimeoutMs, writeTimeoutMs = 500, retryAfterMs } = options;
  const client = config.redis ? await connectCacheRedis(config.redis, writeTimeoutMs) : undefined;
  return new Cache({
    namespace: options.namespace,
    maxEntries: options.maxEntries ?? 10_000,
    maxBytes: options.maxBytes ?? 64 * 1024 * 1024,
    defaultTtlMs: options.defaultTtlMs ?? 5 * 60_000,
    ...(client && config.redis && { redis: { client, ownsClient: true, prefix: config.redis.prefix, commandTimeoutMs, writeTimeoutMs, retryAfterMs } }),
    bus: options.bus,
    logger,
  });
}
