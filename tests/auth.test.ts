// API keys and roles over HTTP and graphql-ws, the bootstrap admin key, open local mode and
// protected labels, against a real server with PROMPT_STORE_ADMIN_KEY set.
import { createHash } from "node:crypto";
import { print } from "graphql";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { POLICY } from "../src/auth/policy.js";
import { ConfigError, loadConfig } from "../src/config.js";
import { getSchema } from "../src/resolvers/schema.js";
import {
  ApiKeysDocument,
  CompleteAbTestDocument,
  CreateAbTestDocument,
  CreateApiKeyDocument,
  CreatePromptDocument,
  GetAbTestDocument,
  GetBulkDocument,
  GetPromptDocument,
  ImportPromptsDocument,
  LabelsDocument,
  ListPromptsDocument,
  PromptEventsDocument,
  RecordOutcomesDocument,
  RecordUsageDocument,
  ResolvePromptDocument,
  RevokeApiKeyDocument,
  RollbackDocument,
  SetLabelDocument,
  StartAbTestDocument,
  StartBulkDocument,
  UpdatePromptDocument,
  type Role,
} from "./generated/operations.js";
import { createTestApp, TEST_LIMITS, type TestApp } from "./helpers/app.js";
import { errorCodes, httpClient } from "./helpers/http-client.js";

const ADMIN_KEY = "bootstrap-admin-key-for-tests-0123456789";

let t: TestApp;
let port: number;
let http: ReturnType<typeof httpClient>;
const keys = {} as Record<Role, { id: string; secret: string }>;

beforeAll(async () => {
  t = await createTestApp({
    auth: { adminKey: ADMIN_KEY, openLocalMode: false, protectedLabels: ["production"], anonymousIntrospection: false },
    limits: { ...TEST_LIMITS, wsInitTimeoutMs: 3_000 },
  });
  port = await t.app.listen();
  http = httpClient(port);
  for (const role of ["ADMIN", "EDITOR", "SERVICE", "VIEWER"] as const) {
    const created = await http.gql(ADMIN_KEY, CreateApiKeyDocument, { input: { name: `${role.toLowerCase()} key`, role } });
    expect(created.status).toBe(200);
    keys[role] = { id: created.data!.createApiKey.key.id, secret: created.data!.createApiKey.secret };
  }
});

afterAll(() => t?.close());

let n = 0;
const newPrompt = async (key = ADMIN_KEY) => {
  const name = `auth/p${++n}`;
  const created = await http.gql(key, CreatePromptDocument, { input: { name, content: "v1 {{who}}" } });
  expect(created.errors).toBeUndefined();
  await http.gql(key, UpdatePromptDocument, { prompt: { name }, input: { content: "v2 {{who}}" } });
  return name;
};

describe("the access policy", () => {
  it("has a rule for every root field of the schema, and no rule for a field that does not exist", async () => {
    const schema = await getSchema();
    for (const [type, rules] of Object.entries(POLICY) as [keyof typeof POLICY, Record<string, unknown>][]) {
      const fields = Object.keys(schema.getType(type) ? (schema.getType(type) as { getFields(): object }).getFields() : {});
      expect(Object.keys(rules).sort(), type).toEqual(fields.sort());
    }
  });
});

