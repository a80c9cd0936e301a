import { print } from "graphql";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  BulkProgressDocument,
  CancelBulkDocument,
  CreatePromptDocument,
  GetBulkDocument,
  GetPromptDocument,
  LabelsDocument,
  ListBulkDocument,
  MarkReadDocument,
  NotificationsDocument,
  RetryBulkDocument,
  StartBulkDocument,
  type BulkProgressSubscription,
  type StartBulkOperationInput,
} from "./generated/operations.js";
import { codes, createTestApp, type TestApp } from "./helpers/app.js";
import { SyncReader } from "../src/db/sync-reader.js";
import { BulkRepository } from "../src/domain/bulk/bulk.repository.js";

let t: TestApp;
let wsUrl: string;
beforeAll(async () => {
  t = await createTestApp({ bulk: { maxItems: 5_000, chunkSize: 40, chunkMs: 50 } });
  wsUrl = `ws://127.0.0.1:${await t.app.listen()}/graphql`;
});
afterAll(() => t.close());

async function run(input: StartBulkOperationInput) {
  const { startBulkOperation } = await t.ok(StartBulkDocument, { input });
  expect(startBulkOperation.status).toBe("QUEUED");
  await t.app.services.runner.idle();
  return (await t.ok(GetBulkDocument, { id: startBulkOperation.id, first: 200 })).bulkOperation!;
}

