// The cache's second level: one Redis connection, shared by every instance of the deployment.
// Only types come from ioredis here, so an instance without Redis never loads it (see connectCacheRedis).
import { createHash } from "node:crypto";
import type { Redis, RedisOptions } from "ioredis";
import type { RedisConfig } from "../config.js";
import type { Logger } from "../logger.js";
import { evalScript, RedisGuard } from "./redis-guard.js";

/**
 * Reads an entry with its remaining time to live and the generations of its key and tags, in one round trip.
 * KEYS: data key, then generation keys. Reply: [value or nil, pttl, generation...].
 */
const READ = `
local v = redis.call('GET', KEYS[1])
local out = { v or false, v and redis.call('PTTL', KEYS[1]) or -2 }
for i = 2, #KEYS do out[#out + 1] = redis.call('GET', KEYS[i]) or '0' end
return out`;

/**
 * Stores an entry and lists its key in the set of each of its tags.
 * Mode "check" (a loaded value): only if none of the generations read before the load has moved since
 * (an invalidation happened meanwhile, so the value may predate the change). Mode "bump" (a value set
 * by the caller): moves the key's generation, so that loads in flight elsewhere do not overwrite it.
 * KEYS: data key, generation keys (ARGV[4] of them), tag sets.
 * ARGV: value, ttl ms, mode, number of generations, cache key (tag set member), generation ttl ms, expected generations...
 */
const WRITE = `
local ttl = tonumber(ARGV[2])
local g = tonumber(ARGV[4])
for i = 1, g do
  local gen = KEYS[1 + i]
  if ARGV[3] == 'check' then
    if (redis.call('GET', gen) or '0') ~= ARGV[6 + i] then return 0 end
  else
    redis.call('INCR', gen)
    redis.call('PEXPIRE', gen, ARGV[6])
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
for i = 2 + g, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[5])
  if redis.call('PTTL', KEYS[i]) < ttl then redis.call('PEXPIRE', KEYS[i], ttl) end
end
return 1`;

/**
 * Moves the generations of the keys and tags (so that loads in flight do not store what they read
 * before), deletes the keys, and deletes every key listed in each tag's set, then the set.
 * KEYS: generation keys (ARGV[1] of them), data keys (ARGV[2] of them), tag sets.
 * ARGV: counts, data key prefix (tag set members are cache keys), generation ttl ms.
 */
const INVALIDATE = `
local ng = tonumber(ARGV[1])
local nd = tonumber(ARGV[2])
for i = 1, ng do
  redis.call('INCR', KEYS[i])
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
for i = ng + 1, ng + nd do redis.call('DEL', KEYS[i]) end
for i = ng + nd + 1, #KEYS do
  local members = redis.call('SMEMBERS', KEYS[i])
  for j = 1, #members, 500 do
    local batch = {}
    for k = j, math.min(j + 499, #members) do batch[#batch + 1] = ARGV[3] .. members[k] end
    redis.call('DEL', unpack(batch))
  end
  redis.call('DEL', KEYS[i])
end
return 1`;

interface Script {
  lua: string;
  sha: string;
}
const script = (lua: string): Script => ({ lua, sha: createHash("sha1").update(lua).digest("hex") });
const SCRIPTS = { read: script(READ), write: script(WRITE), invalidate: script(INVALIDATE) };

/**
 * Generations only have to outlive the loads in flight; they expire so that invalidated keys and tags
 * leave nothing behind. (A load slower than this could store a stale value: an hour is plenty.)
 */
const GENERATION_TTL_MS = 60 * 60 * 1000;