describe("API keys", () => {
  it("returns the secret once and stores only its hash; lists keys with their last use", async () => {
    const created = await http.gql(ADMIN_KEY, CreateApiKeyDocument, { input: { name: "ci deploys", role: "EDITOR" } });
    const { secret, key } = created.data!.createApiKey;
    expect(secret).toMatch(/^psk_[A-Za-z0-9_-]{43}$/);
    expect(key).toMatchObject({ name: "ci deploys", role: "EDITOR", prefix: secret.slice(0, 12), createdBy: "admin", revokedAt: null, lastUsedAt: null });
    const rows = await t.app.db.$queryRawUnsafe<Record<string, unknown>[]>('SELECT * FROM "ApiKey" WHERE "id" = ?', key.id);
    expect(JSON.stringify(rows)).not.toContain(secret);
    expect(rows[0]!.secretHash).toBe(createHash("sha256").update(secret).digest("hex"));

    expect((await http.gql(secret, ListPromptsDocument, { first: 1 })).status).toBe(200);
    const listed = await http.gql(ADMIN_KEY, ApiKeysDocument, { first: 50 });
    const mine = listed.data!.apiKeys.nodes.find((k) => k.id === key.id)!;
    expect(Date.now() - Date.parse(mine.lastUsedAt!)).toBeLessThan(10_000);
    expect(JSON.stringify(listed)).not.toContain(secret.slice(12));
  });

  it("validates its input", async () => {
    const bad = await http.gql(ADMIN_KEY, CreateApiKeyDocument, { input: { name: " ", role: "VIEWER" } });
    expect(errorCodes(bad)).toEqual(["BAD_USER_INPUT"]);
    const past = await http.gql(ADMIN_KEY, CreateApiKeyDocument, { input: { name: "old", role: "VIEWER", expiresAt: "2020-01-01T00:00:00Z" } });
    expect(past.errors![0]!.extensions).toMatchObject({ code: "BAD_USER_INPUT", field: "expiresAt" });
  });

  it("refuses a malformed, unknown, revoked or expired key with 401 before anything runs", async () => {
    const probe = (key: string) => http.gql(key, ListPromptsDocument, { first: 1 });
    for (const key of ["not-a-key", `psk_${"A".repeat(43)}`]) {
      const res = await probe(key);
      expect(res.status).toBe(401);
      expect(errorCodes(res)).toEqual(["UNAUTHENTICATED"]);
      expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    }
    const notBearer = await http.post(null, { query: "{ __typename }" }, { authorization: "Basic YTpi" });
    expect(notBearer.status).toBe(401);

    const created = await http.gql(ADMIN_KEY, CreateApiKeyDocument, { input: { name: "short-lived", role: "VIEWER", expiresAt: new Date(Date.now() + 1_500).toISOString() } });
    const { secret } = created.data!.createApiKey;
    expect((await probe(secret)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_600));
    const expired = await probe(secret);
    expect(expired.status).toBe(401);
    expect(expired.errors![0]!.message).toMatch(/expired/);

    const other = (await http.gql(ADMIN_KEY, CreateApiKeyDocument, { input: { name: "to revoke", role: "VIEWER" } })).data!.createApiKey;
    expect((await probe(other.secret)).status).toBe(200);
    const revoked = await http.gql(ADMIN_KEY, RevokeApiKeyDocument, { id: other.key.id });
    expect(revoked.data!.revokeApiKey).toMatchObject({ id: other.key.id, revokedBy: "admin" });
    const after = await probe(other.secret);
    expect(after.status).toBe(401);
    expect(after.errors![0]!.message).toMatch(/revoked/);
    // Revoking again is harmless; an unknown id is NOT_FOUND.
    expect((await http.gql(ADMIN_KEY, RevokeApiKeyDocument, { id: other.key.id })).errors).toBeUndefined();
    expect(errorCodes(await http.gql(ADMIN_KEY, RevokeApiKeyDocument, { id: "nope" }))).toEqual(["NOT_FOUND"]);
    // Revoked keys are listed only when asked for.
    const active = await http.gql(ADMIN_KEY, ApiKeysDocument, { first: 200 });
    expect(active.data!.apiKeys.nodes.map((k) => k.id)).not.toContain(other.key.id);
    const all = await http.gql(ADMIN_KEY, ApiKeysDocument, { first: 200, includeRevoked: true });
    expect(all.data!.apiKeys.nodes.map((k) => k.id)).toContain(other.key.id);
  });
});

