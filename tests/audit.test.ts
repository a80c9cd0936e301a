// The audit log: one entry per mutation, written in the same transaction as the change it
// records (both or neither), readable by admins with filters and cursors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuditLogDocument,
  CreateApiKeyDocument,
  CreatePromptDocument,
  GetPromptDocument,
  LabelsDocument,
  MarkReadDocument,
  RecordUsageDocument,
  SetLabelDocument,
  StartBulkDocument,
  UpdatePromptDocument,
  type AuditLogQuery,
} from "./generated/operations.js";
import { createTestApp, type TestApp } from "./helpers/app.js";
import { AuditRepository } from "../src/audit/audit.repository.js";
import { Mutex } from "../src/db/isolation.js";
import { SyncWriter } from "../src/db/sync-writer.js";
import { errorCodes, httpClient } from "./helpers/http-client.js";

const ADMIN_KEY = "bootstrap-admin-key-for-audit-tests-0123";

let t: TestApp;
let http: ReturnType<typeof httpClient>;
let editor: { id: string; secret: string };
let viewer: { id: string; secret: string };

beforeAll(async () => {
  t = await createTestApp({ auth: { adminKey: ADMIN_KEY, openLocalMode: false, protectedLabels: ["production"], anonymousIntrospection: false } });
  http = httpClient(await t.app.listen());
  const make = async (name: string, role: "EDITOR" | "VIEWER") => {
    const created = (await http.gql(ADMIN_KEY, CreateApiKeyDocument, { input: { name, role } })).data!.createApiKey;
    return { id: created.key.id, secret: created.secret };
  };
  editor = await make("editor", "EDITOR");
  viewer = await make("viewer", "VIEWER");
});

afterAll(() => t?.close());

type Entry = AuditLogQuery["auditLog"]["nodes"][number];
const entries = async (filter: Record<string, unknown>, first = 50): Promise<Entry[]> => {
  const res = await http.gql(ADMIN_KEY, AuditLogDocument, { filter, first });
  expect(res.errors).toBeUndefined();
  return res.data!.auditLog.nodes;
};

