// The cache: its in-process level alone, then with Redis (a redis-server of this test's own, stopped,
// paused and started again) as the second level shared by two Cache instances standing for two server
// processes, with invalidations crossing between them on EventBuses relayed over that Redis.
import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Cache, type CacheOptions } from "../src/cache/cache.js";
import { createCache } from "../src/cache/create-cache.js";
import { cacheRedisOptions } from "../src/cache/redis-store.js";
import { createEventBus, type EventBus } from "../src/subscriptions/pubsub.js";
import { TMP_ROOT } from "./helpers/paths.js";
import { freePort, hasRedisServer, RedisServer } from "./helpers/redis-server.js";
import { requireService } from "./helpers/services.js";

requireService("redis-server (apt-get install redis-server)", hasRedisServer);

const silent = pino({ level: "silent" });

async function until<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/** A loader that counts its calls. */
function loader<T>(value: T) {
  const load = async () => {
    load.calls++;
    return value;
  };
  load.calls = 0;
  return load;
}

const open: Cache[] = [];
const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((cache) => cache.close()));
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
});

function localCache(options: Partial<CacheOptions> = {}) {
  const cache = new Cache({ maxEntries: 100, maxBytes: 1 << 20, defaultTtlMs: 60_000, logger: silent, ...options });
  open.push(cache);
  return cache;
}

