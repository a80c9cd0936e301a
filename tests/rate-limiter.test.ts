// The per-key rate limiter: GCRA arithmetic on a simulated clock, one bucket shared by two instances
// through the machine's Redis, and a Redis of the test's own that stops, hangs and comes back.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { RedisConfig } from "../src/config.js";
import { createMemoryRateLimiter, createRateLimiter, type RateLimiter, type RateLimitOptions } from "../src/limits/rate-limiter.js";
import { freePort, hasRedisServer, RedisServer, redisAnswers } from "./helpers/redis-server.js";
import { requireService } from "./helpers/services.js";

const MACHINE_REDIS = 6379;
const machineRedis = await redisAnswers(MACHINE_REDIS);
requireService("Redis on 127.0.0.1:6379", machineRedis);
requireService("redis-server (apt-get install redis-server)", hasRedisServer);

const silent = pino({ level: "silent" });

/** A logger whose lines the test can read. */
function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, warnings: () => lines.filter((l) => l.level === 40), infos: () => lines.filter((l) => l.level === 30) };
}

/** A limiter on a clock the test moves by hand. */
function simulated(options: Omit<RateLimitOptions, "now">) {
  const clock = { t: 0 };
  const limiter = createMemoryRateLimiter({ ...options, now: () => clock.t });
  return { limiter, clock, take: (key = "k", cost?: number) => limiter.take(key, cost) };
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("memory rate limiter (simulated clock)", () => {
  it("lets a burst through from idle, then denies with the exact wait", async () => {
    const { take, clock } = simulated({ ratePerSecond: 10, burst: 5 });
    const remaining = [];
    for (let i = 0; i < 5; i++) {
      const d = await take();
      expect(d).toMatchObject({ allowed: true, retryAfterMs: 0, backend: "memory" });
      remaining.push(d.remaining);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    expect(await take()).toEqual({ allowed: false, retryAfterMs: 100, remaining: 0, backend: "memory" });
    // A denial takes nothing: the wait shrinks with time alone, to the millisecond.
    clock.t = 37;
    expect(await take()).toMatchObject({ allowed: false, retryAfterMs: 63 });
    clock.t = 99;
    expect(await take()).toMatchObject({ allowed: false, retryAfterMs: 1 });
    clock.t = 100;
    expect(await take()).toMatchObject({ allowed: true, remaining: 0 });
    expect(await take()).toMatchObject({ allowed: false, retryAfterMs: 100 });
  });

  it("refills at the sustained rate and never holds more than the burst", async () => {
    const { take, clock } = simulated({ ratePerSecond: 10, burst: 5 });
    for (let i = 0; i < 5; i++) await take();
    // Knocking every millisecond for 10 simulated seconds gets exactly rate * 10 s through.
    let allowed = 0;
    for (clock.t = 1; clock.t <= 10_000; clock.t++) if ((await take()).allowed) allowed++;
    expect(allowed).toBe(100);
    // Idle for an hour: a full bucket, no more.
    clock.t += 3_600_000;
    const burst = [];
    for (let i = 0; i < 7; i++) burst.push((await take()).allowed);
    expect(burst).toEqual([true, true, true, true, true, false, false]);
  });

  it("takes cost tokens at once, and clamps a cost above the burst to the whole bucket", async () => {
    const { take, clock } = simulated({ ratePerSecond: 10, burst: 5 });
    expect(await take("batch", 3)).toMatchObject({ allowed: true, remaining: 2 });
    // 3 more are 1 short: one interval away; the 2 left stay available.
    expect(await take("batch", 3)).toEqual({ allowed: false, retryAfterMs: 100, remaining: 2, backend: "memory" });
    expect(await take("batch", 2)).toMatchObject({ allowed: true, remaining: 0 });

    expect(await take("huge", 50)).toMatchObject({ allowed: true, remaining: 0 });
    expect(await take("huge", 50)).toMatchObject({ allowed: false, retryAfterMs: 500 });
    clock.t = 500;
    expect(await take("huge", 50)).toMatchObject({ allowed: true, remaining: 0 });
    // Cost 0 asks without taking.
    clock.t = 700;
    expect(await take("huge", 0)).toMatchObject({ allowed: true, remaining: 2 });
    expect(await take("huge", 0)).toMatchObject({ allowed: true, remaining: 2 });
  });

  it("keeps keys independent", async () => {
    const { take } = simulated({ ratePerSecond: 1, burst: 2 });
    expect((await take("a")).allowed).toBe(true);
    expect((await take("a")).allowed).toBe(true);
    expect((await take("a")).allowed).toBe(false);
    expect(await take("b")).toMatchObject({ allowed: true, remaining: 1 });
    expect((await take("a")).allowed).toBe(false);
  });

  it("handles fractional rates and intervals", async () => {
    const slow = simulated({ ratePerSecond: 0.5, burst: 1 });
    expect((await slow.take()).allowed).toBe(true);
    expect(await slow.take()).toMatchObject({ allowed: false, retryAfterMs: 2_000 });
    slow.clock.t = 1_999;
    expect(await slow.take()).toMatchObject({ allowed: false, retryAfterMs: 1 });
    slow.clock.t = 2_000;
    expect((await slow.take()).allowed).toBe(true);

    // 3/s: an interval of 333.33... ms, so waits round up to the next whole millisecond.
    const thirds = simulated({ ratePerSecond: 3, burst: 3 });
    for (let i = 0; i < 3; i++) expect((await thirds.take()).allowed).toBe(true);
    expect(await thirds.take()).toMatchObject({ allowed: false, retryAfterMs: 334 });
    thirds.clock.t = 333;
    expect((await thirds.take()).allowed).toBe(false);
    thirds.clock.t = 334;
    expect((await thirds.take()).allowed).toBe(true);
    // After exactly one second of idleness the float sums must still give back exactly 3 tokens.
    thirds.clock.t = 334 + 1_000;
    expect(await thirds.take("fresh")).toMatchObject({ remaining: 2 });
  });

  it("forgets the least recently used keys beyond maxKeys: they start again with a full bucket", async () => {
    const { take } = simulated({ ratePerSecond: 1, burst: 1, maxKeys: 100 });
    for (let i = 0; i < 1_000; i++) expect((await take(`k${i}`)).allowed).toBe(true);
    // The last 100 are remembered (empty buckets); the first were dropped.
    for (let i = 900; i < 1_000; i++) expect((await take(`k${i}`)).allowed).toBe(false);
    expect((await take("k0")).allowed).toBe(true);
  });

  it("rejects options no limiter could honour", () => {
    expect(() => createMemoryRateLimiter({ ratePerSecond: 0, burst: 1 })).toThrow(RangeError);
    expect(() => createMemoryRateLimiter({ ratePerSecond: 1, burst: 0 })).toThrow(RangeError);
    expect(() => createMemoryRateLimiter({ ratePerSecond: 1, burst: 1.5 })).toThrow(RangeError);
    expect(() => createMemoryRateLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 0 })).toThrow(RangeError);
  });

  it("never allows more than burst + rate * elapsed, and a denial's wait is exact", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.double({ min: 0.1, max: 1_000, noNaN: true }),
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 500 }), fc.integer({ min: 1, max: 25 })), { minLength: 1, maxLength: 40 }),
        async (rate, burst, steps) => {
          const { take, clock } = simulated({ ratePerSecond: rate, burst, maxKeys: 8 });
          let taken = 0;
          for (const [gap, cost] of steps) {
            clock.t += gap;
            const d = await take("k", cost);
            if (d.allowed) {
              taken += Math.min(cost, burst);
              continue;
            }
            expect(d.retryAfterMs).toBeGreaterThan(0);
            const at = clock.t;
            clock.t = at + d.retryAfterMs - 1;
            expect((await take("k", cost)).allowed).toBe(false);
            clock.t = at + d.retryAfterMs;
            expect((await take("k", cost)).allowed).toBe(true);
            taken += Math.min(cost, burst);
          }
          expect(taken).toBeLessThanOrEqual(burst + Math.floor((clock.t * rate) / 1000 + 1e-6));
        },
      ),
      { numRuns: 100 },
    );
  });
});