const names = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}/p${String(i).padStart(3, "0")}`);

describe("bulk operations", () => {
  it("creates prompts in chunks, reporting each failed item with a code and carrying on", async () => {
    const items = [
      ...names("bulk-create", 100).map((name) => ({ name, content: `Hello {{who}} from ${name}`, tags: ["bulk"] })),
      { name: "bad name!", content: "x" },
      { name: "bulk-create/p000", content: "duplicate name" },
      { name: "bulk-create/empty", content: "" },
      { name: 42, content: "wrong type" },
    ];
    const op = await run({ kind: "CREATE_PROMPTS", items });
    expect(op).toMatchObject({ status: "COMPLETED", total: 104, processed: 104, succeeded: 100, failed: 4, skipped: 0, percent: 100 });
    expect(op.startedAt).not.toBeNull();
    expect(op.finishedAt).not.toBeNull();
    expect(op.itemsPerSecond).toBeGreaterThan(0);
    const failed = (await t.ok(GetBulkDocument, { id: op.id, status: "FAILED" })).bulkOperation!.items;
    expect(failed.totalCount).toBe(4);
    expect(failed.nodes.map((i) => [i.index, i.errorCode])).toEqual([
      [100, "BAD_USER_INPUT"],
      [101, "CONFLICT"],
      [102, "BAD_USER_INPUT"],
      [103, "BAD_USER_INPUT"],
    ]);
    const { prompt } = await t.ok(GetPromptDocument, { name: "bulk-create/p042" });
    expect(prompt).toMatchObject({ tags: ["bulk"], versionCount: 1, latestVersion: { variables: ["who"] } });
    expect(await t.app.db.prompt.count({ where: { name: { startsWith: "bulk-create/" } } })).toBe(100);
  });

  it("keeps one malformed item from failing the operation, and publishes events only for committed rows", async () => {
    const created: string[] = [];
    const events = t.app.bus.subscribe("prompt.events");
    const consuming = (async () => {
      for await (const event of events) if (event.type === "CREATED" && event.promptName.startsWith("bulk-mal/")) created.push(event.promptId);
    })();
    const items = [
      ...names("bulk-mal", 55).map((name) => ({ name, content: "x" })),
      { name: "bulk-mal/chat", type: "CHAT", messages: [{ role: 5, content: "hi" }] },
      { name: "bulk-mal/bad", messages: "oops" },
    ];
    const op = await run({ kind: "CREATE_PROMPTS", items });
    expect(op).toMatchObject({ status: "COMPLETED", succeeded: 55, failed: 2 });
    const failed = (await t.ok(GetBulkDocument, { id: op.id, status: "FAILED" })).bulkOperation!.items.nodes;
    expect(failed.map((i) => i.errorCode)).toEqual(["BAD_USER_INPUT", "BAD_USER_INPUT"]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await events.return();
    await consuming;
    const rows = await t.app.db.prompt.findMany({ where: { name: { startsWith: "bulk-mal/" } }, select: { id: true } });
    expect(rows).toHaveLength(55);
    expect(new Set(created)).toEqual(new Set(rows.map((r) => r.id)));
    expect(created).toHaveLength(55);
  });

  it("updates, tags, labels, archives and deletes prompts selected inline or by filter", async () => {
    await run({ kind: "CREATE_PROMPTS", items: names("bulk-sel", 30).map((name) => ({ name, content: "v1" })) });
    const updated = await run({
      kind: "UPDATE_PROMPTS",
      items: [
        ...names("bulk-sel", 10).map((name) => ({ prompt: { name }, content: "v2", commitMessage: "bulk edit" })),
        { prompt: { name: "bulk-sel/p010" }, content: "v1" },
        { prompt: { name: "bulk-sel/none" }, content: "x" },
      ],
    });
    expect(updated).toMatchObject({ succeeded: 10, skipped: 1, failed: 1 });

    const tagged = await run({ kind: "ADD_TAGS", filter: { folder: "bulk-sel" }, tags: ["reviewed", "q3"] });
    expect(tagged).toMatchObject({ total: 30, succeeded: 30 });
    const again = await run({ kind: "ADD_TAGS", filter: { folder: "bulk-sel" }, tags: ["q3"] });
    expect(again).toMatchObject({ total: 30, skipped: 30 });
    await run({ kind: "REMOVE_TAGS", items: [{ prompt: { name: "bulk-sel/p001" } }], tags: ["q3"] });
    expect((await t.ok(GetPromptDocument, { name: "bulk-sel/p001" })).prompt!.tags).toEqual(["reviewed"]);

    const labelled = await run({ kind: "SET_LABEL", filter: { folder: "bulk-sel" }, label: "production", reason: "release 7" });
    expect(labelled).toMatchObject({ succeeded: 30 });
    const labels = await t.ok(LabelsDocument, { name: "bulk-sel/p003" });
    expect(labels.prompt!.labels).toContainEqual({ name: "production", versionNumber: 2, updatedBy: "local" });
    expect(labels.prompt!.labelHistory.nodes[0]).toMatchObject({ reason: "release 7", toVersion: 2 });

    const archived = await run({ kind: "ARCHIVE_PROMPTS", filter: { folder: "bulk-sel", tags: ["q3"] } });
    expect(archived).toMatchObject({ total: 29, succeeded: 29 });
    const deleted = await run({ kind: "DELETE_PROMPTS", filter: { folder: "bulk-sel", archived: "ALL" } });
    expect(deleted).toMatchObject({ total: 30, succeeded: 30 });
    expect(await t.app.db.prompt.count({ where: { name: { startsWith: "bulk-sel/" } } })).toBe(0);
  });

  it("imports an export document item by item", async () => {
    const document = {
      format: "prompt-store.export",
      formatVersion: 1,
      prompts: [
        { name: "bulk-imp/a", type: "TEXT", versions: [{ number: 1, content: "a1" }, { number: 2, content: "a2" }], labels: [{ name: "production", version: 1 }] },
        { name: "bulk-imp/b", type: "TEXT", versions: [{ number: 3, content: "wrong numbering" }] },
      ],
    };
    const op = await run({ kind: "IMPORT", document });
    expect(op).toMatchObject({ succeeded: 1, failed: 1 });
    expect((await t.ok(GetPromptDocument, { name: "bulk-imp/a" })).prompt!.versionCount).toBe(2);
    const skipped = await run({ kind: "IMPORT", document: { ...document, prompts: [document.prompts[0]] } });
    expect(skipped).toMatchObject({ skipped: 1 });
  });

  it("dry runs compute every outcome and write nothing", async () => {
    const before = await t.app.db.prompt.count();
    const op = await run({ kind: "CREATE_PROMPTS", dryRun: true, items: [...names("bulk-dry", 5).map((name) => ({ name, content: "x" })), { name: "bad name", content: "x" }] });
    expect(op).toMatchObject({ dryRun: true, status: "COMPLETED", succeeded: 5, failed: 1 });
    expect(await t.app.db.prompt.count()).toBe(before);
    const archive = await run({ kind: "ARCHIVE_PROMPTS", dryRun: true, filter: { folder: "bulk-create" } });
    expect(archive).toMatchObject({ succeeded: 100 });
    expect(await t.app.db.prompt.count({ where: { archivedAt: { not: null }, name: { startsWith: "bulk-create/" } } })).toBe(0);
  });

  it("stops at the first failure with stopOnError and skips the rest", async () => {
    const items = names("bulk-stop", 10).map((name, i) => ({ name: i === 4 ? "bad name" : name, content: "x" }));
    const op = await run({ kind: "CREATE_PROMPTS", stopOnError: true, items });
    expect(op).toMatchObject({ status: "FAILED", succeeded: 4, failed: 1, skipped: 5 });
    expect(op.error).toMatch(/stopOnError/);
    expect(await t.app.db.prompt.count({ where: { name: { startsWith: "bulk-stop/" } } })).toBe(4);
  });

  it("returns the same operation for a retried request with the same idempotency key", async () => {
    const input = { kind: "CREATE_PROMPTS" as const, idempotencyKey: "client-req-1", items: [{ name: "bulk-idem/one", content: "x" }] };
    const first = await t.ok(StartBulkDocument, { input });
    const second = await t.ok(StartBulkDocument, { input });
    expect(second.startBulkOperation.id).toBe(first.startBulkOperation.id);
    await t.app.services.runner.idle();
    expect(await t.app.db.prompt.count({ where: { name: "bulk-idem/one" } })).toBe(1);
    const otherKind = await t.execute(StartBulkDocument, { input: { ...input, kind: "DELETE_PROMPTS" } });
    expect(codes(otherKind)).toEqual(["CONFLICT"]);
  });

  it("retries only the failed items, as a new attempt", async () => {
    const op = await run({ kind: "UPDATE_PROMPTS", items: [{ prompt: { name: "bulk-retry/a" }, content: "new" }, { prompt: { name: "bulk-create/p001" }, content: "changed" }] });
    expect(op).toMatchObject({ succeeded: 1, failed: 1, attempt: 1 });
    await t.ok(CreatePromptDocument, { input: { name: "bulk-retry/a", content: "old" } });
    const { retryBulkOperation } = await t.ok(RetryBulkDocument, { id: op.id });
    expect(retryBulkOperation).toMatchObject({ status: "QUEUED", attempt: 2, failed: 0 });
    await t.app.services.runner.idle();
    const after = (await t.ok(GetBulkDocument, { id: op.id })).bulkOperation!;
    expect(after).toMatchObject({ status: "COMPLETED", succeeded: 2, failed: 0, attempt: 2 });
    expect(after.items.nodes.map((i) => i.attempt)).toEqual([2, 1]);
    expect((await t.ok(GetPromptDocument, { name: "bulk-create/p001" })).prompt!.versionCount).toBe(2);
    expect(codes(await t.execute(RetryBulkDocument, { id: op.id }))).toEqual(["FAILED_PRECONDITION"]);
  });

  it("cancels at the next chunk, keeping what was done", async () => {
    const items = names("bulk-cancel", 400).map((name) => ({ name, content: "x", copyFrom: null, description: "one by one" }));
    // stopOnError forces the one-by-one path, so the job lasts several chunks.
    const { startBulkOperation } = await t.ok(StartBulkDocument, { input: { kind: "CREATE_PROMPTS", stopOnError: true, items } });
    await t.ok(CancelBulkDocument, { id: startBulkOperation.id });
    await t.app.services.runner.idle();
    const op = (await t.ok(GetBulkDocument, { id: startBulkOperation.id })).bulkOperation!;
    expect(op.status).toBe("CANCELLED");
    expect(op.succeeded).toBeLessThan(400);
    expect(await t.app.db.prompt.count({ where: { name: { startsWith: "bulk-cancel/" } } })).toBe(op.succeeded);
    expect(op.skipped).toBe(400 - op.succeeded);
    expect(codes(await t.execute(CancelBulkDocument, { id: op.id }))).toEqual(["FAILED_PRECONDITION"]);
  });

  it("refuses invalid requests before writing anything", async () => {
    const before = await t.app.db.bulkOperation.count();
    const tooMany = Array.from({ length: 5_001 }, (_, i) => ({ name: `x/${i}`, content: "x" }));
    const cases: [StartBulkOperationInput, string][] = [
      [{ kind: "CREATE_PROMPTS", items: tooMany }, "items"],
      [{ kind: "CREATE_PROMPTS", items: [] }, "items"],
      [{ kind: "CREATE_PROMPTS", filter: { folder: "x" } }, "filter"],
      [{ kind: "ADD_TAGS", filter: { folder: "x" } }, "tags"],
      [{ kind: "SET_LABEL", items: [{ prompt: { name: "x" } }], label: "latest" }, "label"],
      [{ kind: "IMPORT", items: [{}] }, "items"],
      [{ kind: "DELETE_PROMPTS", items: [{}], filter: {} }, "items"],
    ];
    for (const [input, field] of cases) {
      const result = await t.execute(StartBulkDocument, { input });
      expect(codes(result), field).toEqual(["BAD_USER_INPUT"]);
      expect(result.errors![0]!.extensions!.field).toBe(field);
    }
    expect(await t.app.db.bulkOperation.count()).toBe(before);
  });

  it("lists operations newest first, by status", async () => {
    const { bulkOperations } = await t.ok(ListBulkDocument, { first: 3 });
    expect(bulkOperations.nodes).toHaveLength(3);
    expect(bulkOperations.totalCount).toBeGreaterThan(10);
    const cancelled = await t.ok(ListBulkDocument, { status: "CANCELLED" });
    expect(cancelled.bulkOperations.nodes.every((n) => n.status === "CANCELLED")).toBe(true);
    expect(codes(await t.execute(GetBulkDocument, { id: "nope" }))).toEqual(["NOT_FOUND"]);
  });
});

describe("live progress and notifications", () => {
  it("streams throttled progress then a final event, and replays from afterSequence without gaps or duplicates", async () => {
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    const items = names("bulk-live", 600).map((name) => ({ name, content: "x" }));
    const { startBulkOperation } = await t.ok(StartBulkDocument, { input: { kind: "CREATE_PROMPTS", stopOnError: true, items } });
    const collect = (afterSequence: number | null) =>
      new Promise<BulkProgressSubscription["bulkOperationProgress"][]>((resolve, reject) => {
        const events: BulkProgressSubscription["bulkOperationProgress"][] = [];
        client.subscribe<BulkProgressSubscription>(
          { query: print(BulkProgressDocument), variables: { id: startBulkOperation.id, afterSequence } },
          {
            next: (r) => (r.errors ? reject(new Error(JSON.stringify(r.errors))) : events.push(r.data!.bulkOperationProgress)),
            error: reject,
            complete: () => resolve(events),
          },
        );
      });
    const live = await collect(0);
    expect(live.at(-1)).toMatchObject({ final: true, status: "COMPLETED", processed: 600, succeeded: 600, percent: 100 });
    expect(live.map((e) => e.sequence)).toEqual(live.map((_, i) => i + 1));
    const processed = live.map((e) => e.processed);
    expect(processed).toEqual([...processed].sort((a, b) => a - b));
    // Throttled to one event per 250 ms at most (plus the final one), however fast or slow the job ran.
    const op = (await t.ok(GetBulkDocument, { id: startBulkOperation.id })).bulkOperation!;
    const ranMs = Date.parse(op.finishedAt!) - Date.parse(op.startedAt!);
    expect(live.length).toBeLessThanOrEqual(Math.ceil(ranMs / 250) + 2);

    // A client that saw up to sequence 1 gets exactly the rest, from the database.
    const replay = await collect(1);
    expect(replay).toEqual(live.slice(1));
    // Without afterSequence: the latest state at once, then the stream ends.
    const current = await collect(null);
    expect(current).toEqual([live.at(-1)]);
    await client.dispose();
  });

  it("keeps a notification feed of finished operations", async () => {
    const { notifications } = await t.ok(NotificationsDocument, { unreadOnly: true, first: 5 });
    expect(notifications.totalCount).toBeGreaterThan(5);
    expect(notifications.nodes[0]).toMatchObject({ kind: expect.stringMatching(/^BULK_OPERATION_/), data: { operationId: expect.any(String) } });
    const { markNotificationsRead } = await t.ok(MarkReadDocument, { ids: [notifications.nodes[0]!.id] });
    expect(markNotificationsRead).toBe(1);
    expect((await t.ok(NotificationsDocument, { unreadOnly: true })).notifications.totalCount).toBe(notifications.totalCount - 1);
    await t.ok(MarkReadDocument, { all: true });
    expect((await t.ok(NotificationsDocument, { unreadOnly: true })).notifications.totalCount).toBe(0);
    expect(codes(await t.execute(MarkReadDocument, {}))).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("progress of a queued operation", () => {
  it("starts with the current state (sequence 0) before any event is recorded", async () => {
    const other = await createTestApp();
    try {
      await other.app.services.runner.stop(); // keep the operation queued
      const { startBulkOperation } = await other.ok(StartBulkDocument, { input: { kind: "CREATE_PROMPTS", items: [{ name: "queued/a", content: "x" }] } });
      const stream = await other.app.services.bulk.progress(startBulkOperation.id, null);
      const iterator = stream[Symbol.asyncIterator]();
      const first = await iterator.next();
      expect(first.value).toMatchObject({ sequence: 0, status: "QUEUED", total: 1, processed: 0, final: false });
      await iterator.return?.(undefined);
    } finally {
      await other.close();
    }
  });
});

describe("reading an operation on the prepared-statement reader", () => {
  it("gives what Prisma gives, for every operation the tests above left in every state", async () => {
    const reader = new SyncReader(t.app.config.dbFile, 1_000);
    try {
      const viaPrisma = new BulkRepository(t.app.db, undefined as never);
      const viaReader = new BulkRepository(t.app.db, undefined as never, reader);
      const ops = await t.app.db.bulkOperation.findMany({ select: { id: true, status: true, dryRun: true, cancelRequested: true } });
      // The tests above leave completed, failed, cancelled and dry-run operations behind.
      expect(new Set(ops.map((op) => op.status))).toEqual(new Set(["COMPLETED", "FAILED", "CANCELLED"]));
      expect(ops.some((op) => op.dryRun) && ops.some((op) => op.cancelRequested)).toBe(true);
      for (const { id } of ops) expect(await viaReader.findById(id)).toEqual(await viaPrisma.findById(id));
      expect(await viaReader.findById("no-such-operation")).toBeNull();
    } finally {
      reader.close();
    }
  });
});