describe("audit log", () => {
  it("records who did what to which target, how it ended, and the request id", async () => {
    const created = await http.gql(editor.secret, CreatePromptDocument, { input: { name: "audit/one", content: "x".repeat(500) } }, { "x-request-id": "req-audit-1" });
    expect(created.errors).toBeUndefined();
    const [entry] = await entries({ target: "audit/one", operation: "createPrompt" });
    expect(entry).toMatchObject({
      actor: "editor",
      keyId: editor.id,
      role: "EDITOR",
      operation: "createPrompt",
      target: "audit/one",
      outcome: "SUCCESS",
      errorCode: null,
      requestId: "req-audit-1",
    });
    // Long text is shortened in the details.
    expect(JSON.stringify(entry!.details)).toContain("(500 characters)");
    expect(Math.abs(Date.parse(entry!.occurredAt) - Date.now())).toBeLessThan(10_000);

    const conflict = await http.gql(editor.secret, UpdatePromptDocument, { prompt: { name: "audit/one" }, input: { content: "y", expectedVersion: 7 } });
    expect(errorCodes(conflict)).toEqual(["CONFLICT"]);
    const [failed] = await entries({ target: "audit/one", operation: "updatePrompt" });
    expect(failed).toMatchObject({ outcome: "FAILURE", errorCode: "CONFLICT", actor: "editor" });

    const denied = await http.gql(viewer.secret, CreatePromptDocument, { input: { name: "audit/denied", content: "x" } });
    expect(denied.status).toBe(403);
    const [refused] = await entries({ actor: "viewer", operation: "createPrompt" });
    expect(refused).toMatchObject({ outcome: "DENIED", errorCode: "FORBIDDEN", role: "VIEWER" });

    // A mutation that changes nothing is still recorded.
    await http.gql(editor.secret, MarkReadDocument, { all: true });
    expect(await entries({ operation: "markNotificationsRead" })).toHaveLength(1);
  });

  it("writes the entry in the change's own transaction: if the entry cannot be written, the change is not kept", async () => {
    await http.gql(editor.secret, CreatePromptDocument, { input: { name: "audit/atomic", content: "v1" } });
    const before = await t.app.db.$queryRawUnsafe<{ n: bigint }[]>('SELECT COUNT(*) AS n FROM "UsageEvent"');
    await t.app.db.$executeRawUnsafe(`CREATE TRIGGER audit_down BEFORE INSERT ON "AuditEntry" BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END`);
    try {
      // Prisma's path: a new prompt, a new version, a label move.
      const created = await http.gql(editor.secret, CreatePromptDocument, { input: { name: "audit/lost", content: "x" } });
      expect(errorCodes(created)).toEqual(["INTERNAL_SERVER_ERROR"]);
      const updated = await http.gql(editor.secret, UpdatePromptDocument, { prompt: { name: "audit/atomic" }, input: { content: "v2" } });
      expect(errorCodes(updated)).toEqual(["INTERNAL_SERVER_ERROR"]);
      const labelled = await http.gql(editor.secret, SetLabelDocument, { input: { prompt: { name: "audit/atomic" }, label: "staging", version: 1 } });
      expect(errorCodes(labelled)).toEqual(["INTERNAL_SERVER_ERROR"]);
      // The ingest path (its own connection and prepared statements).
      const usage = await http.gql(editor.secret, RecordUsageDocument, { events: [{ prompt: { name: "audit/atomic" }, success: true }] });
      expect(errorCodes(usage)).toEqual(["INTERNAL_SERVER_ERROR"]);
    } finally {
      await t.app.db.$executeRawUnsafe("DROP TRIGGER audit_down");
    }
    expect((await http.gql(ADMIN_KEY, GetPromptDocument, { name: "audit/lost" })).data?.prompt ?? null).toBeNull();
    const atomic = (await http.gql(ADMIN_KEY, LabelsDocument, { name: "audit/atomic" })).data!.prompt!;
    expect(atomic.labels.map((l) => l.name)).toEqual(["latest"]);
    expect((await http.gql(ADMIN_KEY, GetPromptDocument, { name: "audit/atomic" })).data!.prompt!.latestVersion.number).toBe(1);
    const after = await t.app.db.$queryRawUnsafe<{ n: bigint }[]>('SELECT COUNT(*) AS n FROM "UsageEvent"');
    expect(after[0]!.n).toBe(before[0]!.n);

    // And with the log back, both are kept together.
    const usage = await http.gql(editor.secret, RecordUsageDocument, { events: [{ prompt: { name: "audit/atomic" }, success: true }] });
    expect(usage.errors).toBeUndefined();
    expect(await entries({ operation: "recordUsage", outcome: "SUCCESS" })).toHaveLength(1);
  });

  it("records a bulk operation once, not once per chunk of the job it starts", async () => {
    const items = Array.from({ length: 30 }, (_, i) => ({ name: `audit/bulk/${i}`, content: "x" }));
    const started = await http.gql(editor.secret, StartBulkDocument, { input: { kind: "CREATE_PROMPTS", items } });
    expect(started.errors).toBeUndefined();
    await t.app.services.runner.idle();
    expect(await entries({ operation: "startBulkOperation" })).toHaveLength(1);
    expect(await entries({ operation: "createPrompt", target: "audit/bulk/3" })).toHaveLength(0);
  });

  it("is for admins only, filters by time, and pages with cursors without gaps or repeats", async () => {
    const asEditor = await http.gql(editor.secret, AuditLogDocument, { first: 1 });
    expect(asEditor.status).toBe(403);
    for (let i = 0; i < 5; i++) await http.gql(editor.secret, CreatePromptDocument, { input: { name: `audit/page/${i}`, content: "x" } });
    const all = await entries({ operation: "createPrompt", actor: "editor" }, 200);
    const seen: string[] = [];
    let after: string | null | undefined;
    do {
      const page = (await http.gql(ADMIN_KEY, AuditLogDocument, { filter: { operation: "createPrompt", actor: "editor" }, first: 2, after })).data!.auditLog;
      expect(page.totalCount).toBe(all.length);
      seen.push(...page.nodes.map((e) => e.id));
      after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
    } while (after);
    expect(seen).toEqual(all.map((e) => e.id));
    // Newest first.
    const times = all.map((e) => Date.parse(e.occurredAt));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const future = await entries({ from: new Date(Date.now() + 60_000).toISOString() });
    expect(future).toEqual([]);
    const bad = await http.gql(ADMIN_KEY, AuditLogDocument, { filter: { from: "2026-01-02T00:00:00Z", to: "2026-01-01T00:00:00Z" } });
    expect(errorCodes(bad)).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("audit retention", () => {
  it("deletes the entries older than the cutoff, on a prepared statement, and says how many", async () => {
    const writer = new SyncWriter(t.app.config.dbFile, 5_000, new Mutex());
    try {
      const day = 86_400_000;
      const entry = (id: string, occurredAt: Date) => ({ id, occurredAt, operation: "retentionTest", outcome: "SUCCESS", requestId: id });
      await t.app.db.auditEntry.createMany({
        data: [entry("ret-old-1", new Date(Date.now() - 400 * day)), entry("ret-old-2", new Date(Date.now() - 91 * day)), entry("ret-new", new Date(Date.now() - 89 * day))],
      });
      const others = await t.app.db.auditEntry.count({ where: { operation: { not: "retentionTest" }, occurredAt: { lt: new Date(Date.now() - 90 * day) } } });
      const deleted = await new AuditRepository(t.app.db, writer).deleteBefore(new Date(Date.now() - 90 * day));
      expect(deleted).toBe(2 + others);
      const left = await t.app.db.auditEntry.findMany({ where: { operation: "retentionTest" }, select: { id: true } });
      expect(left).toEqual([{ id: "ret-new" }]);
      expect(await new AuditRepository(t.app.db, writer).deleteBefore(new Date(Date.now() - 90 * day))).toBe(0);
    } finally {
      writer.close();
    }
  });
});
