// The rate limiter's shared backend: one GCRA bucket per key in Redis, so every instance of the deployment
// draws from the same bucket. Loaded only by createRateLimiter when Redis is configured (ioredis with it).
import { createHash } from "node:crypto";
import { evalScript, RedisGuard } from "../cache/redis-guard.js";
import type { Redis, RedisOptions } from "ioredis";
import type { RedisConfig } from "../config.js";
import type { Logger } from "../logger.js";
import { gcraParams, MemoryRateLimiter, normalizeCost, type GcraParams, type RateLimitDecision, type RateLimiter, type RateLimitOptions } from "./rate-limiter.js";

/**
 * The GCRA step of rate-limiter.ts, in microseconds. The clock is Redis's TIME, not the caller's: instances
 * whose clocks disagree would otherwise each see the shared TAT as more or less in the future.
 * The key expires when the bucket would be full again (TAT reached), when it means nothing any more.
 * KEYS: the bucket. ARGV: interval µs, burst, cost (already clamped to [0, burst]).
 * Reply: {allowed 0/1, retry after µs, remaining}.
 */
const TAKE = `
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local start = now
local stored = redis.call('GET', KEYS[1])
if stored then
  local tat = tonumber(stored)
  if tat and tat > now then start = tat end
end
local window = interval * burst
local new_tat = start + cost * interval
local late = new_tat - window - now
if late > 0.001 then
  return { 0, math.ceil(late - 0.001), math.max(0, math.floor((now + window - start) / interval + 0.000001)) }
end
if new_tat > now then
  redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', string.format('%d', math.ceil((new_tat - now) / 1000)))
end
return { 1, 0, math.max(0, math.floor((now + window - new_tat) / interval + 0.000001)) }`;

const TAKE_SHA = createHash("sha1").update(TAKE).digest("hex");

/** A rate-limit check is on every request's path: past this, the request is limited in process instead. */
export const COMMAND_TIMEOUT_MS = 200;
/** How long createRateLimiter waits for a first connection before it returns (then answering from memory). */
const CONNECT_WAIT_MS = 1_000;

export interface RedisRateLimiterOptions {
  client: Redis;
  /** Deployment prefix: buckets live at `<prefix>:ratelimit:<key>`. */
  prefix: string;
  limits: RateLimitOptions;
  /** After a command failed on a connection that looked fine (a hung Redis), Redis is skipped this long. */
  retryAfterMs: number;
  logger: Logger;
}

/**
 * Never rejects and never waits past COMMAND_TIMEOUT_MS: while Redis is down, hung or failing, each
 * call is answered by an in-process limiter with the same options (so an instance then allows up to
 * `burst` per key on its own). Outages are logged when they start and when they end, not per request.
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly client: Redis;
  private readonly base: string;
  private readonly params: GcraParams;
  private readonly fallback: MemoryRateLimiter;
  private readonly args: [interval: string, burst: string];
  private readonly guard: RedisGuard;

  constructor(options: RedisRateLimiterOptions) {
    this.client = options.client;
    this.base = `${options.prefix}:ratelimit:`;
    this.params = gcraParams(options.limits);
    this.fallback = new MemoryRateLimiter(options.limits);
    this.args = [String(this.params.intervalMs * 1000), String(this.params.burst)];
    this.guard = new RedisGuard(this.client, options.retryAfterMs, {
      down: (reason) => options.logger.warn({ reason }, "rate limiter redis unavailable: limiting in this instance only until it returns"),
      up: () => options.logger.info("rate limiter redis available again: buckets are shared across instances"),
    });
  }

  get backend(): "memory" | "redis" {
    return this.guard.healthy ? "redis" : "memory";
  }

  async take(key: string, cost?: number): Promise<RateLimitDecision> {
    const n = normalizeCost(cost, this.params.burst);
    if (!this.guard.usable()) return this.fallback.takeSync(key, n);
    try {
      const reply = await evalScript(this.client, TAKE_SHA, TAKE, [this.base + key], [...this.args, String(n)]);
      const [allowed, retryAfterUs, remaining] = reply as [number, number, number];
      this.guard.succeeded();
      return { allowed: allowed === 1, retryAfterMs: Math.ceil(retryAfterUs / 1000), remaining, backend: "redis" };
    } catch (error) {
      this.guard.failed((error as Error)?.message ?? String(error), true);
      return this.fallback.takeSync(key, n);
    }
  }

  /** Resolves when the first connection is ready or failed, or after waitMs; never rejects. */
  async settled(waitMs: number): Promise<void> {
    if (this.client.status === "ready") return;
    let timer: NodeJS.Timeout | undefined;
    let done: () => void = () => {};
    await new Promise<void>((resolve) => {
      done = resolve;
      timer = setTimeout(resolve, waitMs);
      for (const event of ["ready", "error", "end"]) this.client.once(event, done);
    });
    clearTimeout(timer);
    for (const event of ["ready", "error", "end"]) this.client.removeListener(event, done);
  }

  async close(): Promise<void> {
    if (this.guard.isClosed) return;
    this.guard.close();
    // ioredis prints any error event nobody listens to; after close they mean nothing.
    this.client.on("error", () => {});
    if (this.client.status === "ready") {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.client.quit().catch(() => undefined), new Promise((resolve) => (timer = setTimeout(resolve, 500)))]);
      clearTimeout(timer);
    }
    this.client.disconnect();
    await this.fallback.close();
  }
}

/**
 * Fail fast rather than queue: nothing waits for a connection, a command in flight when the connection
 * drops is not sent again (it was answered from memory already: a resend would take its tokens twice),
 * and a command unanswered for COMMAND_TIMEOUT_MS fails. Reconnects forever, at most reconnectMaxMs apart.
 */
export function rateLimitRedisOptions(config: Pick<RedisConfig, "reconnectMaxMs">): RedisOptions {
  return {
    connectTimeout: 2_000,
    commandTimeout: COMMAND_TIMEOUT_MS,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => Math.min(attempt * 50, config.reconnectMaxMs),
    connectionName: "prompt-store-ratelimit",
  };
}

export async function connectRedisRateLimiter(limits: RateLimitOptions, config: RedisConfig, logger: Logger): Promise<RedisRateLimiter> {
  const { Redis } = await import("ioredis");
  const client = new Redis(config.url, rateLimitRedisOptions(config));
  const limiter = new RedisRateLimiter({ client, prefix: config.prefix, limits, retryAfterMs: config.reconnectMaxMs, logger });
  await limiter.settled(CONNECT_WAIT_MS);
  return limiter;
}