const open: RateLimiter[] = [];
async function redisLimiter(redis: RedisConfig, limits: Omit<RateLimitOptions, "now"> & { now?: () => number }, logger = silent) {
  const limiter = await createRateLimiter({ ...limits, redis, logger });
  open.push(limiter);
  return limiter;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((limiter) => limiter.close()));
});

describe.runIf(machineRedis)("redis rate limiter (the machine's Redis)", () => {
  const config = (): RedisConfig => ({ url: `redis://127.0.0.1:${MACHINE_REDIS}`, prefix: `test-ratelimit-${randomUUID()}`, reconnectMaxMs: 100 });
  const direct = new Redis(MACHINE_REDIS, "127.0.0.1", { lazyConnect: true });
  afterAll(() => direct.disconnect());

  it("shares one bucket between two instances, whatever their clocks say", async () => {
    const redis = config();
    const limits = { ratePerSecond: 0.5, burst: 5 };
    const a = await redisLimiter(redis, limits);
    // An instance whose own clock is an hour off: Redis's clock decides, not this one.
    const b = await redisLimiter(redis, { ...limits, now: () => performance.now() + 3_600_000 });
    expect([a.backend, b.backend]).toEqual(["redis", "redis"]);

    const decisions = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).take("client-1")));
    expect(decisions.every((d) => d.backend === "redis")).toBe(true);
    const allowed = decisions.filter((d) => d.allowed);
    expect(allowed).toHaveLength(5);
    expect(allowed.map((d) => d.remaining).sort()).toEqual([0, 1, 2, 3, 4]);
    for (const d of decisions.filter((d) => !d.allowed)) {
      // One interval (2 s) less the little time the calls took.
      expect(d.retryAfterMs).toBeGreaterThan(1_500);
      expect(d.retryAfterMs).toBeLessThanOrEqual(2_000);
      expect(d.remaining).toBe(0);
    }
    // Another key has its own bucket; a batch takes several tokens at once.
    expect(await b.take("client-2", 3)).toMatchObject({ allowed: true, remaining: 2, backend: "redis" });
    expect(await a.take("client-2", 3)).toMatchObject({ allowed: false, remaining: 2 });
    expect(await a.take("client-2", 99)).toMatchObject({ allowed: false, remaining: 2 });
  });

  it("lets idle buckets expire", async () => {
    const redis = config();
    const limiter = await redisLimiter(redis, { ratePerSecond: 2, burst: 4 });
    await limiter.take("idle", 3);
    await direct.connect();
    try {
      const pttl = await direct.pttl(`${redis.prefix}:ratelimit:idle`);
      // Full again 3 intervals (1.5 s) later, and gone then.
      expect(pttl).toBeGreaterThan(1_000);
      expect(pttl).toBeLessThanOrEqual(1_500);
      // A denial does not write: no key for a bucket nobody could take from.
      await limiter.take("idle", 4);
      expect(await direct.pttl(`${redis.prefix}:ratelimit:idle`)).toBeLessThanOrEqual(pttl);
    } finally {
      direct.disconnect();
    }
  });
});

