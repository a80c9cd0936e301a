// Holes an independent review found in access control, each closed and kept closed here:
// sockets outliving their key, a revocation racing a verification, cross-site requests in open
// local mode, a retried job borrowing its starter's rights, and the denial and rate-limit paths.
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { loadConfig } from "../src/config.js";
import {
  ArchivePromptDocument,
  CompleteAbTestDocument,
  CreateAbTestDocument,
  ResolvePromptDocument,
  SetLabelDocument,
  StartAbTestDocument,
  AuditLogDocument,
  CreateApiKeyDocument,
  CreatePromptDocument,
  GetBulkDocument,
  LabelsDocument,
  RestorePromptDocument,
  RetryBulkDocument,
  RevokeApiKeyDocument,
  StartBulkDocument,
  UpdatePromptDocument,
} from "./generated/operations.js";
import { createTestApp, TEST_LIMITS, type TestApp } from "./helpers/app.js";
import { errorCodes, httpClient } from "./helpers/http-client.js";

const ADMIN_KEY = "bootstrap-admin-key-for-hardening-01234";
let t: TestApp;
let port: number;
let http: ReturnType<typeof httpClient>;

beforeAll(async () => {
  t = await createTestApp({
    auth: { adminKey: ADMIN_KEY, openLocalMode: false, protectedLabels: ["production"], anonymousIntrospection: false },
    // Next to no refill (one request per 100 s): what the tests below take stays taken, however slow the machine.
    limits: { ...TEST_LIMITS, anonymousRateLimit: { perSecond: 0.01, burst: 10 } },
    // Small chunks: a job spans many, so a revocation lands between two of them.
    bulk: { maxItems: 20_000, chunkSize: 10, chunkMs: 50 },
  });
  port = await t.app.listen();
  http = httpClient(port);
});
afterAll(() => t?.close());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function newKey(role: "ADMIN" | "EDITOR" | "VIEWER", expiresAt?: string) {
  const created = (await http.gql(ADMIN_KEY, CreateApiKeyDocument, { input: { name: `${role} ${Math.random().toString(36).slice(2, 8)}`, role, expiresAt } })).data!.createApiKey;
  return { id: created.key.id, secret: created.secret };
}

/** A raw graphql-transport-ws socket: connect with `payload`, then run operations one at a time. */
async function wsSession(targetPort: number, payload: Record<string, unknown> | undefined, headers: Record<string, string> = {}) {
  const socket = new WebSocket(`ws://127.0.0.1:${targetPort}/graphql`, "graphql-transport-ws", { headers });
  const messages: { type: string; id?: string; payload?: { data?: Record<string, unknown> } }[] = [];
  let closed: { code: number; reason: string } | undefined;
  socket.on("message", (data) => messages.push(JSON.parse(String(data))));
  socket.on("close", (code, reason) => (closed = { code, reason: String(reason) }));
  await new Promise((resolve) => socket.once("open", resolve));
  socket.send(JSON.stringify({ type: "connection_init", ...(payload && { payload }) }));
  for (let i = 0; i < 100 && !messages.some((m) => m.type === "connection_ack") && !closed; i++) await sleep(20);
  let n = 0;
  return {
    socket,
    acked: () => messages.some((m) => m.type === "connection_ack"),
    closed: () => closed,
    async run(query: string) {
      const id = `op${++n}`;
      socket.send(JSON.stringify({ type: "subscribe", id, payload: { query } }));
      for (let i = 0; i < 150 && !closed && !messages.some((m) => m.id === id && (m.type === "complete" || m.type === "error")); i++) await sleep(20);
      return messages.filter((m) => m.id === id);
    },
  };
}

/** A POST with exactly these headers (fetch would not send a Host of our choosing); resolves to the status. */
function rawPost(targetPort: number, query: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query });
    const req = request(
      { host: "127.0.0.1", port: targetPort, path: "/graphql", method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), ...headers } },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Makes the next lookup of a key by its hash slow, as a busy reader connection would. */
