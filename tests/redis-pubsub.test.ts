// Two server processes on one SQLite file and one Redis (a redis-server of this test's own, so it can
// be stopped and started again): live events cross between them, and a Redis outage only costs that.
import { execFile } from "node:child_process";
import { copyFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { print, type DocumentNode } from "graphql";
import { createClient, type Client } from "graphql-ws";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { CreatePromptDocument, PromptEventsDocument, UpdatePromptDocument, type PromptEventsSubscription } from "./generated/operations.js";
import { REPO_ROOT, TEMPLATE_DB, TMP_ROOT } from "./helpers/paths.js";
import { hasRedisServer, RedisServer } from "./helpers/redis-server.js";
import { startServerProcess, type ServerProcess } from "./helpers/server-process.js";
import { requireService } from "./helpers/services.js";

requireService("redis-server (apt-get install redis-server)", hasRedisServer);

const OUTAGE_LOG = "redis unavailable: live events reach only this instance's subscribers until it returns";
const BACK_LOG = "redis available again: live events cross instances again";

type Event = PromptEventsSubscription["promptEvents"];

async function until<T>(probe: () => T | Promise<T>, what: string, timeoutMs = 5_000): Promise<Exclude<T, false | null | undefined>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as Exclude<T, false | null | undefined>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function graphql(port: number, document: DocumentNode | string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: typeof document === "string" ? document : print(document), variables }),
    signal: AbortSignal.timeout(5_000),
  });
  return { status: res.status, body: (await res.json()) as { data?: Record<string, { id?: string }>; errors?: unknown[] } };
}

async function mutate(port: number, document: DocumentNode, variables: Record<string, unknown>) {
  const result = await graphql(port, document, variables);
  expect(result).toMatchObject({ status: 200 });
  expect(result.body.errors).toBeUndefined();
  return result.body.data!;
}

const createPrompt = (port: number, name: string) => mutate(port, CreatePromptDocument, { input: { name, content: "v1" } });

async function ready(port: number) {
  const res = await fetch(`http://127.0.0.1:${port}/ready`, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: (await res.json()) as { status: string; ready: boolean; checks: Record<string, { ok: boolean; detail?: string }> } };
}

const clients: Client[] = [];