describe("roles over HTTP", () => {
  it("lets a caller without a key run only __typename: everything else is 401, introspection included", async () => {
    expect(await http.raw(null, "{ __typename }")).toMatchObject({ status: 200, data: { __typename: "Query" } });
    const list = await http.gql(null, ListPromptsDocument, { first: 1 });
    expect(list.status).toBe(401);
    expect(list.errors![0]!.extensions).toMatchObject({ code: "UNAUTHENTICATED", fields: ["prompts"] });
    expect(list.headers.get("www-authenticate")).toMatch(/^Bearer/);
    expect((await http.raw(null, "{ __schema { queryType { name } } }")).status).toBe(401);
    expect((await http.raw(keys.VIEWER.secret, "{ __schema { queryType { name } } }")).status).toBe(200);
  });

  it("gives each role what it is for, and refuses the rest as a whole with 403", async () => {
    const name = await newPrompt();
    const can = async (role: Role, run: (key: string) => Promise<{ status: number; errors?: unknown[] }>) => {
      const res = await run(keys[role].secret);
      return res.status === 200 && !res.errors;
    };
    const list = (key: string) => http.gql(key, ListPromptsDocument, { first: 1 });
    const serve = (key: string) => http.gql(key, ResolvePromptDocument, { name, label: "latest", variables: { who: "Ann" } });
    const usage = (key: string) => http.gql(key, RecordUsageDocument, { events: [{ prompt: { name }, success: true }] });
    const edit = (key: string) => http.gql(key, UpdatePromptDocument, { prompt: { name }, input: { description: `by ${key.slice(0, 8)}` } });
    const keysList = (key: string) => http.gql(key, ApiKeysDocument, { first: 1 });
    const matrix: Record<Role, boolean[]> = {
      // list, serve, usage, edit, keys
      ADMIN: [true, true, true, true, true],
      EDITOR: [true, true, true, true, false],
      SERVICE: [false, true, true, false, false],
      VIEWER: [true, true, false, false, false],
    };
    for (const [role, expected] of Object.entries(matrix) as [Role, boolean[]][]) {
      const actual = [await can(role, list), await can(role, serve), await can(role, usage), await can(role, edit), await can(role, keysList)];
      expect(actual, role).toEqual(expected);
    }
    const refused = await edit(keys.VIEWER.secret);
    expect(refused.status).toBe(403);
    expect(refused.errors![0]!.extensions).toMatchObject({ code: "FORBIDDEN", role: "VIEWER", fields: ["updatePrompt"] });

    // One refused field refuses the operation: the allowed field does not run either.
    const mixed = await http.raw(
      keys.EDITOR.secret,
      `mutation { createPrompt(input: { name: "auth/mixed", content: "x" }) { id } createApiKey(input: { name: "sneaky", role: ADMIN }) { secret } }`,
    );
    expect(mixed.status).toBe(403);
    expect(mixed.errors![0]!.extensions).toMatchObject({ code: "FORBIDDEN", fields: ["createApiKey"] });
    expect((await http.gql(ADMIN_KEY, GetPromptDocument, { name: "auth/mixed" })).data?.prompt ?? null).toBeNull();
  });

  it("attributes changes to the key's name", async () => {
    const name = await newPrompt(keys.EDITOR.secret);
    await http.gql(keys.EDITOR.secret, SetLabelDocument, { input: { prompt: { name }, label: "staging", version: 1 } });
    const labels = await http.gql(ADMIN_KEY, LabelsDocument, { name });
    expect(labels.data!.prompt!.labels).toContainEqual({ name: "staging", versionNumber: 1, updatedBy: "editor key" });
  });
});