function slowNextLookup(ms: number): () => void {
  const repository = (t.app.authenticator as unknown as { keys: { repository: { byHash(hash: string): Promise<unknown> } } }).keys.repository;
  const original = repository.byHash.bind(repository);
  let slow = true;
  repository.byHash = async (hash: string) => {
    const row = await original(hash);
    if (slow) {
      slow = false;
      await sleep(ms);
    }
    return row;
  };
  return () => void (repository.byHash = original);
}

describe("keys on long-lived sockets", () => {
  it("closes a socket with 4403 when its key expires", async () => {
    const key = await newKey("EDITOR", new Date(Date.now() + 1_500).toISOString());
    const ws = await wsSession(port, { apiKey: key.secret });
    expect(ws.acked()).toBe(true);
    for (let i = 0; i < 150 && !ws.closed(); i++) await sleep(20);
    expect(ws.closed()?.code).toBe(4403);
  });

  it("does not let a verification that raced a revocation keep the key alive, over HTTP or WebSocket", async () => {
    const key = await newKey("EDITOR");
    let restore = slowNextLookup(300);
    const inFlight = http.raw(key.secret, "{ prompts(first: 1) { totalCount } }");
    await sleep(100);
    expect((await http.gql(ADMIN_KEY, RevokeApiKeyDocument, { id: key.id })).errors).toBeUndefined();
    await inFlight; // verified before the revocation landed: may still answer
    restore();
    expect((await http.raw(key.secret, "{ __typename }")).status).toBe(401);

    const other = await newKey("EDITOR");
    restore = slowNextLookup(300);
    const pending = wsSession(port, { apiKey: other.secret });
    await sleep(100);
    await http.gql(ADMIN_KEY, RevokeApiKeyDocument, { id: other.id });
    const ws = await pending;
    restore();
    const answer = await ws.run(`mutation { createPrompt(input: { name: "hardening/revoked-ws", content: "x" }) { name } }`);
    expect(answer.some((m) => m.type === "next" && m.payload?.data)).toBe(false);
    expect(ws.closed()?.code).toBe(4403);
  });
});

describe("open local mode", () => {
  it("does not make a request from another site's page, or for another host name, the local admin", async () => {
    const local = await createTestApp();
    try {
      const localPort = await local.app.listen();
      const mint = `mutation { createApiKey(input: { name: "pwned", role: ADMIN }) { secret } }`;
      const crossSite = await wsSession(localPort, undefined, { origin: "https://evil.example" });
      expect(crossSite.closed()?.code).toBe(4401);
      const rebound = await wsSession(localPort, undefined, { host: "rebind.evil.example" });
      expect(rebound.closed()?.code).toBe(4401);
      for (const headers of [{ host: "rebind.evil.example:80" }, { origin: "http://evil.example" }, { origin: "null" }] as Record<string, string>[]) {
        expect(await rawPost(localPort, mint, headers), JSON.stringify(headers)).toBe(401);
      }
      // This machine's own tools (no Origin, or a page served from localhost) are the local admin.
      const own = await wsSession(localPort, undefined, { origin: "http://localhost:3000" });
      expect(own.acked()).toBe(true);
      own.socket.close();
      expect(await rawPost(localPort, mint, { origin: `http://127.0.0.1:${localPort}` })).toBe(200);
    } finally {
      await local.close();
    }
  });
});

