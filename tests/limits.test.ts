// Per-operation limits (cost, aliases, root fields), batches and per-key rate limits: the
// same answers over HTTP and graphql-ws, each with its own code and never a 500.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { CreateApiKeyDocument } from "./generated/operations.js";
import { createTestApp, TEST_LIMITS, type TestApp } from "./helpers/app.js";
import { errorCodes, httpClient } from "./helpers/http-client.js";

const ADMIN_KEY = "bootstrap-admin-key-for-limit-tests-0123";

let t: TestApp;
let port: number;
let http: ReturnType<typeof httpClient>;

beforeAll(async () => {
  t = await createTestApp({
    auth: { adminKey: ADMIN_KEY, openLocalMode: false, protectedLabels: ["production"], anonymousIntrospection: false },
    limits: {
      ...TEST_LIMITS,
      maxComplexity: 5_000,
      maxAliases: 3,
      maxRootFields: 4,
      maxBatchOperations: 3,
      rateLimit: { perSecond: 2, burst: 6 },
      anonymousRateLimit: { perSecond: 1, burst: 2 },
    },
  });
  port = await t.app.listen();
  http = httpClient(port);
});

afterAll(() => t?.close());

const newKey = async (name: string) =>
  (await http.gql(ADMIN_KEY, CreateApiKeyDocument, { input: { name, role: "EDITOR" } })).data!.createApiKey.secret;

/** Runs one operation over a raw graphql-ws socket; resolves to the messages for it. */
async function overWs(key: string, queries: string[]): Promise<{ type: string; id?: string; payload?: unknown }[][]> {
  const socket = new WebSocket(`ws://127.0.0.1:${port}/graphql`, "graphql-transport-ws");
  const messages: { type: string; id?: string; payload?: unknown }[] = [];
  socket.on("message", (data) => messages.push(JSON.parse(String(data))));
  await new Promise((resolve) => socket.once("open", resolve));
  socket.send(JSON.stringify({ type: "connection_init", payload: { apiKey: key } }));
  const until = async (ok: () => boolean) => {
    for (let tries = 0; !ok() && tries < 200; tries++) await new Promise((resolve) => setTimeout(resolve, 10));
  };
  await until(() => messages.some((m) => m.type === "connection_ack"));
  queries.forEach((query, i) => socket.send(JSON.stringify({ id: `q${i}`, type: "subscribe", payload: { query } })));
  const done = (id: string) => messages.some((m) => m.id === id && (m.type === "complete" || m.type === "error"));
  await until(() => queries.every((_, i) => done(`q${i}`)));
  socket.close();
  return queries.map((_, i) => messages.filter((m) => m.id === `q${i}`));
}

const codeOf = (messages: { type: string; payload?: unknown }[]) =>
  (messages.find((m) => m.type === "error")?.payload as { extensions?: { code?: string; limit?: string } }[] | undefined)?.[0]?.extensions;

describe("operation limits", () => {
  const costly = "{ prompts(first: 200) { nodes { versions(first: 200) { nodes { number } } } } }";
  const aliases = "{ a: __typename b: __typename c: __typename d: __typename }";
  const roots =
    "{ prompts(first: 1) { totalCount } bulkOperations(first: 1) { totalCount } notifications(first: 1) { totalCount } refinementSessions(first: 1) { totalCount } refinementProviders { name } }";

  it("refuses an operation over the cost, alias or root-field limit with 400 and the limit named", async () => {
    const key = await newKey("limits http");
    for (const [query, limit] of [
      [costly, "complexity"],
      [aliases, "aliases"],
      [roots, "rootFields"],
    ] as const) {
      const res = await http.raw(key, query);
      expect(res.status, limit).toBe(400);
      expect(res.errors![0]!.extensions).toMatchObject({ code: "QUERY_LIMIT_EXCEEDED", limit });
      await new Promise((resolve) => setTimeout(resolve, 500)); // stay under this key's rate limit
    }
    const small = await http.raw(key, "{ prompts(first: 20) { nodes { versions(first: 5) { nodes { number } } } } }");
    expect(small).toMatchObject({ status: 200, data: { prompts: { nodes: [] } } });
  });

  it("refuses the same operations over graphql-ws, for that operation only", async () => {
    const key = await newKey("limits ws");
    const [a, b, c, ok] = await overWs(key, [costly, aliases, roots, "{ __typename }"]);
    expect(codeOf(a!)).toMatchObject({ code: "QUERY_LIMIT_EXCEEDED", limit: "complexity" });
    expect(codeOf(b!)).toMatchObject({ code: "QUERY_LIMIT_EXCEEDED", limit: "aliases" });
    expect(codeOf(c!)).toMatchObject({ code: "QUERY_LIMIT_EXCEEDED", limit: "rootFields" });
    expect(ok!.map((m) => m.type)).toEqual(["next", "complete"]);
  });

  it("accepts a batch up to the limit and refuses a bigger one whole", async () => {
    const key = await newKey("batches");
    const two = await http.post(key, [{ query: "{ __typename }" }, { query: "{ prompts(first: 1) { totalCount } }" }]);
    expect(two.status).toBe(200);
    expect(two.body).toEqual([{ data: { __typename: "Query" } }, { data: { prompts: { totalCount: expect.any(Number) } } }]);
    const four = await http.post(key, Array.from({ length: 4 }, () => ({ query: "{ __typename }" })));
    expect(four.status).toBe(400);
    expect((four.body as { errors: { extensions: unknown }[] }).errors[0]!.extensions).toMatchObject({ code: "QUERY_LIMIT_EXCEEDED", limit: "batchOperations", max: 3 });
  });
});

describe("rate limits", () => {
  it("gives each key its own budget; the excess gets 429 with Retry-After; a batch costs one per operation", async () => {
    const [first, second] = [await newKey("rate 1"), await newKey("rate 2")];
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await http.raw(first, "{ __typename }")).status);
    // A burst of 6, then refused (the sustained 2/s refills too slowly to matter here).
    expect(statuses.slice(0, 6)).toEqual([200, 200, 200, 200, 200, 200]);
    expect(statuses.slice(6)).toContain(429);
    const refused = await http.raw(first, "{ __typename }");
    expect(refused.status).toBe(429);
    expect(errorCodes(refused)).toEqual(["RATE_LIMITED"]);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    // Another key is not affected.
    expect((await http.raw(second, "{ __typename }")).status).toBe(200);
    // A batch of 3 takes 3 of the second key's remaining 5, leaving 2.
    expect((await http.post(second, [{ query: "{ __typename }" }, { query: "{ __typename }" }, { query: "{ __typename }" }])).status).toBe(200);
    expect((await http.raw(second, "{ __typename }")).status).toBe(200);
    expect((await http.raw(second, "{ __typename }")).status).toBe(200);
    expect((await http.raw(second, "{ __typename }")).status).toBe(429);
  });

  it("limits callers without a key by address", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await http.raw(null, "{ __typename }")).status);
    expect(statuses.slice(0, 2)).toEqual([200, 200]);
    expect(statuses.at(-1)).toBe(429);
  });

  it("takes a subscribe over graphql-ws from the same budget", async () => {
    const key = await newKey("rate ws");
    const results = await overWs(key, Array.from({ length: 8 }, () => "{ __typename }"));
    const limited = results.filter((messages) => codeOf(messages)?.code === "RATE_LIMITED");
    expect(results.filter((messages) => messages.some((m) => m.type === "next"))).toHaveLength(6);
    expect(limited).toHaveLength(2);
  });
});
