import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { ConfigError, loadConfig, type RedisConfig } from "../src/config.js";
import { createEventBus, EventBus, MAX_PENDING_EVENTS } from "../src/subscriptions/pubsub.js";
import { RedisEventRelay } from "../src/subscriptions/redis-relay.js";
import type { PromptEventPayload } from "../src/subscriptions/topics.js";
import { freePort, hasRedisServer, RedisServer, redisAnswers } from "./helpers/redis-server.js";
import { requireService } from "./helpers/services.js";

const MACHINE_REDIS = 6379;
const machineRedis = await redisAnswers(MACHINE_REDIS);
requireService("Redis on 127.0.0.1:6379", machineRedis);
requireService(`redis-server (${"apt-get install redis-server"})`, hasRedisServer);

/** A logger whose lines the test can read. */
function capturingLogger() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
  const logger = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { logger, lines, messages: () => lines.map((l) => l.msg) };
}

const event = (promptName: string): PromptEventPayload => ({
  type: "CREATED",
  promptId: randomUUID(),
  promptName,
  versionNumber: 1,
  occurredAt: new Date().toISOString(),
});

/** Collects a bus's prompt events in the background. */
function listen(bus: EventBus) {
  const events: string[] = [];
  const repeater = bus.subscribe("prompt.events");
  const done = (async () => {
    for await (const e of repeater) events.push(e.promptName);
  })();
  return { events, stop: async () => (await repeater.return(), await done) };
}

/** Lets promise continuations run, but no I/O: whatever arrives now came without a round trip. */
async function microtasks() {
  for (let i = 0; i < 100; i++) await Promise.resolve();
}

