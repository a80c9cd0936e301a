// Per-key rate limiting with GCRA (the generic cell rate algorithm): a token bucket kept as one number per
// key, its "theoretical arrival time" (TAT), instead of a token count and a refill timestamp. No timer
// refills anything: the bucket's level is read off the distance between TAT and now.
//
// With interval T = 1000 / ratePerSecond ms and tolerance tau = T * (burst - 1):
//   a request at `now` costing n is allowed iff  max(TAT, now) + n*T - now <= tau + T  (= T * burst),
//   and then TAT becomes max(TAT, now) + n*T.
// From idle (TAT <= now) that lets exactly `burst` unit requests through at once, and afterwards one per T.
// The Redis backend (redis-rate-limiter.ts) runs the same formula in Lua; keep the two in step.
import { LRUCache } from "lru-cache";
import type { RedisConfig } from "../config.js";
import type { Logger } from "../logger.js";

export interface RateLimitDecision {
  allowed: boolean;
  /** ms until `cost` more would be allowed; 0 when allowed */
  retryAfterMs: number;
  /** requests that could still be made right now */
  remaining: number;
  /** Who decided: "memory" also when Redis is configured but did not answer this call. */
  backend: "memory" | "redis";
}

export interface RateLimiter {
  /** Takes `cost` (default 1) tokens from `key`'s bucket. Never rejects (never throws): a Redis problem means the in-process answer. */
  take(key: string, cost?: number): Promise<RateLimitDecision>;
  /** "redis" while Redis answers, "memory" otherwise (also when no Redis is configured). */
  readonly backend: "memory" | "redis";
  close(): Promise<void>;
}

export interface RateLimitOptions {
  ratePerSecond: number;
  burst: number;
  /** bound on keys kept in process */
  maxKeys?: number;
  /** ms on any clock that does not go backwards; only the in-process backend reads it. */
  now?: () => number;
}

/** Each key costs a few hundred bytes at most (the key string and a number): 100k keys stay in the tens of MB. */
export const DEFAULT_MAX_KEYS = 100_000;

/**
 * Floating-point slack, in the unit of the clock: with a fractional interval (rate 3/s: 333.33... ms),
 * sums of intervals drift by ~1e-13 and would turn an exact fit into a denial.
 */
const EPSILON = 1e-6;

/** Options checked and turned into the numbers GCRA works with. */
export interface GcraParams {
  /** ms between two requests at the sustained rate. */
  intervalMs: number;
  burst: number;
}

/** Throws on options no limiter could honour: a configuration mistake, to be found at start-up. */
export function gcraParams(options: RateLimitOptions): GcraParams {
  const { ratePerSecond, burst, maxKeys } = options;
  if (!Number.isFinite(ratePerSecond) || ratePerSecond <= 0) throw new RangeError(`ratePerSecond must be a positive number, got ${ratePerSecond}`);
  if (!Number.isInteger(burst) || burst < 1) throw new RangeError(`burst must be an integer >= 1, got ${burst}`);
  if (maxKeys !== undefined && (!Number.isInteger(maxKeys) || maxKeys < 1)) throw new RangeError(`maxKeys must be an integer >= 1, got ${maxKeys}`);
  return { intervalMs: 1000 / ratePerSecond, burst };
}

/**
 * A whole number of tokens in [0, burst]. Above burst it is clamped: a batch larger than the bucket
 * could never pass, however long its client waited, so it takes the whole bucket instead (and so
 * waits the longest). 0 asks without taking; a missing or invalid cost counts as 1.
 */
export function normalizeCost(cost: number | undefined, burst: number): number {
  if (cost === undefined || Number.isNaN(cost)) return 1;
  return Math.min(burst, Math.max(0, Math.ceil(cost)));
}

export interface GcraOutcome {
  allowed: boolean;
  retryAfterMs: number;
  remaining: number;
  /** The TAT to store when allowed (unchanged state otherwise). */
  tat: number;
}

/** One GCRA step. `tat` undefined: a key never seen (or forgotten), i.e. a full bucket. */
export function gcra(tat: number | undefined, now: number, cost: number, p: GcraParams): GcraOutcome {
  const start = tat === undefined || tat < now ? now : tat;
  const next = start + cost * p.intervalMs;
  const window = p.intervalMs * p.burst;
  const late = next - window - now;
  if (late > EPSILON) {
    return { allowed: false, retryAfterMs: Math.ceil(late - EPSILON), remaining: whole((now + window - start) / p.intervalMs), tat: start };
  }
  return { allowed: true, retryAfterMs: 0, remaining: whole((now + window - next) / p.intervalMs), tat: next };
}

/** floor() that forgives float drift just below an integer (2.9999999999 is 3 tokens). */
function whole(tokens: number): number {
  return Math.max(0, Math.floor(tokens + EPSILON));
}

/** The in-process limiter; also the Redis limiter's answer while Redis does not. */
export class MemoryRateLimiter implements RateLimiter {
  readonly backend = "memory" as const;
  private readonly params: GcraParams;
  /** key -> TAT. An evicted key just starts again with a full bucket: a bound on memory, not on fairness. */
  private readonly tats: LRUCache<string, number>;
  private readonly now: () => number;

  constructor(options: RateLimitOptions) {
    this.params = gcraParams(options);
    // Bounded by maxSize (each key counts 1) rather than max, which makes lru-cache allocate
    // its arrays for every possible key up front: about 40 ms of every start for 100,000 keys.
    this.tats = new LRUCache({ maxSize: options.maxKeys ?? DEFAULT_MAX_KEYS, sizeCalculation: () => 1 });
    // Monotonic by default: a wall clock stepped back an hour would deny every key for that hour.
    this.now = options.now ?? (() => performance.now());
  }

  /** take() without the promise, for callers that are already async. */
  takeSync(key: string, cost?: number): RateLimitDecision {
    const n = normalizeCost(cost, this.params.burst);
    const now = this.now();
    const outcome = gcra(this.tats.get(key), now, n, this.params);
    // A TAT in the past means a full bucket, the same as no entry: do not spend a slot of the LRU on it.
    if (outcome.allowed && outcome.tat > now) this.tats.set(key, outcome.tat);
    return { allowed: outcome.allowed, retryAfterMs: outcome.retryAfterMs, remaining: outcome.remaining, backend: "memory" };
  }

  take(key: string, cost?: number): Promise<RateLimitDecision> {
    return Promise.resolve(this.takeSync(key, cost));
  }

  async close(): Promise<void> {
    this.tats.clear();
  }
}

export function createMemoryRateLimiter(options: RateLimitOptions): RateLimiter {
  return new MemoryRateLimiter(options);
}

/**
 * With `redis`, one bucket per key shared by every instance of the deployment (falling back to this
 * instance's own buckets while Redis does not answer); without, in-process buckets only.
 * Resolves once Redis answered or failed to (bounded: an unreachable Redis does not hold up start-up).
 */
export async function createRateLimiter(options: RateLimitOptions & { redis?: RedisConfig; logger: Logger }): Promise<RateLimiter> {
  const { redis, logger, ...limits } = options;
  if (!redis) return createMemoryRateLimiter(limits);
  gcraParams(limits);
  // Loaded only here, so that an instance without Redis never loads ioredis.
  const { connectRedisRateLimiter } = await import("./redis-rate-limiter.js");
  return connectRedisRateLimiter(limits, redis, logger);
}