describe("bulk jobs and protected labels", () => {
  it("runs a retry with the retrier's rights: an editor cannot re-run an admin's SET_LABEL production job", async () => {
    const name = `hardening/retry-${Date.now()}`;
    await http.gql(ADMIN_KEY, CreatePromptDocument, { input: { name, content: "v1" } });
    await http.gql(ADMIN_KEY, ArchivePromptDocument, { prompt: { name } });
    const job = (await http.gql(ADMIN_KEY, StartBulkDocument, { input: { kind: "SET_LABEL", label: "production", items: [{ prompt: { name } }] } })).data!.startBulkOperation;
    await t.app.services.runner.idle();
    expect((await http.gql(ADMIN_KEY, GetBulkDocument, { id: job.id })).data!.bulkOperation).toMatchObject({ failed: 1 });
    const editor = await newKey("EDITOR");
    await http.gql(editor.secret, RestorePromptDocument, { prompt: { name } });
    await http.gql(editor.secret, UpdatePromptDocument, { prompt: { name }, input: { content: "v2 by the editor" } });
    const retried = await http.gql(editor.secret, RetryBulkDocument, { id: job.id });
    expect(errorCodes(retried)).toEqual(["FORBIDDEN"]);
    await t.app.services.runner.idle();
    const labels = (await http.gql(ADMIN_KEY, LabelsDocument, { name })).data!.prompt!.labels.map((l) => l.name);
    expect(labels).not.toContain("production");
  });

  it("stops a running job at its next chunk when its key is revoked, and names the retrier in what a retry does", async () => {
    const editor = await newKey("EDITOR");
    const items = Array.from({ length: 3_000 }, (_, i) => ({ name: `hardening/many-${Date.now()}-${i}`, content: "x" }));
    const job = (await http.gql(editor.secret, StartBulkDocument, { input: { kind: "CREATE_PROMPTS", items } })).data!.startBulkOperation;
    for (let i = 0; i < 200; i++) {
      const op = (await http.gql(ADMIN_KEY, GetBulkDocument, { id: job.id })).data!.bulkOperation!;
      if (op.processed > 0) break;
      await sleep(5);
    }
    await http.gql(ADMIN_KEY, RevokeApiKeyDocument, { id: editor.id });
    await t.app.services.runner.idle();
    const after = (await http.gql(ADMIN_KEY, GetBulkDocument, { id: job.id })).data!.bulkOperation!;
    expect(after).toMatchObject({ status: "FAILED", error: expect.stringMatching(/revoked or has expired/) });
    expect(after.succeeded).toBeLessThan(3_000);

    // The admin's failed SET_LABEL staging job, retried by an editor, is recorded as the editor's move.
    const name = `hardening/runby-${Date.now()}`;
    await http.gql(ADMIN_KEY, CreatePromptDocument, { input: { name, content: "v1" } });
    await http.gql(ADMIN_KEY, ArchivePromptDocument, { prompt: { name } });
    const setLabel = (await http.gql(ADMIN_KEY, StartBulkDocument, { input: { kind: "SET_LABEL", label: "staging", items: [{ prompt: { name } }] } })).data!.startBulkOperation;
    await t.app.services.runner.idle();
    const mallory = await newKey("EDITOR");
    await http.gql(mallory.secret, RestorePromptDocument, { prompt: { name } });
    expect((await http.gql(mallory.secret, RetryBulkDocument, { id: setLabel.id })).errors).toBeUndefined();
    await t.app.services.runner.idle();
    const history = (await http.gql(ADMIN_KEY, LabelsDocument, { name })).data!.prompt!.labelHistory.nodes;
    expect(history[0]).toMatchObject({ label: "staging", actor: expect.stringMatching(/^EDITOR /) });
  });

  it("stops a job whose key was revoked before it ran", async () => {
    const editor = await newKey("EDITOR");
    // Hold the runner so the job is still queued when the key goes.
    const runner = t.app.services.runner as unknown as { running?: Promise<void> };
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    runner.running = held;
    try {
      const job = (await http.gql(editor.secret, StartBulkDocument, { input: { kind: "ADD_TAGS", tags: ["x"], items: [{ prompt: { name: "nope" } }] } })).data!.startBulkOperation;
      await http.gql(ADMIN_KEY, RevokeApiKeyDocument, { id: editor.id });
      // Let the runner go: it picks the job up now, after the revocation.
      release();
      runner.running = undefined;
      (runner as unknown as { queue: string[] }).queue = [];
      t.app.services.runner.enqueue(job.id);
      await t.app.services.runner.idle();
      const after = (await http.gql(ADMIN_KEY, GetBulkDocument, { id: job.id })).data!.bulkOperation!;
      expect(after.status).toBe("FAILED");
      expect(after.error).toMatch(/revoked or has expired/);
    } finally {
      release();
    }
  });
});

