// The bulk worker thread: CREATE_PROMPTS chunks written off the main thread, mixed with items
// that need the general path, and a thread that dies in the middle of a chunk.
import type { Worker } from "node:worker_threads";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Mutex } from "../src/db/isolation.js";
import { BulkWorker } from "../src/domain/bulk/bulk.worker-client.js";
import { GetBulkDocument, GetPromptDocument, NotificationsDocument, StartBulkDocument, type StartBulkOperationInput } from "./generated/operations.js";
import { createTestApp, type TestApp } from "./helpers/app.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ bulk: { maxItems: 5_000, chunkSize: 50, chunkMs: 50 } });
});
afterAll(() => t.close());

async function run(input: StartBulkOperationInput) {
  const { startBulkOperation } = await t.ok(StartBulkDocument, { input });
  await t.app.services.runner.idle();
  return (await t.ok(GetBulkDocument, { id: startBulkOperation.id, first: 200 })).bulkOperation!;
}

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}/p${String(i).padStart(4, "0")}`);

describe("bulk worker", () => {
  it("hands items with includes to the general path and the rest to the worker, in order", async () => {
    const items = [
      ...names("bw-mix", 120).map((name) => ({ name, content: `Hello {{who}} from ${name}` })),
      { name: "bw-mix/with-include", content: "Intro: {{> bw-mix/p0001}}" },
      ...names("bw-mix2", 80).map((name) => ({ name, content: "second run", tags: ["t2"] })),
      { name: "bw-mix/p0005", content: "duplicate" },
    ];
    const op = await run({ kind: "CREATE_PROMPTS", items });
    expect(op).toMatchObject({ status: "COMPLETED", total: 202, succeeded: 201, failed: 1 });
    const failed = (await t.ok(GetBulkDocument, { id: op.id, status: "FAILED" })).bulkOperation!.items.nodes;
    expect(failed.map((i) => [i.index, i.errorCode])).toEqual([[201, "CONFLICT"]]);
    const included = await t.app.db.promptInclude.count({ where: { from: { name: "bw-mix/with-include" } } });
    expect(included).toBe(1);
    const { prompt } = await t.ok(GetPromptDocument, { name: "bw-mix2/p0079" });
    expect(prompt).toMatchObject({ tags: ["t2"], versionCount: 1, latestVersion: { content: "second run" } });
    // Rows written by the worker read back like Prisma's own (dates, ids).
    const row = await t.app.db.prompt.findUniqueOrThrow({ where: { name: "bw-mix/p0000" } });
    expect(row.createdAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
    expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("runs a job from its start to its notification without a statement through Prisma", async () => {
    // Prisma compiled each of its statements in wasm on the server's thread: a run's end (count,
    // updates, final event, notification) held it for 40-60 ms in one turn under S6's load.
    const before = t.app.statements.count;
    const { startBulkOperation } = await t.ok(StartBulkDocument, { input: { kind: "CREATE_PROMPTS", items: names("bw-prepared", 120).map((name) => ({ name, content: `c ${name}` })) } });
    await t.app.services.runner.idle();
    const sent = t.app.statements.recent.slice(-(t.app.statements.count - before));
    const op = (await t.ok(GetBulkDocument, { id: startBulkOperation.id, first: 1 })).bulkOperation!;
    expect(sent.length).toBeGreaterThan(5);
    // Prisma names every table with its schema (`main`.`BulkOperation`); the prepared statements do not.
    expect(sent.filter((sql) => /`main`\.`Bulk|INTO `main`\.`Notification`/.test(sql))).toEqual([]);
    expect(op).toMatchObject({ status: "COMPLETED", total: 120, succeeded: 120, processed: 120, failed: 0, skipped: 0 });
    expect(Date.parse(op.startedAt!)).toBeLessThanOrEqual(Date.parse(op.finishedAt!));
    // The final event and the notification, as Prisma wrote them before.
    const events = await t.app.db.bulkOperationEvent.findMany({ where: { operationId: op.id }, orderBy: { sequence: "asc" } });
    const last = JSON.parse(events.at(-1)!.payload);
    expect(last).toMatchObject({ operationId: op.id, sequence: events.length, status: "COMPLETED", processed: 120, succeeded: 120, final: true });
    expect(events.at(-1)!.createdAt.getTime()).toBeGreaterThan(Date.now() - 60_000);
    const { notifications } = await t.ok(NotificationsDocument, { first: 1 });
    expect(notifications.nodes[0]).toMatchObject({ kind: "BULK_OPERATION_COMPLETED", data: { operationId: op.id, status: "COMPLETED" }, readAt: null });
    expect(Date.parse(notifications.nodes[0]!.createdAt)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("loses nothing and applies nothing twice when the thread dies in the middle of a chunk", async () => {
    // An operation the app's own runner does not pick up: stored directly, then driven by hand.
    const opId = "bw-crash-op";
    const now = new Date();
    await t.app.db.bulkOperation.create({
      data: { id: opId, kind: "CREATE_PROMPTS", status: "RUNNING", dryRun: false, stopOnError: false, params: "{}", total: 3000, createdAt: now, updatedAt: now, startedAt: now },
    });
    await t.app.db.bulkOperationItem.createMany({
      data: names("bw-crash", 3000).map((name, index) => ({ operationId: opId, index, input: JSON.stringify({ name, content: `c ${index}` }), status: "PENDING" })),
    });
    const gate = new Mutex();
    const worker = new BulkWorker({ file: t.app.config.dbFile, busyTimeoutMs: 5_000, limits: { maxContentBytes: 256 * 1024 }, priority: 0 }, gate, pino({ level: "silent" }));
    const operation = async () => {
      const row = await t.app.db.bulkOperation.findUniqueOrThrow({ where: { id: opId } });
      return { ...row, kind: "CREATE_PROMPTS" as const, status: "RUNNING" as const, params: {} };
    };
    try {
      const first = await worker.runChunk({ operation: await operation(), limit: 10, progress: true });
      expect(first.result).toMatchObject({ processed: 10, event: { sequence: 1, processed: 10 } });
      expect(first.events).toHaveLength(10);

      const big = worker.runChunk({ operation: await operation(), limit: 2_000, progress: false });
      await new Promise((resolve) => setTimeout(resolve, 30));
      await (worker as unknown as { worker: Worker }).worker.terminate();
      await expect(big).rejects.toThrow(/exited/);

      // The gate was released, and the dead thread's transaction is gone: all or nothing of it.
      const release = await gate.acquire();
      release();
      const created = await t.app.db.prompt.count({ where: { name: { startsWith: "bw-crash/" } } });
      const done = await t.app.db.bulkOperationItem.count({ where: { operationId: opId, status: "SUCCEEDED" } });
      expect([10, 2_010]).toContain(created);
      expect(done).toBe(created);

      // A new thread takes over where the committed state says.
      for (;;) {
        const next = await worker.runChunk({ operation: await operation(), limit: 1_000, progress: false });
        // With nothing pending, the worker says so (processed 0) rather than handing over.
        expect(next.result).not.toBeNull();
        if (next.result!.processed === 0) break;
      }
      expect(await t.app.db.prompt.count({ where: { name: { startsWith: "bw-crash/" } } })).toBe(3000);
      const items = await t.app.db.bulkOperationItem.groupBy({ by: ["status", "attempt"], where: { operationId: opId }, _count: true });
      expect(items).toEqual([{ status: "SUCCEEDED", attempt: 1, _count: 3000 }]);
      const op = await t.app.db.bulkOperation.findUniqueOrThrow({ where: { id: opId } });
      expect(op).toMatchObject({ processed: 3000, succeeded: 3000, failed: 0 });
    } finally {
      await worker.close();
    }
  });
});