describe.runIf(hasRedisServer)("redis rate limiter through an outage", () => {
  let server: RedisServer;
  afterAll(async () => {
    await server?.stop();
  });

  it("answers from memory while Redis is down, fast, and goes back to Redis when it returns", async () => {
    server = await RedisServer.start();
    const log = capturingLogger();
    const limiter = await redisLimiter({ url: server.url, prefix: `test-${randomUUID()}`, reconnectMaxMs: 100 }, { ratePerSecond: 1, burst: 2 }, log.logger);
    expect(limiter.backend).toBe("redis");
    expect(await limiter.take("k")).toMatchObject({ allowed: true, remaining: 1, backend: "redis" });

    await server.stop();
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const d = await limiter.take(`down-${i}`);
      expect(performance.now() - started).toBeLessThan(500);
      expect(d).toMatchObject({ allowed: true, backend: "memory" });
    }
    expect(limiter.backend).toBe("memory");
    // The in-process fallback still limits.
    await limiter.take("down-0");
    expect(await limiter.take("down-0")).toMatchObject({ allowed: false, backend: "memory" });

    await server.start();
    await until(() => limiter.backend === "redis", "the limiter to use Redis again");
    // This redis-server keeps nothing across a restart: the buckets in Redis start full again.
    expect(await limiter.take("k")).toMatchObject({ allowed: true, remaining: 1, backend: "redis" });
    expect(await limiter.take("k")).toMatchObject({ allowed: true, remaining: 0, backend: "redis" });
    expect(await limiter.take("k")).toMatchObject({ allowed: false, backend: "redis" });
    expect(log.warnings()).toHaveLength(1);
    expect(log.infos()).toHaveLength(1);
  });

  it("starts without a reachable Redis, answering from memory", async () => {
    const log = capturingLogger();
    const started = performance.now();
    const limiter = await redisLimiter({ url: `redis://127.0.0.1:${await freePort()}`, prefix: "test", reconnectMaxMs: 100 }, { ratePerSecond: 1, burst: 1 }, log.logger);
    expect(performance.now() - started).toBeLessThan(1_500);
    expect(limiter.backend).toBe("memory");
    expect(await limiter.take("k")).toMatchObject({ allowed: true, backend: "memory" });
    expect(await limiter.take("k")).toMatchObject({ allowed: false, backend: "memory" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(log.warnings()).toHaveLength(1);
  });

  it("does not wait on a Redis that hangs", async () => {
    server ??= await RedisServer.start();
    if (!server.running) await server.start();
    const log = capturingLogger();
    // reconnectMaxMs is also how long a hung Redis is skipped: long enough for the loop below on a busy machine.
    const limiter = await redisLimiter({ url: server.url, prefix: `test-${randomUUID()}`, reconnectMaxMs: 400 }, { ratePerSecond: 1, burst: 2 }, log.logger);
    expect(limiter.backend).toBe("redis");
    server.pause();
    try {
      const times: number[] = [];
      for (let i = 0; i < 5; i++) {
        const started = performance.now();
        expect(await limiter.take(`hung-${i}`)).toMatchObject({ allowed: true, backend: "memory" });
        times.push(performance.now() - started);
      }
      // The first call pays the command timeout; the next ones skip Redis until it is due for a retry.
      expect(Math.max(...times)).toBeLessThan(500);
      expect(times.slice(1).every((t) => t < 50)).toBe(true);
      expect(limiter.backend).toBe("memory");
    } finally {
      server.resume();
    }
    await new Promise((resolve) => setTimeout(resolve, 450));
    expect(await limiter.take("after")).toMatchObject({ allowed: true, backend: "redis" });
    expect(limiter.backend).toBe("redis");
    expect(log.warnings()).toHaveLength(1);
    expect(log.infos()).toHaveLength(1);
  });
});