/** A graphql-ws subscriber to every prompt event of one server, proven live before it is returned. */
async function subscriber(server: ServerProcess, name: string) {
  const events: Event[] = [];
  const errors: unknown[] = [];
  const client = createClient({
    url: `ws://127.0.0.1:${server.port}/graphql`,
    webSocketImpl: WebSocket,
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: (error) => errors.push(error),
  });
  clients.push(client);
  client.subscribe<PromptEventsSubscription>(
    { query: print(PromptEventsDocument), variables: {} },
    {
      next: (result) => (result.errors ? errors.push(result.errors) : events.push(result.data!.promptEvents)),
      error: (error) => errors.push(error),
      complete: () => undefined,
    },
  );
  // The subscription is live once an event of this very server reaches it.
  await until(async () => {
    await createPrompt(server.port, `warmup/${name}-${events.length}-${Date.now()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    return events.some((e) => e.promptName.startsWith(`warmup/${name}-`));
  }, `${name}'s subscription to go live`);
  return {
    events,
    errors,
    named: (prefix: string) => events.filter((e) => e.promptName.startsWith(prefix)).map((e) => [e.type, e.promptName, e.versionNumber]),
  };
}

const logged = (server: ServerProcess, msg: string) => server.logs.filter((line) => line.msg === msg).length;

async function stopServer(server: ServerProcess | undefined) {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill("SIGTERM");
  const timer = setTimeout(() => server.child.kill("SIGKILL"), 10_000);
  await server.exited;
  clearTimeout(timer);
}

describe.runIf(hasRedisServer)("live events across two server processes over Redis", () => {
  let redis: RedisServer;
  let a: ServerProcess;
  let b: ServerProcess;
  let onB: Awaited<ReturnType<typeof subscriber>>;
  let onA: Awaited<ReturnType<typeof subscriber>>;

  beforeAll(async () => {
    redis = await RedisServer.start();
    const dir = mkdtempSync(join(TMP_ROOT, "redis-pubsub-"));
    const dbFile = join(dir, "prompt-store.db");
    copyFileSync(TEMPLATE_DB, dbFile);
    const env = { PROMPT_STORE_DB: dbFile, REDIS_URL: redis.url, PROMPT_STORE_REDIS_RECONNECT_MAX_MS: "200" };
    // allSettled: if one fails to start, the other is still known, so afterAll stops it.
    const [startedA, startedB] = await Promise.allSettled([startServerProcess(env), startServerProcess(env)]);
    if (startedA.status === "fulfilled") a = startedA.value;
    if (startedB.status === "fulfilled") b = startedB.value;
    for (const started of [startedA, startedB]) if (started.status === "rejected") throw started.reason;
    for (const server of [a, b]) await until(async () => (await ready(server.port)).body.status === "ready", "the server to be ready");
    // One after the other: two processes writing the same SQLite file at once can fail with SQLITE_BUSY
    // (a deferred transaction that reads, then writes), which is not what this test is about.
    onA = await subscriber(a, "a");
    onB = await subscriber(b, "b");
  });

  afterAll(async () => {
    await Promise.all(clients.map((client) => client.dispose()));
    await Promise.all([stopServer(a), stopServer(b)]);
    await redis?.stop();
  });

  it("delivers the events of mutations made on A to a subscriber on B", async () => {
    const { createPrompt: created } = await createPrompt(a.port, "cross/one");
    await mutate(a.port, UpdatePromptDocument, { prompt: { id: created!.id }, input: { content: "v2" } });
    await until(() => onB.named("cross/").length === 2, "A's events on B");
    expect(onB.named("cross/")).toEqual([
      ["CREATED", "cross/one", 1],
      ["VERSION_CREATED", "cross/one", 2],
    ]);
    // A's own subscriber got them once, not again from Redis.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(onA.named("cross/")).toEqual(onB.named("cross/"));
    expect([onA.errors, onB.errors]).toEqual([[], []]);
  });

  it("keeps both servers answering while Redis is down, reports it on /ready, and A's subscriber still gets A's events", async () => {
    await redis.stop();
    for (const server of [a, b]) {
      const degraded = await until(async () => {
        const r = await ready(server.port);
        return r.body.status === "degraded" && r;
      }, "/ready to report the outage");
      expect(degraded.status).toBe(200);
      expect(degraded.body).toMatchObject({
        ready: true,
        checks: { database: { ok: true }, migrations: { ok: true }, redis: { ok: false, detail: expect.stringMatching(/^redis unavailable since .*\(publisher /) } },
      });
    }

    const started = Date.now();
    for (const [server, name] of [[a, "outage/a"], [b, "outage/b"]] as const) {
      const { createPrompt: created } = await createPrompt(server.port, name);
      await mutate(server.port, UpdatePromptDocument, { prompt: { id: created!.id }, input: { content: "v2" } });
      const listed = await graphql(server.port, '{ prompts(filter: {folder: "outage"}) { totalCount } }');
      expect(listed).toMatchObject({ status: 200, body: { data: { prompts: { totalCount: expect.any(Number) } } } });
      expect(listed.body.errors).toBeUndefined();
    }
    // Publishing does not wait for Redis: four mutations and two queries, well under a second.
    expect(Date.now() - started).toBeLessThan(2_000);

    // Each subscriber waits for its own server's two events: B's come last, and a frame goes
    // out at the end of its server's turn (SendBatch), so checking B right after A raced.
    await until(() => onA.named("outage/a").length === 2, "A's own events on A");
    await until(() => onB.named("outage/b").length === 2, "B's own events on B");
    expect(onA.named("outage/")).toEqual([
      ["CREATED", "outage/a", 1],
      ["VERSION_CREATED", "outage/a", 2],
    ]);
    expect(onB.named("outage/")).toEqual([
      ["CREATED", "outage/b", 1],
      ["VERSION_CREATED", "outage/b", 2],
    ]);
    // One warning per outage, however many reconnection attempts and dropped events.
    expect([logged(a, OUTAGE_LOG), logged(b, OUTAGE_LOG)]).toEqual([1, 1]);
  });

  it("is ready again once Redis is back on the same port, and A's events reach B again", async () => {
    await redis.start();
    for (const server of [a, b]) {
      const back = await until(async () => {
        const r = await ready(server.port);
        return r.body.status === "ready" && r;
      }, "/ready to recover", 10_000);
      expect(back.status).toBe(200);
      expect(back.body.checks.redis).toEqual({ ok: true });
    }
    await createPrompt(a.port, "again/one");
    await until(() => onB.named("again/").length === 1, "A's event on B after Redis returned");
    expect(onB.named("again/")).toEqual([["CREATED", "again/one", 1]]);
    // What was published during the outage is not replayed late (clients re-read the database).
    expect(onB.named("outage/a")).toEqual([]);
    expect([logged(a, BACK_LOG), logged(b, BACK_LOG)]).toEqual([1, 1]);
  });

  it("closes its Redis connections on graceful shutdown", async () => {
    const started = a.logs.find((line) => line.msg === "live events cross instances over redis");
    const instanceId = started!.instanceId as string;
    const admin = new Redis(redis.port, "127.0.0.1");
    try {
      const names = async () => String(await admin.client("LIST"));
      expect(await names()).toContain(`name=prompt-store-sub-${instanceId}`);
      expect(await names()).toContain(`name=prompt-store-pub-${instanceId}`);
      a.child.kill("SIGTERM");
      expect(await a.exited).toEqual({ code: 0, signal: null });
      expect(await names()).not.toContain(instanceId);
    } finally {
      admin.disconnect();
    }
  });
});

describe("REDIS_URL at start-up", () => {
  it("stops the server when it is malformed, naming the variable", async () => {
    const error = await promisify(execFile)(process.execPath, ["--import", "@swc-node/register/esm-register", "src/main.ts"], {
      cwd: REPO_ROOT,
      env: { ...process.env, REDIS_URL: "localhost:6379", PROMPT_STORE_PORT: "0" },
      timeout: 20_000,
    }).catch((e: { code: number; stderr: string }) => e);
    expect((error as { code: number }).code).toBe(78);
    expect((error as { stderr: string }).stderr).toMatch(/REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
  });
});
