import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { join } from "node:path";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, type App } from "../src/app.js";
import { readPragmas } from "../src/db/client.js";
import { TEST_LIMITS, createTestApp, testConfig, type TestApp } from "./helpers/app.js";

// These tests nest lists deeply to reach the depth limit; the cost limit has tests of its own.
const DEPTH_ONLY = { ...TEST_LIMITS, maxComplexity: 1_000_000_000 };

let t: TestApp;
let base: string;

beforeAll(async () => {
  t = await createTestApp({ maxBodyBytes: 64 * 1024, limits: DEPTH_ONLY });
  base = `http://127.0.0.1:${await t.app.listen()}`;
});
afterAll(() => t.close());

const post = (body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${base}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });

describe("GraphQL over HTTP", () => {
  it("answers POST with JSON and echoes or assigns a request id", async () => {
    const res = await post({ query: "{ __typename }" }, { "x-request-id": "req-123" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("req-123");
    expect(await res.json()).toEqual({ data: { __typename: "Query" } });
    const other = await post({ query: "{ __typename }" }, { "x-request-id": "bad id with spaces" });
    expect(other.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("negotiates application/graphql-response+json", async () => {
    const res = await post({ query: "{ __typename }" }, { accept: "application/graphql-response+json" });
    expect(res.headers.get("content-type")).toMatch(/^application\/graphql-response\+json/);
    const invalid = await post({ query: "{ nope }" }, { accept: "application/graphql-response+json" });
    expect(invalid.status).toBe(400);
    const body = (await invalid.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });

  it("answers GET queries, refuses GET mutations, and keeps CSRF prevention on", async () => {
    const query = encodeURIComponent("{ prompts(first: 1) { totalCount } }");
    const ok = await fetch(`${base}/graphql?query=${query}`, { headers: { "apollo-require-preflight": "true" } });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ data: { prompts: { totalCount: 0 } } });

    const mutation = encodeURIComponent('mutation { archivePrompt(prompt: {name: "x"}) { id } }');
    const refused = await fetch(`${base}/graphql?query=${mutation}`, { headers: { "apollo-require-preflight": "true" } });
    expect(refused.status).toBe(405);

    // A "simple" cross-site GET (no preflight-forcing header) is refused.
    const csrf = await fetch(`${base}/graphql?query=${query}`);
    expect(csrf.status).toBe(400);
    expect(await csrf.text()).toMatch(/CSRF/);
  });

  it("refuses operations nested deeper than the limit, not counting introspection", async () => {
    const nest = (n: number): string => (n === 0 ? "name" : `relationships { source { ${nest(n - 1)} } }`);
    const ok = await post({ query: `{ prompts { nodes { ${nest(6)} } } }` });
    expect(ok.status).toBe(200);
    const deep = await post({ query: `{ prompts { nodes { ${nest(7)} } } }` });
    expect(deep.status).toBe(400);
    const body = (await deep.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    expect(body.errors[0]!.extensions).toMatchObject({ code: "GRAPHQL_VALIDATION_FAILED", limit: 15, depth: 17 });
    const introspection = await post({ query: "{ __schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } }" });
    expect(introspection.status).toBe(200);
  });

  it("refuses malformed and oversized bodies with JSON errors", async () => {
    const broken = await post("{not json");
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe("BAD_REQUEST");

    const huge = await post({ query: "{ __typename }", variables: { pad: "x".repeat(70 * 1024) } });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { errors: { extensions: Record<string, unknown> }[] }).errors[0]!.extensions).toEqual({
      code: "BAD_USER_INPUT",
      field: "body",
      limit: 64 * 1024,
    });

    const missing = await post({ variables: {} });
    expect(missing.status).toBe(400);
  });

  it("masks unexpected errors, with the request id, and keeps serving", async () => {
    // A corrupt row (config that is not JSON) makes a resolver throw a plain Error.
    const created = await post({ query: 'mutation { createPrompt(input: {name: "corrupt/one", content: "x"}) { id } }' });
    const { data } = (await created.json()) as { data: { createPrompt: { id: string } } };
    await t.app.db.$executeRawUnsafe(`UPDATE PromptVersion SET config = '{oops' WHERE promptId = '${data.createPrompt.id}'`);
    const res = await post({ query: '{ prompt(name: "corrupt/one") { latestVersion { config } } }' }, { "x-request-id": "trace-me" });
    const body = (await res.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    expect(body.errors[0]!.message).toBe("Internal server error");
    expect(body.errors[0]!.extensions).toEqual({ code: "INTERNAL_SERVER_ERROR", requestId: "trace-me" });
    expect(JSON.stringify(body)).not.toMatch(/JSON|position|oops/i);
    expect((await post({ query: "{ __typename }" })).status).toBe(200);
  });
});

describe("operational endpoints", () => {
  it("reports liveness with version and uptime", async () => {
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: "ok", version: expect.stringMatching(/^\d+\.\d+\.\d+/), uptimeSeconds: expect.any(Number) });
  });

  it("is ready on a migrated database", async () => {
    const res = await fetch(`${base}/ready`);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ ready: true, checks: { database: { ok: true }, migrations: { ok: true } } });
  });

  it("answers 503 on /ready until the database is migrated, then 200", async () => {
    const { config, dir } = testConfig();
    const dbFile = join(dir, "empty.db");
    const app: App = await createApp({ ...config, dbFile }, { logger: pino({ level: "silent" }) });
    try {
      const port = await app.listen();
      const before = await fetch(`http://127.0.0.1:${port}/ready`);
      expect(before.status).toBe(503);
      expect(await before.json()).toMatchObject({ ready: false, checks: { database: { ok: true }, migrations: { ok: false } } });
      const refused = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ prompts { totalCount } }" }),
      });
      expect(refused.status).toBe(503);
      // Not execFileSync: a blocked event loop lets the server's keep-alive timeout and the client's
      // reuse of that socket meet, and the next request fails with ECONNRESET.
      await promisify(execFile)("npx", ["prisma", "migrate", "deploy"], { env: { ...process.env, PROMPT_STORE_DB: dbFile } });
      const after = await fetch(`http://127.0.0.1:${port}/ready`);
      expect(after.status).toBe(200);
      // The reconnected database has the PRAGMAs again.
      expect(await readPragmas(app.db)).toEqual({ journalMode: "wal", synchronous: 1, busyTimeout: 5000, foreignKeys: 1 });
      const served = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ query: "{ prompts { totalCount } }" }),
      });
      expect(await served.json()).toEqual({ data: { prompts: { totalCount: 0 } } });
    } finally {
      await app.close();
    }
  });

  it("redirects / to the playground and answers 404 elsewhere", async () => {
    const root = await fetch(`${base}/`, { redirect: "manual" });
    expect(root.status).toBe(302);
    expect(root.headers.get("location")).toBe("/graphiql");
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/graphiql/../../package.json`)).status).not.toBe(200);
    expect((await fetch(`${base}/graphiql/%2e%2e/%2e%2e/package.json`)).status).toBe(404);
  });
});

describe("validation cost", () => {
  it("checks the depth of fragments that spread each other twice per level in linear time", async () => {
    const n = 40;
    const fragments = Array.from({ length: n }, (_, i) => `fragment F${i} on Prompt { ...F${i + 1} ...F${i + 1} }`).join(" ");
    const query = `query { prompts { nodes { ...F0 } } } ${fragments} fragment F${n} on Prompt { name }`;
    // 2^40 fragment visits if depths (and costs) were not cached: the request would never finish.
    // The depth is fine; the cost, 2^40 prompts' names, is refused.
    const res = await post({ query });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { errors: { extensions: Record<string, unknown> }[] }).errors[0]!.extensions).toMatchObject({
      code: "QUERY_LIMIT_EXCEEDED",
      limit: "complexity",
    });
  });
});