async function until(condition: () => boolean, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const open: EventBus[] = [];
async function redisBus(config: Partial<RedisConfig> & { url: string }, logger = pino({ level: "silent" })) {
  const bus = await createEventBus({ redis: { prefix: `test-${randomUUID()}`, reconnectMaxMs: 100, ...config } }, logger);
  open.push(bus);
  return bus;
}
afterEach(async () => {
  await Promise.all(open.splice(0).map((bus) => bus.close()));
});

describe("EventBus in memory", () => {
  it("delivers to this process's subscribers and has no health to report", async () => {
    const bus = await createEventBus({}, pino({ level: "silent" }));
    const a = listen(bus);
    const b = listen(bus);
    await new Promise((resolve) => setImmediate(resolve));
    bus.publish("prompt.events", event("mem/one"));
    bus.publish("prompt.events", event("mem/two"));
    await until(() => a.events.length === 2 && b.events.length === 2, "two events on each subscriber");
    expect(a.events).toEqual(["mem/one", "mem/two"]);
    expect(b.events).toEqual(["mem/one", "mem/two"]);
    expect(bus.health()).toBeNull();
    await a.stop();
    await b.stop();
    await bus.close();
  });
});

describe("Subscription", () => {
  it("listens from the moment it is made, before anyone reads it", async () => {
    const bus = new EventBus();
    const sub = bus.subscribe("prompt.events");
    bus.publish("prompt.events", event("early/one"));
    bus.publish("prompt.events", event("early/two"));
    expect((await sub.next()).value?.promptName).toBe("early/one");
    expect((await sub.next()).value?.promptName).toBe("early/two");
    await sub.return();
    expect(bus.subscriberCount("prompt.events")).toBe(0);
  });

  it("filters before queueing, and ends a subscriber that stops reading instead of growing or throwing", async () => {
    const bus = new EventBus();
    const mine = bus.subscribe("prompt.events", (e) => e.promptName.startsWith("mine/"));
    const stalled = bus.subscribe("prompt.events");
    expect(() => {
      for (let i = 0; i < MAX_PENDING_EVENTS + 100; i++) bus.publish("prompt.events", event(i % 2 === 0 ? `mine/${i}` : `other/${i}`));
    }).not.toThrow();
    // The stalled one keeps what it had queued, then ends; it no longer counts as open.
    expect(stalled.overflowed).toBe(true);
    expect(bus.subscriberCount("prompt.events")).toBe(1);
    let read = 0;
    for await (const _ of stalled) read++;
    expect(read).toBe(MAX_PENDING_EVENTS);
    // The filtered one queued only its own events, fewer than the limit: still open.
    expect(mine.overflowed).toBe(false);
    expect((await mine.next()).value?.promptName).toBe("mine/0");
    await mine.return();
    expect(bus.subscriberCount("prompt.events")).toBe(0);
  });
});

describe("REDIS_URL configuration", () => {
  it("is off without REDIS_URL and carries the prefix and reconnect ceiling with it", () => {
    expect(loadConfig({}).redis).toBeUndefined();
    expect(loadConfig({ REDIS_URL: "rediss://user:pw@cache.internal:6380/2", PROMPT_STORE_REDIS_PREFIX: "ps-staging" }).redis).toEqual({
      url: "rediss://user:pw@cache.internal:6380/2",
      prefix: "ps-staging",
      reconnectMaxMs: 2000,
    });
  });

  it.each(["http://127.0.0.1:6379", "redis://", "127.0.0.1:6379", "redis://h:6379/zero", "redis://h:99999"])(
    "rejects REDIS_URL=%s naming the variable",
    (value) => {
      expect(() => loadConfig({ REDIS_URL: value })).toThrowError(ConfigError);
      expect(() => loadConfig({ REDIS_URL: value })).toThrowError(/REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
    },
  );

  it("never repeats a password in the message", () => {
    expect(() => loadConfig({ REDIS_URL: "http://admin:hunter2@h:6379" })).toThrowError(/got "http:\/\/\*\*\*@h:6379"/);
  });
});

describe.runIf(machineRedis)("EventBus over the machine's Redis (127.0.0.1:6379)", () => {
  it("two instances get each other's events exactly once and their own only locally", async () => {
    const prefix = `test-${randomUUID()}`;
    const a = await redisBus({ url: `redis://127.0.0.1:${MACHINE_REDIS}`, prefix });
    const b = await redisBus({ url: `redis://127.0.0.1:${MACHINE_REDIS}`, prefix });
    await until(() => !!a.health()?.ok && !!b.health()?.ok, "both buses connected and subscribed");
    const onA = listen(a);
    const onB = listen(b);
    await new Promise((resolve) => setImmediate(resolve));

    a.publish("prompt.events", event("from-a/1"));
    a.publish("prompt.events", event("from-a/2"));
    b.publish("prompt.events", event("from-b/1"));
    // Own events arrive at once, without Redis.
    await microtasks();
    expect(onA.events).toEqual(["from-a/1", "from-a/2"]);
    expect(onB.events).toEqual(["from-b/1"]);

    // Every message has come back from Redis (echoes included) before we look for duplicates.
    await until(() => a.stats()!.echoesIgnored === 2 && b.stats()!.echoesIgnored === 1, "the echoes to come back");
    await until(() => a.stats()!.received === 1 && b.stats()!.received === 2, "the other instance's events");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(onA.events).toEqual(["from-a/1", "from-a/2", "from-b/1"]);
    expect(onB.events).toEqual(["from-b/1", "from-a/1", "from-a/2"]);
    expect(a.stats()).toMatchObject({ sent: 2, notSent: 0, received: 1, echoesIgnored: 2, malformed: 0 });
    expect(b.stats()).toMatchObject({ sent: 1, notSent: 0, received: 2, echoesIgnored: 1, malformed: 0 });

    // Something else on the channel is counted and ignored, not delivered.
    const other = new Redis(MACHINE_REDIS, "127.0.0.1");
    await other.publish(`${prefix}:events`, "not an event");
    await other.quit();
    await until(() => b.stats()!.malformed === 1, "the foreign message to arrive");
    expect(onB.events).toHaveLength(3);
    await onA.stop();
    await onB.stop();
  });

  it("does not hear another deployment's prefix", async () => {
    const a = await redisBus({ url: `redis://127.0.0.1:${MACHINE_REDIS}` });
    const b = await redisBus({ url: `redis://127.0.0.1:${MACHINE_REDIS}` });
    await until(() => !!a.health()?.ok && !!b.health()?.ok, "both buses connected and subscribed");
    a.publish("prompt.events", event("private/1"));
    await until(() => a.stats()!.echoesIgnored === 1, "a's own echo");
    expect(b.stats()).toMatchObject({ received: 0, malformed: 0 });
  });
});

describe.runIf(hasRedisServer)("EventBus while its own redis-server comes and goes", () => {
  let server: RedisServer | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it("publishes without throwing or waiting while Redis is down, logs the outage once, subscribes when Redis comes up", async () => {
    const port = await freePort();
    const log = capturingLogger();
    const a = await redisBus({ url: `redis://127.0.0.1:${port}`, prefix: "outage" }, log.logger);
    const b = await redisBus({ url: `redis://127.0.0.1:${port}`, prefix: "outage" });
    const onA = listen(a);
    const onB = listen(b);
    await new Promise((resolve) => setImmediate(resolve));
    await until(() => a.health()?.detail?.includes("ECONNREFUSED") === true, "a connection error");

    const started = performance.now();
    for (let i = 0; i < 50; i++) a.publish("prompt.events", event(`down/${i}`));
    expect(performance.now() - started).toBeLessThan(50);
    await until(() => onA.events.length === 50, "a's own events, locally");
    expect(a.stats()).toMatchObject({ sent: 0, notSent: 50 });
    expect(a.health()).toEqual({ ok: false, detail: expect.stringMatching(/^redis unavailable since .*ECONNREFUSED.*50 events not sent/) });
    // Reconnection attempts every 100 ms meanwhile: still one warning.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(log.lines.filter((l) => l.level === 40).map((l) => l.msg)).toEqual([
      "redis unavailable: live events reach only this instance's subscribers until it returns",
    ]);

    // The SUBSCRIBE wanted at start-up happens once Redis is there (ioredis's autoResubscribe would not).
    server = await RedisServer.start(port);
    await until(() => !!a.health()?.ok && !!b.health()?.ok, "both buses to reconnect", 5_000);
    expect(log.messages()).toContain("redis available again: live events cross instances again");
    a.publish("prompt.events", event("up/1"));
    await until(() => onB.events.includes("up/1"), "a's event on b");
    expect(onB.events).toEqual(["up/1"]);
    await onA.stop();
    await onB.stop();
  });

  it("notices a Redis that stops answering without closing, and recovers when it answers again", async () => {
    server ??= await RedisServer.start();
    const config = { url: `redis://127.0.0.1:${server.port}`, prefix: "hung", reconnectMaxMs: 100 };
    const silent = pino({ level: "silent" });
    const a = new EventBus(new RedisEventRelay(config, silent, { heartbeatMs: 100, commandTimeoutMs: 300 }));
    const b = new EventBus(new RedisEventRelay(config, silent, { heartbeatMs: 100, commandTimeoutMs: 300 }));
    open.push(a, b);
    await until(() => !!a.health()?.ok && !!b.health()?.ok, "both buses connected and subscribed");
    const onB = listen(b);
    await new Promise((resolve) => setImmediate(resolve));

    server.pause();
    try {
      await until(() => a.health()?.ok === false && b.health()?.ok === false, "the heartbeat to notice", 3_000);
      expect(a.health()!.detail).toMatch(/timed out/);
      const started = performance.now();
      a.publish("prompt.events", event("while-hung"));
      expect(performance.now() - started).toBeLessThan(20);
    } finally {
      server.resume();
    }
    await until(() => !!a.health()?.ok && !!b.health()?.ok, "both buses to recover", 5_000);
    a.publish("prompt.events", event("after-hang"));
    await until(() => onB.events.includes("after-hang"), "a's event on b after the hang");
    // "while-hung" may or may not have reached b (it may have sat in a socket buffer): never twice.
    expect(onB.events.filter((name) => name === "after-hang")).toHaveLength(1);
    expect(onB.events.filter((name) => name === "while-hung").length).toBeLessThanOrEqual(1);
    await onB.stop();
  });

  it("subscribes again after Redis restarts on the same port", async () => {
    server ??= await RedisServer.start();
    const url = `redis://127.0.0.1:${server.port}`;
    const a = await redisBus({ url, prefix: "restart" });
    const b = await redisBus({ url, prefix: "restart" });
    await until(() => !!a.health()?.ok && !!b.health()?.ok, "both buses connected and subscribed");
    const onB = listen(b);
    await new Promise((resolve) => setImmediate(resolve));

    await server.stop();
    await until(() => a.health()?.ok === false && b.health()?.ok === false, "both buses to see the outage");
    b.publish("prompt.events", event("local-only"));
    await microtasks();
    expect(onB.events).toEqual(["local-only"]);

    await server.start();
    await until(() => !!a.health()?.ok && !!b.health()?.ok, "both buses to reconnect and subscribe", 5_000);
    a.publish("prompt.events", event("after-restart"));
    await until(() => onB.events.includes("after-restart"), "a's event on b after the restart");
    expect(onB.events).toEqual(["local-only", "after-restart"]);
    await onB.stop();
  });
});