describe("Cache in one process", () => {
  it("keeps at most maxEntries, evicting the least recently used", async () => {
    const cache = localCache({ maxEntries: 3 });
    for (const key of ["a", "b", "c"]) cache.set(key, key.toUpperCase());
    expect(await cache.get("a")).toBe("A"); // a is now the most recently used
    cache.set("d", "D");
    expect(await cache.get("b")).toBeUndefined();
    expect([await cache.get("a"), await cache.get("c"), await cache.get("d")]).toEqual(["A", "C", "D"]);
    expect(cache.stats()).toMatchObject({ l1: { entries: 3, maxEntries: 3 }, evictions: 1, l2: { enabled: false, healthy: false } });
    expect(cache.health()).toBeNull();
  });

  it("keeps at most maxBytes (key plus value JSON), and keeps no entry larger than that", async () => {
    const cache = localCache({ maxBytes: 100 });
    const value = "x".repeat(28); // JSON "xxx…": 30 bytes, plus a 2-byte key
    for (const key of ["k1", "k2", "k3"]) cache.set(key, value);
    expect(cache.stats().l1).toMatchObject({ entries: 3, bytes: 96 });
    cache.set("k4", value);
    expect(cache.stats()).toMatchObject({ l1: { entries: 3, bytes: 96 }, evictions: 1 });
    expect(await cache.get("k1")).toBeUndefined();

    cache.set("big", "y".repeat(200));
    expect(await cache.get("big")).toBeUndefined();
    expect(cache.stats()).toMatchObject({ l1: { entries: 3, bytes: 96 }, evictions: 1 });
    // Multi-byte characters count as bytes, not characters: 2 + 2 + 16 × 3 = 52 bytes.
    cache.set("k5", "€".repeat(16));
    expect(cache.stats().l1.bytes).toBeLessThanOrEqual(100);
    expect(await cache.get("k5")).toBe("€".repeat(16));
  });

  it("expires entries after their ttl", async () => {
    const cache = localCache();
    cache.set("short", 1, { ttlMs: 40 });
    cache.set("long", 2);
    const load = loader("loaded");
    expect(await cache.getOrLoad("loaded", load, { ttlMs: 40 })).toBe("loaded");
    await sleep(80);
    expect(await cache.get("short")).toBeUndefined();
    expect(await cache.get("long")).toBe(2);
    expect(await cache.getOrLoad("loaded", load, { ttlMs: 40 })).toBe("loaded");
    expect(load.calls).toBe(2);
    // Expiry is not eviction.
    expect(cache.stats().evictions).toBe(0);
  });

  it("loads once for concurrent misses of a key, and caches nothing when the load fails", async () => {
    const cache = localCache();
    const pending = deferred<{ version: number }>();
    let calls = 0;
    const load = () => (calls++, pending.promise);
    const all = Promise.all(Array.from({ length: 20 }, () => cache.getOrLoad("k", load)));
    await sleep(5);
    pending.resolve({ version: 3 });
    expect(await all).toEqual(Array(20).fill({ version: 3 }));
    expect(calls).toBe(1);
    expect(await cache.getOrLoad("k", load)).toEqual({ version: 3 });
    expect(calls).toBe(1);
    expect(cache.stats().l1).toMatchObject({ hits: 1, misses: 20 });

    // Every get is a copy: a caller changing its value changes nobody else's.
    ((await cache.get<{ version: number }>("k")) as { version: number }).version = 99;
    expect(await cache.get("k")).toEqual({ version: 3 });

    let failures = 0;
    const failing = async () => {
      failures++;
      await sleep(5);
      throw new Error("database down");
    };
    const results = await Promise.allSettled([cache.getOrLoad("f", failing), cache.getOrLoad("f", failing)]);
    expect(results.map((r) => r.status)).toEqual(["rejected", "rejected"]);
    expect(failures).toBe(1);
    expect(await cache.getOrLoad("f", async () => "recovered")).toBe("recovered");
    // undefined is returned, not cached; null is a value.
    const none = loader(undefined);
    await cache.getOrLoad("none", none);
    await cache.getOrLoad("none", none);
    expect(none.calls).toBe(2);
    const nothing = loader(null);
    await cache.getOrLoad("null", nothing);
    expect(await cache.getOrLoad("null", nothing)).toBeNull();
    expect(nothing.calls).toBe(1);
  });

  it("invalidates by key and by tag, following a key's tags when it is set again", async () => {
    const cache = localCache();
    cache.set("a", 1, { tags: ["p1"] });
    cache.set("b", 2, { tags: ["p1", "p2"] });
    cache.set("c", 3, { tags: ["p2"] });
    cache.set("d", 4);
    cache.set("e", 5, { tags: ["old"] });
    cache.set("e", 6, { tags: ["new"] });
    await cache.invalidateTags(["p1", "old"]);
    expect([await cache.get("a"), await cache.get("b"), await cache.get("c"), await cache.get("d"), await cache.get("e")]).toEqual([undefined, undefined, 3, 4, 6]);
    await cache.invalidateTags(["p2", "new"]);
    await cache.delete("d");
    expect(cache.stats().l1.entries).toBe(0);
  });

  it("does not store a load that an invalidation overtook, and later callers do not join it", async () => {
    const cache = localCache();
    const cases: [string, () => Promise<void>, string][] = [
      ["invalidateTags", () => cache.invalidateTags(["t"]), "new"],
      ["invalidateKeys", () => cache.invalidateKeys(["k"]), "new"],
      ["set", async () => cache.set("k", "set", { tags: ["t"] }), "set"],
    ];
    for (const [what, overtake, expected] of cases) {
      cache.clear();
      const old = deferred<string>();
      const first = cache.getOrLoad("k", () => old.promise, { tags: ["t"] });
      await sleep(1);
      await overtake();
      const fresh = loader("new");
      const second = cache.getOrLoad("k", fresh, { tags: ["t"] });
      old.resolve("old");
      expect(await first, what).toBe("old"); // its callers still get what they waited for
      expect(await second, what).toBe(expected);
      expect(fresh.calls, what).toBe(expected === "new" ? 1 : 0);
      expect(await cache.get("k"), what).toBe(expected);
    }
  });

  it("answers values that are not JSON-safe without caching them", async () => {
    const cache = localCache();
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(await cache.getOrLoad("cyclic", async () => cyclic)).toBe(cyclic);
    cache.set("big", 10n);
    expect(cache.stats().l1.entries).toBe(0);
  });

  it("is local only when no Redis is configured", async () => {
    const cache = await createCache({}, silent, { maxEntries: 10 });
    open.push(cache);
    cache.set("k", "v");
    expect(await cache.get("k")).toBe("v");
    expect(cache.stats()).toMatchObject({ l1: { entries: 1, maxEntries: 10 }, l2: { enabled: false, healthy: false, hits: 0 } });
  });
});