export interface RedisStoreOptions {
  client: Redis;
  /** Closed by close() (the cache created it). */
  ownsClient: boolean;
  /** Deployment prefix (PROMPT_STORE_REDIS_PREFIX). */
  prefix: string;
  /** Separates caches sharing one Redis (e.g. "prompts", "analytics"). */
  namespace?: string;
  /** A read unanswered this long counts as failed: the request goes on without Redis. */
  commandTimeoutMs: number;
  /**
   * The same for writes and invalidations. Nobody waits for a write, and an invalidation is worth a
   * little waiting (a lost one leaves a stale entry in Redis until it expires): longer than reads.
   */
  writeTimeoutMs: number;
  /** After a failure, Redis is skipped this long before the next command tries it again. */
  retryAfterMs: number;
  logger: Logger;
  /**
   * Redis answers again after an outage. `connectionLost`: a connection closed meanwhile, so events
   * relayed through Redis (invalidations from other instances) may have been lost too.
   */
  onRecovered?: (connectionLost: boolean) => void;
}

/** An entry read from Redis. */
export interface StoredEntry {
  /** The value's JSON. */
  json: string;
  tags: string[];
  /** Time left to live (Redis's PTTL: -1 for no expiry, which this cache never sets). */
  ttlMs: number;
}

export interface StoreRead {
  /** Undefined on a miss. */
  entry: StoredEntry | undefined;
  /** The generations of the key and of the tags asked about, for a conditional write of what gets loaded. */
  generations: string[];
}

export interface StoreStats {
  hits: number;
  misses: number;
  errors: number;
}

const TIMED_OUT = "cache: redis command timed out";

/**
 * Never throws and never waits longer than its timeouts: every method answers "unavailable"
 * (undefined, false) instead while Redis is down, hangs or fails, and the cache carries on without it.
 * After a failed command Redis is skipped for retryAfterMs, so a hung Redis costs one timeout, not one per request.
 *
 * Layout under `<prefix>:cache:[<namespace>:]`: `k:<key>` the entry (its tags as a JSON line, then the
 * value's JSON), `t:<tag>` the set of keys carrying a tag, `g:k:<key>` and `g:t:<tag>` generations.
 */
export class RedisStore {
  private readonly client: Redis;
  private readonly base: string;
  private readonly logger: Logger;
  private readonly counts: StoreStats = { hits: 0, misses: 0, errors: 0 };
  private readonly guard: RedisGuard;

  constructor(private readonly options: RedisStoreOptions) {
    this.client = options.client;
    this.base = `${options.prefix}:cache:${options.namespace ? `${options.namespace}:` : ""}`;
    this.logger = options.logger;
    // An outage is logged when first seen and when it ends.
    this.guard = new RedisGuard(this.client, options.retryAfterMs, {
      down: (reason) => this.logger.warn({ reason }, "cache redis unavailable: caching in this instance only until it returns"),
      up: (connectionLost) => {
        this.logger.info({ connectionLost }, "cache redis available again: the second level is back");
        this.options.onRecovered?.(connectionLost);
      },
    });
  }

  /** Connected and the last command succeeded. */
  healthy(): boolean {
    return this.guard.healthy;
  }

  health(): { ok: boolean; detail?: string } {
    if (this.healthy()) return { ok: true };
    const error = this.guard.lastError ? `: ${this.guard.lastError}` : "";
    return { ok: false, detail: `cache redis unavailable${error} (connection ${this.client.status}); caching in this instance only` };
  }

  stats(): StoreStats {
    return { ...this.counts };
  }

  /** The entry and the generations of `key` and `tags`; undefined when Redis is unavailable. */
  async read(key: string, tags: readonly string[]): Promise<StoreRead | undefined> {
    const keys = [this.base + "k:" + key, this.base + "g:k:" + key, ...tags.map((tag) => this.base + "g:t:" + tag)];
    const reply = (await this.run(SCRIPTS.read, keys, [], this.options.commandTimeoutMs)) as [string | null, number, ...string[]] | undefined;
    if (!reply) return undefined;
    const [raw, pttl, ...generations] = reply;
    const entry = raw === null ? undefined : decode(raw, pttl);
    if (entry) this.counts.hits++;
    else this.counts.misses++;
    return { entry, generations };
  }