describe("protected labels", () => {
  it("lets only an admin move `production`, by any path, and leaves nothing half-done", async () => {
    const name = await newPrompt();
    const editor = keys.EDITOR.secret;
    const set = (key: string, label: string, version: number) => http.gql(key, SetLabelDocument, { input: { prompt: { name }, label, version } });
    expect((await set(editor, "staging", 2)).errors).toBeUndefined();
    const refused = await set(editor, "production", 2);
    expect(refused.errors![0]!.extensions).toMatchObject({ code: "FORBIDDEN", labels: ["production"] });
    expect((await set(keys.ADMIN.secret, "production", 1)).errors).toBeUndefined();

    // A rollback that would move it creates no version either.
    const rollback = await http.gql(editor, RollbackDocument, { input: { prompt: { name }, toVersion: 1, moveLabels: ["production"] } });
    expect(errorCodes(rollback)).toEqual(["FORBIDDEN"]);
    const prompt = (await http.gql(ADMIN_KEY, GetPromptDocument, { name })).data!.prompt!;
    expect(prompt.latestVersion.number).toBe(2);

    // A bulk job is checked when it starts (it runs later, as the server).
    const bulk = await http.gql(editor, StartBulkDocument, { input: { kind: "SET_LABEL", label: "production", items: [{ prompt: { name } }] } });
    expect(errorCodes(bulk)).toEqual(["FORBIDDEN"]);

    // An import that sets it fails for that prompt.
    const imported = await http.gql(editor, ImportPromptsDocument, {
      document: {
        format: "prompt-store.export",
        formatVersion: 1,
        prompts: [{ name: "auth/imported", type: "TEXT", versions: [{ number: 1, content: "hi" }], labels: [{ name: "production", version: 1 }] }],
      },
    });
    expect(JSON.stringify(imported)).toContain("FORBIDDEN");
    expect((await http.gql(ADMIN_KEY, GetPromptDocument, { name: "auth/imported" })).data?.prompt ?? null).toBeNull();

    // Deleting the prompt would take the label away with it.
    const deleted = await http.raw(editor, `mutation { deletePrompt(prompt: { name: "${name}" }) { id } }`);
    expect(errorCodes(deleted)).toEqual(["FORBIDDEN"]);
    // A bulk job runs with its starter's rights: the item fails, the prompt stays.
    const bulkDelete = await http.gql(editor, StartBulkDocument, { input: { kind: "DELETE_PROMPTS", items: [{ prompt: { name } }] } });
    expect(bulkDelete.errors).toBeUndefined();
    await t.app.services.runner.idle();
    const job = (await http.gql(ADMIN_KEY, GetBulkDocument, { id: bulkDelete.data!.startBulkOperation.id })).data!.bulkOperation!;
    expect(job).toMatchObject({ status: "COMPLETED", failed: 1, succeeded: 0 });
    expect(job.items.nodes[0]).toMatchObject({ status: "FAILED", errorCode: "FORBIDDEN" });

    const labels = (await http.gql(ADMIN_KEY, LabelsDocument, { name })).data!.prompt!.labels;
    expect(labels).toContainEqual(expect.objectContaining({ name: "production", versionNumber: 1 }));
  });

  it("lets an A/B test's auto-promotion move it; starting such a test and promoting by hand need an admin", async () => {
    const name = await newPrompt();
    await http.gql(ADMIN_KEY, SetLabelDocument, { input: { prompt: { name }, label: "production", version: 1 } });
    const input = {
      name: "auth test",
      prompt: { name },
      variants: [
        { name: "control", label: "production", weight: 1 },
        { name: "new", version: 2, weight: 1 },
      ],
      metric: "CONVERSION" as const,
      minSamplePerVariant: 30,
    };
    const manual = (await http.gql(keys.EDITOR.secret, CreateAbTestDocument, { input })).data!.createAbTest;
    // Running a test on production changes what production serves: an admin starts it.
    const editorStart = await http.gql(keys.EDITOR.secret, StartAbTestDocument, { id: manual.id });
    expect(editorStart.errors![0]!.extensions).toMatchObject({ code: "FORBIDDEN", labels: ["production"] });
    await http.gql(keys.ADMIN.secret, StartAbTestDocument, { id: manual.id });
    const refused = await http.gql(keys.EDITOR.secret, CompleteAbTestDocument, { id: manual.id, winner: 1, promote: true });
    expect(errorCodes(refused)).toEqual(["FORBIDDEN"]);
    expect((await http.gql(ADMIN_KEY, GetAbTestDocument, { id: manual.id })).data!.abTest!.status).toBe("RUNNING");
    await http.gql(keys.EDITOR.secret, CompleteAbTestDocument, { id: manual.id, winner: 1, promote: false });

    // Auto-promotion: set up by an editor, started by an admin, fed by an application's SERVICE key.
    const auto = (await http.gql(keys.EDITOR.secret, CreateAbTestDocument, { input: { ...input, autoPromote: true } })).data!.createAbTest;
    await http.gql(keys.ADMIN.secret, StartAbTestDocument, { id: auto.id });
    const outcomes = [];
    for (let i = 0; i < 200; i++) {
      const subjectKey = `s${i}`;
      const served = await http.gql(keys.SERVICE.secret, ResolvePromptDocument, { name, subjectKey, variables: { who: "Ann" } });
      const index = served.data!.resolvePrompt.variant!.index;
      outcomes.push({ test: auto.id, subjectKey, converted: index === 1 ? i % 10 < 6 : i % 10 === 0 });
    }
    expect((await http.gql(keys.SERVICE.secret, RecordOutcomesDocument, { outcomes })).errors).toBeUndefined();
    let status = "";
    for (let tries = 0; status !== "COMPLETED" && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await http.gql(ADMIN_KEY, GetAbTestDocument, { id: auto.id })).data!.abTest!.status;
    }
    expect(status).toBe("COMPLETED");
    const labels = (await http.gql(ADMIN_KEY, LabelsDocument, { name })).data!.prompt!;
    expect(labels.labels).toContainEqual(expect.objectContaining({ name: "production", versionNumber: 2 }));
    expect(labels.labelHistory.nodes[0]!.reason).toContain(auto.id);
  });
});