describe("A/B tests on protected labels", () => {
  it("serve and promote the versions the admin started them with, whatever labels move later", async () => {
    const name = `hardening/ab-${Date.now()}`;
    await http.gql(ADMIN_KEY, CreatePromptDocument, { input: { name, content: "v1" } });
    await http.gql(ADMIN_KEY, UpdatePromptDocument, { prompt: { name }, input: { content: "v2" } });
    await http.gql(ADMIN_KEY, SetLabelDocument, { input: { prompt: { name }, label: "production", version: 1 } });
    const editor = await newKey("EDITOR");
    const input = {
      name: "moving target",
      prompt: { name },
      variants: [
        { name: "control", label: "production", weight: 1 },
        { name: "new", label: "latest", weight: 1 },
      ],
      metric: "CONVERSION" as const,
    };
    const test = (await http.gql(editor.secret, CreateAbTestDocument, { input })).data!.createAbTest;
    const started = (await http.gql(ADMIN_KEY, StartAbTestDocument, { id: test.id })).data!.startAbTest;
    expect(started.variants.map((v) => v.versionNumber)).toEqual([1, 2]);
    // The editor saves a version 3: `latest` moves, the running test does not.
    await http.gql(editor.secret, UpdatePromptDocument, { prompt: { name }, input: { content: "v3 unreviewed" } });
    const served = new Set<string>();
    for (let i = 0; i < 30; i++) served.add((await http.gql(editor.secret, ResolvePromptDocument, { name, subjectKey: `s${i}`, label: "production" })).data!.resolvePrompt.text ?? "");
    expect([...served].sort()).toEqual(["v1", "v2"]);
    await http.gql(ADMIN_KEY, CompleteAbTestDocument, { id: test.id, winner: 1, promote: true });
    const labels = (await http.gql(ADMIN_KEY, LabelsDocument, { name })).data!.prompt!.labels;
    expect(labels).toContainEqual(expect.objectContaining({ name: "production", versionNumber: 2 }));
  });
});

describe("denials and budgets", () => {
  it("records a key's refused mutation once per operation, and nothing for callers without a key", async () => {
    const viewer = await newKey("VIEWER");
    const mutation = `mutation { a: createPrompt(input: { name: "x", content: "x" }) { id } archivePrompt(prompt: { name: "x" }) { id } }`;
    expect((await http.raw(viewer.secret, mutation)).status).toBe(403);
    const denied = (await http.gql(ADMIN_KEY, AuditLogDocument, { filter: { outcome: "DENIED", keyId: viewer.id } })).data!.auditLog;
    expect(denied.nodes).toHaveLength(1);
    expect(denied.nodes[0]).toMatchObject({ operation: "createPrompt, archivePrompt", errorCode: "FORBIDDEN" });
    const before = (await http.gql(ADMIN_KEY, AuditLogDocument, { filter: { outcome: "DENIED" } })).data!.auditLog.totalCount;
    expect((await http.post(null, Array.from({ length: 3 }, () => ({ query: mutation })))).status).toBe(401);
    expect((await http.gql(ADMIN_KEY, AuditLogDocument, { filter: { outcome: "DENIED" } })).data!.auditLog.totalCount).toBe(before);
  });

  it("charges wrong keys to the caller's address, over WebSocket too, and rate-limits /export", async () => {
    // A wrong key over WebSocket is refused (and takes one request of the address's budget, as over HTTP).
    const guess = await wsSession(port, { apiKey: `psk_${"w".repeat(43)}` });
    expect(guess.closed()?.code).toBe(4403);
    // Wrong keys are 401 while the address has anonymous budget left (10, minus what earlier tests took), then 429.
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await http.raw(`psk_${String(i).repeat(43).slice(0, 43)}`, "{ __typename }")).status);
    expect(new Set(statuses)).toEqual(new Set([401, 429]));
    expect(statuses.slice(statuses.indexOf(429))).toEqual(statuses.slice(statuses.indexOf(429)).map(() => 429));
    const exports: number[] = [];
    for (let i = 0; i < 3; i++) exports.push((await fetch(`http://127.0.0.1:${port}/export`)).status);
    expect(exports).toContain(429);
  });

  it("refuses configurations that would leave a hole", () => {
    expect(() => loadConfig({ PROMPT_STORE_PROTECTED_LABELS: "," })).toThrow(/names no label/);
    expect(() => loadConfig({ PROMPT_STORE_RATE_LIMIT_BURST: "5", PROMPT_STORE_MAX_BATCH_OPERATIONS: "10" })).toThrow(/at least PROMPT_STORE_MAX_BATCH_OPERATIONS/);
  });
});