  /**
   * Stores an entry; never rejects, resolves false when not written (Redis unavailable, or generations moved).
   * With `generations` (what read() returned for the same key and tags): only if none has moved since,
   * for a value loaded after that read. Without: unconditionally, moving the key's generation.
   */
  write(key: string, json: string, ttlMs: number, tags: readonly string[], generations?: readonly string[]): Promise<boolean> {
    const generationKeys = [this.base + "g:k:" + key, ...(generations ? tags.map((tag) => this.base + "g:t:" + tag) : [])];
    if (generations && generations.length !== generationKeys.length) return Promise.resolve(false);
    const keys = [this.base + "k:" + key, ...generationKeys, ...tags.map((tag) => this.base + "t:" + tag)];
    const args = [
      `${JSON.stringify(tags)}\n${json}`,
      String(Math.max(1, Math.ceil(ttlMs))),
      generations ? "check" : "bump",
      String(generationKeys.length),
      key,
      String(GENERATION_TTL_MS),
      ...(generations ?? []),
    ];
    return this.run(SCRIPTS.write, keys, args, this.options.writeTimeoutMs).then((reply) => reply === 1);
  }

  /** Deletes keys and tagged keys and moves their generations; false when Redis was unavailable. */
  async invalidate(keys: readonly string[], tags: readonly string[]): Promise<boolean> {
    if (keys.length === 0 && tags.length === 0) return true;
    const redisKeys = [
      ...keys.map((key) => this.base + "g:k:" + key),
      ...tags.map((tag) => this.base + "g:t:" + tag),
      ...keys.map((key) => this.base + "k:" + key),
      ...tags.map((tag) => this.base + "t:" + tag),
    ];
    const args = [String(keys.length + tags.length), String(keys.length), this.base + "k:", String(GENERATION_TTL_MS)];
    return (await this.run(SCRIPTS.invalidate, redisKeys, args, this.options.writeTimeoutMs)) !== undefined;
  }

  async close(): Promise<void> {
    if (this.guard.isClosed) return;
    this.guard.close();
    if (this.options.ownsClient) await quit(this.client);
  }

  /** EVALSHA (EVAL when Redis does not know the script yet), bounded by the timeout; undefined on any failure. */
  private async run(s: Script, keys: string[], args: string[], timeoutMs: number): Promise<unknown> {
    if (!this.guard.usable()) return undefined;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(TIMED_OUT)), timeoutMs);
    });
    try {
      const reply = await Promise.race([evalScript(this.client, s.sha, s.lua, keys, args), timeout]);
      this.guard.succeeded();
      return reply;
    } catch (error) {
      this.counts.errors++;
      this.guard.failed((error as Error).message, true);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** `<tags JSON>\n<value JSON>`: JSON.stringify never writes a raw newline, so the first one splits them. */
function decode(raw: string, pttl: number): StoredEntry | undefined {
  const newline = raw.indexOf("\n");
  if (newline < 0) return undefined;
  try {
    const tags = JSON.parse(raw.slice(0, newline)) as unknown;
    if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === "string")) return undefined;
    return { tags, json: raw.slice(newline + 1), ttlMs: pttl };
  } catch {
    return undefined;
  }
}

/** QUIT when connected (bounded), then drop the socket. */
async function quit(client: Redis): Promise<void> {
  if (client.status === "ready") {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([client.quit().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 1_000)))]);
    clearTimeout(timer);
  }
  client.disconnect();
}

/** Client options for the cache: fail fast while disconnected (nothing queues), reconnect forever. */
export function cacheRedisOptions(config: Pick<RedisConfig, "reconnectMaxMs">, writeTimeoutMs: number): RedisOptions {
  return {
    connectTimeout: 5_000,
    // RedisStore bounds every wait itself (a client passed in may have none); this bound, the longest
    // of them, also takes a command that never gets its answer off ioredis's hands.
    commandTimeout: writeTimeoutMs,
    retryStrategy: (attempt) => Math.min(attempt * 100, config.reconnectMaxMs),
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectionName: "prompt-store-cache",
  };
}

/** A client for the cache (ioredis loaded only now). */
export async function connectCacheRedis(config: RedisConfig, writeTimeoutMs: number): Promise<Redis> {
  const { Redis } = await import("ioredis");
  return new Redis(config.url, cacheRedisOptions(config, writeTimeoutMs));
}
