// The two-level cache across two server processes on one SQLite file and one Redis (a
// redis-server of this test's own): a label moved on one instance is served by the other, and
// when Redis goes away both keep answering from their own memory and the database.
import { copyFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { print, type DocumentNode } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreatePromptDocument, ResolvePromptDocument, SetLabelDocument, SystemHealthDocument, UpdatePromptDocument } from "./generated/operations.js";
import { TEMPLATE_DB, TMP_ROOT } from "./helpers/paths.js";
import { hasRedisServer, RedisServer } from "./helpers/redis-server.js";
import { startServerProcess, type ServerProcess } from "./helpers/server-process.js";
import { requireService } from "./helpers/services.js";

requireService("redis-server (apt-get install redis-server)", hasRedisServer);

async function graphql(port: number, document: DocumentNode, variables: Record<string, unknown> = {}) {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query: print(document), variables }),
    signal: AbortSignal.timeout(5_000),
  });
  const body = (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
  expect(res.status).toBe(200);
  expect(body.errors).toBeUndefined();
  return body.data!;
}

const served = async (port: number, name: string) => (await graphql(port, ResolvePromptDocument, { name, variables: {} })).resolvePrompt.text as string;

async function until(probe: () => Promise<boolean>, what: string, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function stopServer(server: ServerProcess | undefined) {
  if (!server || server.child.exitCode !== null || server.child.signalCode !== null) return;
  server.child.kill("SIGTERM");
  await server.exited;
}

describe.runIf(hasRedisServer)("the cache across two server processes", () => {
  let redis: RedisServer;
  let a: ServerProcess;
  let b: ServerProcess;

  beforeAll(async () => {
    redis = await RedisServer.start();
    const dir = mkdtempSync(join(TMP_ROOT, "redis-cache-"));
    const dbFile = join(dir, "prompt-store.db");
    copyFileSync(TEMPLATE_DB, dbFile);
    const env = { PROMPT_STORE_DB: dbFile, REDIS_URL: redis.url, PROMPT_STORE_REDIS_RECONNECT_MAX_MS: "200" };
    const [startedA, startedB] = await Promise.allSettled([startServerProcess(env), startServerProcess(env)]);
    if (startedA.status === "fulfilled") a = startedA.value;
    if (startedB.status === "fulfilled") b = startedB.value;
    if (startedA.status === "rejected") throw startedA.reason;
    if (startedB.status === "rejected") throw startedB.reason;
  }, 60_000);

  afterAll(async () => {
    await Promise.all([stopServer(a), stopServer(b)]);
    await redis?.stop();
  });

  it("serves on one instance the label moved on the other", async () => {
    await graphql(a.port, CreatePromptDocument, { input: { name: "cache/x", content: "one" } });
    await graphql(a.port, UpdatePromptDocument, { prompt: { name: "cache/x" }, input: { content: "two" } });
    await graphql(a.port, SetLabelDocument, { input: { prompt: { name: "cache/x" }, label: "production", version: 1 } });
    // B caches what it served...
    expect(await served(b.port, "cache/x")).toBe("one");
    expect(await served(b.port, "cache/x")).toBe("one");
    // ...and drops it when A moves the label.
    await graphql(a.port, SetLabelDocument, { input: { prompt: { name: "cache/x" }, label: "production", version: 2 } });
    await until(async () => (await served(b.port, "cache/x")) === "two", "B to serve the new version");
    const health = (await graphql(b.port, SystemHealthDocument)).systemHealth;
    expect(health.cacheHits).toBeGreaterThan(0);
    expect(health.redis).toEqual({ ok: true, detail: null });
  });

  it("keeps answering while Redis is down, from memory and the database, and reports it", async () => {
    await graphql(a.port, CreatePromptDocument, { input: { name: "cache/y", content: "y1" } });
    await graphql(a.port, SetLabelDocument, { input: { prompt: { name: "cache/y" }, label: "production", version: 1 } });
    expect(await served(b.port, "cache/y")).toBe("y1");
    await redis.stop();
    try {
      for (const port of [a.port, b.port]) {
        const started = Date.now();
        expect(await served(port, "cache/y")).toBe("y1");
        expect(await served(port, "cache/x")).toBe("two");
        expect(Date.now() - started).toBeLessThan(2_000);
      }
      // A change on A is served by A at once (its own event invalidates its own memory).
      await graphql(a.port, UpdatePromptDocument, { prompt: { name: "cache/y" }, input: { content: "y2" } });
      await graphql(a.port, SetLabelDocument, { input: { prompt: { name: "cache/y" }, label: "production", version: 2 } });
      expect(await served(a.port, "cache/y")).toBe("y2");
      await until(async () => (await graphql(a.port, SystemHealthDocument)).systemHealth.redis?.ok === false, "A to report Redis down");
    } finally {
      await redis.start();
    }
    await until(async () => (await graphql(b.port, SystemHealthDocument)).systemHealth.redis?.ok === true, "B to see Redis back", 10_000);
    // With Redis back, changes cross again (both ways round, so neither answer can be a leftover).
    await graphql(a.port, SetLabelDocument, { input: { prompt: { name: "cache/y" }, label: "production", version: 1 } });
    await until(async () => (await served(b.port, "cache/y")) === "y1", "B to follow A again", 10_000);
    await graphql(a.port, SetLabelDocument, { input: { prompt: { name: "cache/y" }, label: "production", version: 2 } });
    await until(async () => (await served(b.port, "cache/y")) === "y2", "B to follow A once more", 10_000);
  });
});