describe.runIf(hasRedisServer)("Cache with Redis as the second level", () => {
  let redis: RedisServer;
  let admin: Redis;

  beforeAll(async () => {
    mkdirSync(TMP_ROOT, { recursive: true }); // RedisServer keeps its (empty) data directory there
    redis = await RedisServer.start();
    admin = new Redis(redis.port, "127.0.0.1");
  });

  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  /** A Cache standing for one server process (its own client, L1 and origin); timeouts are not what these tests are about. */
  async function instance(prefix: string, options: Partial<CacheOptions> = {}, server = redis) {
    const cache = new Cache({
      maxEntries: 100,
      maxBytes: 1 << 20,
      defaultTtlMs: 60_000,
      logger: silent,
      redis: { client: () => new Redis(server.url, cacheRedisOptions({ reconnectMaxMs: 100 }, 1_000)), prefix, commandTimeoutMs: 1_000, writeTimeoutMs: 1_000 },
      ...options,
    });
    open.push(cache);
    await until(() => cache.stats().l2.healthy, "the cache's redis connection");
    return cache;
  }

  async function bus(prefix: string) {
    const created = await createEventBus({ redis: { url: redis.url, prefix, reconnectMaxMs: 100 } }, silent);
    buses.push(created);
    await until(() => created.health()?.ok, "the event relay to connect");
    return created;
  }

  it("serves from Redis what another instance cached, with its remaining ttl and its tags", async () => {
    const prefix = `cache-${randomUUID()}`;
    const a = await instance(prefix);
    const b = await instance(prefix);
    a.set("prompt:greeting:production", { version: 7 }, { ttlMs: 5_000, tags: ["prompt:greeting"] });
    // set writes Redis in the background: wait for it.
    await until(async () => (await admin.exists(`${prefix}:cache:k:prompt:greeting:production`)) === 1, "the write to reach Redis");
    const pttl = await admin.pttl(`${prefix}:cache:k:prompt:greeting:production`);
    expect(pttl).toBeGreaterThan(4_000);
    expect(pttl).toBeLessThanOrEqual(5_000);

    const load = loader({ version: 0 });
    expect(await b.getOrLoad("prompt:greeting:production", load)).toEqual({ version: 7 });
    expect(load.calls).toBe(0);
    expect(b.stats()).toMatchObject({ l1: { entries: 1, misses: 1 }, l2: { enabled: true, healthy: true, hits: 1, misses: 0, errors: 0 } });
    // Now from B's first level.
    expect(await b.get("prompt:greeting:production")).toEqual({ version: 7 });
    expect(b.stats().l2.hits).toBe(1);
    // The tags came along: invalidating the tag on B drops B's copy, and Redis's.
    await b.invalidateTags(["prompt:greeting"]);
    expect(b.stats().l1.entries).toBe(0);
    expect(await admin.exists(`${prefix}:cache:k:prompt:greeting:production`)).toBe(0);
    expect(await a.getOrLoad("prompt:greeting:production", loader({ version: 8 }))).toEqual({ version: 7 }); // A has no bus: its L1 keeps it
  });

  it("falls back to Redis after a local eviction", async () => {
    const cache = await instance(`cache-${randomUUID()}`, { maxEntries: 2 });
    const load = loader("never");
    for (const key of ["k1", "k2", "k3"]) await cache.getOrLoad(key, async () => key.toUpperCase());
    expect(cache.stats()).toMatchObject({ l1: { entries: 2 }, evictions: 1 });
    expect(await cache.getOrLoad("k1", load)).toBe("K1");
    expect(load.calls).toBe(0);
    expect(cache.stats().l2).toMatchObject({ hits: 1, misses: 3 });
  });

  it("drops an entry on every instance when one invalidates its tag or key", async () => {
    const prefix = `cache-${randomUUID()}`;
    const [busA, busB] = await Promise.all([bus(prefix), bus(prefix)]);
    const a = await instance(prefix, { bus: busA });
    const b = await instance(prefix, { bus: busB });
    for (const cache of [a, b]) {
      await cache.getOrLoad("prompt:x:production", async () => ({ version: 1 }), { tags: ["prompt:x"] });
      await cache.getOrLoad("prompt:y:production", async () => ({ version: 1 }), { tags: ["prompt:y"] });
    }
    expect([a.stats().l1.entries, b.stats().l1.entries]).toEqual([2, 2]);

    await a.invalidateTags(["prompt:x"]);
    expect(a.stats().l1.entries).toBe(1);
    await until(() => b.stats().l1.entries === 1, "B to drop the tagged entry");
    const load = loader({ version: 2 });
    expect(await b.getOrLoad("prompt:x:production", load, { tags: ["prompt:x"] })).toEqual({ version: 2 });
    expect(load.calls).toBe(1);

    await a.invalidateKeys(["prompt:y:production"]);
    await until(() => b.stats().remoteInvalidations === 2, "B to get the key invalidation");
    expect(await b.getOrLoad("prompt:y:production", async () => ({ version: 2 }))).toEqual({ version: 2 });
    // set() replaces the value everywhere: B's copy goes, and B reads A's from Redis.
    expect(await b.get("prompt:y:production")).toEqual({ version: 2 });
    a.set("prompt:y:production", { version: 3 });
    await until(() => b.stats().remoteInvalidations === 3, "B to hear of A's set");
    expect(await b.get("prompt:y:production")).toEqual({ version: 3 });
    // A skipped its own events.
    expect(a.stats().remoteInvalidations).toBe(0);
  });

  it("keeps a load that an invalidation on another instance overtook out of Redis, even before the event arrives", async () => {
    const prefix = `cache-${randomUUID()}`;
    const a = await instance(prefix); // no bus: only Redis's generations can stop B's write
    const b = await instance(prefix);
    const old = deferred<string>();
    let loading = false;
    const result = b.getOrLoad("k", () => ((loading = true), old.promise), { tags: ["t"] });
    await until(() => loading, "B's load to start");
    await a.invalidateTags(["t"]);
    old.resolve("old");
    expect(await result).toBe("old");
    await b.get("other"); // a command after B's write on B's connection: the write has been decided
    expect(await admin.exists(`${prefix}:cache:k:k`)).toBe(0);
    const c = await instance(prefix);
    expect(await c.getOrLoad("k", async () => "new", { tags: ["t"] })).toBe("new");
  });

  it("keeps a load that an invalidation overtook out of both levels when the event arrives in time", async () => {
    const prefix = `cache-${randomUUID()}`;
    const [busA, busB] = await Promise.all([bus(prefix), bus(prefix)]);
    const a = await instance(prefix, { bus: busA });
    const b = await instance(prefix, { bus: busB });
    const old = deferred<string>();
    let loading = false;
    const result = b.getOrLoad("k", () => ((loading = true), old.promise), { tags: ["t"] });
    await until(() => loading, "B's load to start");
    await a.invalidateTags(["t"]);
    await until(() => b.stats().remoteInvalidations === 1, "the invalidation to reach B");
    old.resolve("old");
    expect(await result).toBe("old");
    await b.get("other");
    expect(b.stats().l1.entries).toBe(0);
    expect(await admin.exists(`${prefix}:cache:k:k`)).toBe(0);
    const load = loader("new");
    expect(await b.getOrLoad("k", load, { tags: ["t"] })).toBe("new");
    expect(load.calls).toBe(1);
  });

  it("answers from this process while Redis is stopped or hangs, says so, and uses Redis again once it is back", async () => {
    const server = await RedisServer.start();
    let check: Redis | undefined;
    try {
      const prefix = `cache-${randomUUID()}`;
      const config = { redis: { url: server.url, prefix, reconnectMaxMs: 100 } };
      // The defaults: reads give up after 50 ms, and after a failure Redis is skipped for 1 s.
      const cache = await createCache(config, silent);
      const other = await createCache(config, silent);
      open.push(cache, other);
      await until(() => cache.stats().l2.healthy && other.stats().l2.healthy, "the caches' redis connections");
      expect(await cache.getOrLoad("warm", async () => "cached")).toBe("cached");

      // Stopped: connections refused.
      await server.stop();
      await until(() => !cache.stats().l2.healthy, "the cache to notice the outage");
      expect(cache.health()).toMatchObject({ ok: false, detail: expect.stringContaining("cache redis unavailable") });
      let started = Date.now();
      expect(await cache.get("warm")).toBe("cached");
      expect(await cache.get("missing")).toBeUndefined();
      const load = loader("loaded while down");
      expect(await cache.getOrLoad("fresh", load)).toBe("loaded while down");
      expect(await cache.getOrLoad("fresh", load)).toBe("loaded while down");
      expect(load.calls).toBe(1);
      cache.set("set-while-down", 1);
      await cache.invalidateTags(["anything"]);
      expect(Date.now() - started).toBeLessThan(200);

      // Back on the same port: L2 works again. The connection was lost, so invalidation events may have
      // been missed: the local level was dropped.
      await server.start();
      await until(() => cache.stats().l2.healthy && other.stats().l2.healthy, "the caches to reconnect");
      expect(cache.stats().l1.entries).toBe(0);
      expect(cache.health()).toEqual({ ok: true });
      cache.set("after", { ok: true });
      await until(async () => (await other.get("after")) !== undefined, "the other instance to read it from Redis");
      expect(other.stats().l2.hits).toBe(1);

      // Hung (SIGSTOP): the connection stays open and nothing answers. A read waits at most 50 ms, and
      // only until one has failed: the next ones skip Redis for a while.
      server.pause();
      started = Date.now();
      for (let i = 0; i < 5; i++) expect(await other.getOrLoad(`hung-${i}`, async () => i)).toBe(i);
      expect(await other.get("after")).toEqual({ ok: true }); // from its first level
      await other.invalidateKeys(["after"]); // Redis is skipped: sent to it once it answers again
      expect(Date.now() - started).toBeLessThan(300);
      expect(other.stats().l2).toMatchObject({ healthy: false, errors: 1 });
      server.resume();
      await until(async () => {
        await other.get(`probe-${Date.now()}`);
        return other.stats().l2.healthy;
      }, "the cache to use Redis again after the hang");
      // No connection was lost this time: the local level stayed.
      expect(await other.getOrLoad("hung-0", async () => -1)).toBe(0);
      check = new Redis(server.port, "127.0.0.1");
      await until(async () => (await check!.exists(`${prefix}:cache:k:after`)) === 0, "the invalidation made during the hang to reach Redis");
      other.set("after-hang", 2);
      await until(async () => (await cache.get("after-hang")) === 2, "the write after the hang to reach the other instance");
    } finally {
      check?.disconnect();
      await server.stop();
    }
  });

  it("tells the other instances, once Redis is back, of invalidations it made while it could reach neither Redis nor them", async () => {
    // A's second level and the event bus each on a Redis of their own, B's second level on a third
    // that stays up: B keeps its first level through the outage, so only A can tell it what changed
    // (in the two-process test, B had reconnected and loaded again before A's changes).
    const aStore = await RedisServer.start();
    const busServer = await RedisServer.start();
    try {
      const prefix = `replay-${randomUUID()}`;
      const busOf = async () => {
        const created = await createEventBus({ redis: { url: busServer.url, prefix, reconnectMaxMs: 100 } }, silent);
        buses.push(created);
        await until(() => created.health()?.ok, "the event relay to connect");
        return created;
      };
      const a = await instance(prefix, { bus: await busOf() }, aStore);
      const b = await instance(prefix, { bus: await busOf() });
      expect(await b.getOrLoad("k", async () => "old")).toBe("old");
      await Promise.all([aStore.stop(), busServer.stop()]);
      await until(() => !a.stats().l2.healthy, "A to notice its Redis is down");
      await a.invalidateKeys(["k"]); // neither its Redis nor the bus can take it now
      expect(await b.get("k")).toBe("old");
      await busServer.start();
      await until(() => buses.every((x) => x.health()?.ok), "the relays to reconnect");
      await aStore.start();
      await until(() => a.stats().l2.healthy, "A's Redis to be back");
      // B's own second level is another Redis here (in a deployment both share one, which A's replay
      // cleans): what matters is that B's first level let go.
      await until(() => b.stats().remoteInvalidations > 0 && b.stats().l1.entries === 0, "B to drop what A invalidated while cut off");
    } finally {
      await Promise.all([aStore.stop(), busServer.stop()]);
    }
  });

  it("starts without Redis and uses it once it comes up", async () => {
    const port = await freePort();
    const cache = await createCache({ redis: { url: `redis://127.0.0.1:${port}`, prefix: `cache-${randomUUID()}`, reconnectMaxMs: 100 } }, silent, {
      commandTimeoutMs: 1_000, // not about timeouts: a loaded machine may take more than 50 ms
    });
    open.push(cache);
    const started = Date.now();
    expect(await cache.getOrLoad("k", async () => "v")).toBe("v");
    expect(await cache.get("k")).toBe("v");
    expect(Date.now() - started).toBeLessThan(200);
    expect(cache.stats().l2).toMatchObject({ enabled: true, healthy: false });
    const server = await RedisServer.start(port);
    try {
      await until(() => cache.stats().l2.healthy, "the cache to connect", 5_000);
      await cache.getOrLoad("k2", async () => "v2");
      expect(cache.stats().l2.misses).toBe(1);
    } finally {
      await server.stop();
    }
  });
});