describe("graphql-ws", () => {
  const wsUrl = () => `ws://127.0.0.1:${port}/graphql`;
  const closeCode = (payload: Record<string, unknown> | undefined) =>
    new Promise<number>((resolve) => {
      const socket = new WebSocket(wsUrl(), "graphql-transport-ws");
      socket.on("open", () => socket.send(JSON.stringify({ type: "connection_init", ...(payload && { payload }) })));
      socket.on("message", (data) => {
        if (JSON.parse(String(data)).type === "connection_ack") socket.close(1000);
      });
      socket.on("close", (code) => resolve(code));
    });

  it("closes with 4403 for a bad key and 4401 without one; acks a good key given either way", async () => {
    expect(await closeCode({ apiKey: "psk_bad" })).toBe(4403);
    expect(await closeCode({ authorization: `Bearer psk_${"B".repeat(43)}` })).toBe(4403);
    expect(await closeCode(undefined)).toBe(4401);
    expect(await closeCode({})).toBe(4401);
    expect(await closeCode({ apiKey: keys.VIEWER.secret })).toBe(1000);
    expect(await closeCode({ authorization: `Bearer ${ADMIN_KEY}` })).toBe(1000);
  });

  it("applies the same roles per operation, and closes a revoked key's sockets at once", async () => {
    const created = (await http.gql(ADMIN_KEY, CreateApiKeyDocument, { input: { name: "ws service", role: "SERVICE" } })).data!.createApiKey;
    let closed: { code: number } | undefined;
    const client = createClient({
      url: wsUrl(),
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      connectionParams: { apiKey: created.secret },
      on: { closed: (event) => void (closed = event as { code: number }) },
    });
    const run = (query: string) =>
      new Promise<unknown[]>((resolve) => {
        const results: unknown[] = [];
        client.subscribe({ query }, { next: (r) => results.push(r), error: (e) => resolve([...results, e]), complete: () => resolve(results) });
      });
    // SERVICE may not list prompts, over WebSocket as over HTTP.
    expect(JSON.stringify(await run("{ prompts(first: 1) { totalCount } }"))).toContain("FORBIDDEN");
    // A live subscription it may have: prompt events.
    const events: unknown[] = [];
    client.subscribe({ query: print(PromptEventsDocument), variables: {} }, { next: (e) => events.push(e), error: () => undefined, complete: () => undefined });
    await new Promise((resolve) => setTimeout(resolve, 200));
    await newPrompt();
    for (let tries = 0; events.length === 0 && tries < 100; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(events.length).toBeGreaterThan(0);

    await http.gql(ADMIN_KEY, RevokeApiKeyDocument, { id: created.key.id });
    for (let tries = 0; !closed && tries < 100; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed?.code).toBe(4403);
    await client.dispose();
  });
});

describe("open local mode and bootstrap", () => {
  it("without an admin key outside production: everyone is the local admin, said in /health; a presented key is still checked", async () => {
    const local = await createTestApp();
    try {
      const localPort = await local.app.listen();
      const health = (await (await fetch(`http://127.0.0.1:${localPort}/health`)).json()) as { auth: { mode: string } };
      expect(health.auth.mode).toBe("open-local");
      const client = httpClient(localPort);
      const created = await client.gql(null, CreatePromptDocument, { input: { name: "local/one", content: "x" } });
      expect(created.errors).toBeUndefined();
      expect((await client.gql("psk_wrong", ListPromptsDocument, { first: 1 })).status).toBe(401);
    } finally {
      await local.close();
    }
    const health = (await (await fetch(`http://127.0.0.1:${port}/health`)).json()) as { auth: { mode: string } };
    expect(health.auth.mode).toBe("api-keys");
  });

  it("refuses to start in production without a key, or on a public address without one", () => {
    expect(() => loadConfig({ PROMPT_STORE_ENV: "production" })).toThrow(/PROMPT_STORE_ADMIN_KEY is required/);
    expect(() => loadConfig({ PROMPT_STORE_HOST: "0.0.0.0" })).toThrow(ConfigError);
    expect(() => loadConfig({ PROMPT_STORE_ADMIN_KEY: "short" })).toThrow(/24 to 256/);
    const config = loadConfig({ PROMPT_STORE_ENV: "production", PROMPT_STORE_HOST: "0.0.0.0", PROMPT_STORE_ADMIN_KEY: ADMIN_KEY });
    expect(config.auth).toMatchObject({ openLocalMode: false, protectedLabels: ["production"], anonymousIntrospection: false });
    expect(loadConfig({}).auth.openLocalMode).toBe(true);
    expect(loadConfig({ PROMPT_STORE_PROTECTED_LABELS: "production, stable" }).auth.protectedLabels).toEqual(["production", "stable"]);
    expect(loadConfig({ PROMPT_STORE_PROTECTED_LABELS: "none" }).auth.protectedLabels).toEqual([]);
  });
});
