// SyncWriter's group commit: writes that arrive together share one transaction, yet each one
// succeeds or fails on its own, and its caller hears of success only once it is committed.
// Then the same through the API: concurrent edits where one is refused.
import { mkdtempSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Mutex } from "../src/db/isolation.js";
import { SyncWriter } from "../src/db/sync-writer.js";
import { AuditLogDocument, CreateApiKeyDocument, CreatePromptDocument, GetPromptDocument, LabelsDocument, SetLabelDocument, UpdatePromptDocument } from "./generated/operations.js";
import { createTestApp, type TestApp } from "./helpers/app.js";
import { errorCodes, httpClient } from "./helpers/http-client.js";
import { TMP_ROOT } from "./helpers/paths.js";

describe("SyncWriter.grouped", () => {
  let file: string;
  let writer: SyncWriter;
  const rows = () => {
    const db = new Database(file, { readonly: true });
    try {
      return (db.prepare("SELECT x FROM item ORDER BY x").pluck().all() as number[]);
    } finally {
      db.close();
    }
  };

  beforeAll(() => {
    file = join(mkdtempSync(join(TMP_ROOT, "group-commit-")), "g.db");
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.exec(`CREATE TABLE parent (id INTEGER PRIMARY KEY);
      CREATE TABLE item (x INTEGER UNIQUE, parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)`);
    db.close();
  });
  afterEach(() => writer?.close());

  const insert = (x: number, parent: number | null = null) =>
    writer.grouped((session) => session.statement("INSERT INTO item (x, parent) VALUES (?, ?)").run(x, parent).changes);

  it("commits writes made in the same turn together; a failing one is undone alone", async () => {
    writer = new SyncWriter(file, 1_000, new Mutex());
    const outcomes = await Promise.allSettled([insert(1), insert(2), insert(1), insert(3), insert(4)]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
    expect(String((outcomes[2] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/);
    expect(rows()).toEqual([1, 2, 3, 4]);
    // The group ran without savepoints, was rolled back at the failure, and ran again with one per write.
    expect(writer.stats).toEqual({ transactions: 2, retried: 5 });
  });

  it("answers only after COMMIT, and reruns the others alone when COMMIT refuses the group", async () => {
    writer = new SyncWriter(file, 1_000, new Mutex());
    // The dangling parent passes its statement (deferred foreign key) and fails the COMMIT.
    const pending = [insert(10), insert(11, 999), insert(12)];
    let settled = 0;
    for (const p of pending) void p.then(() => settled++, () => settled++);
    await Promise.resolve();
    expect(settled).toBe(0);
    const outcomes = await Promise.allSettled(pending);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/FOREIGN KEY/);
    expect(rows()).toEqual([1, 2, 3, 4, 10, 12]);
    // One group that failed as a whole, then each of its three writes alone.
    expect(writer.stats).toEqual({ transactions: 4, retried: 3 });
  });

  it("takes turns with other transactions through the shared gate", async () => {
    const gate = new Mutex();
    writer = new SyncWriter(file, 1_000, gate);
    const release = await gate.acquire();
    const waiting = [insert(20), insert(21)];
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(rows()).not.toContain(20);
    // Writes queued while the gate was taken join the same group.
    waiting.push(insert(22));
    release();
    await Promise.all(waiting);
    expect(rows()).toEqual(expect.arrayContaining([20, 21, 22]));
    expect(writer.stats.transactions).toBe(1);
  });

  it("keeps nothing of a write that fails half-way, and commits the rest of its group", async () => {
    writer = new SyncWriter(file, 1_000, new Mutex());
    const halfWay = writer.grouped((session) => {
      session.statement("INSERT INTO item (x, parent) VALUES (?, ?)").run(31, null);
      throw new Error("refused after its first statement");
    });
    const outcomes = await Promise.allSettled([insert(30), halfWay, insert(32)]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(rows()).toEqual(expect.arrayContaining([30, 32]));
    expect(rows()).not.toContain(31);
    // A group where nothing fails is one transaction, run once.
    const before = { ...writer.stats };
    await Promise.all([insert(33), insert(34), insert(35)]);
    expect(writer.stats).toEqual({ transactions: before.transactions + 1, retried: before.retried });
  });
});

describe("SyncWriter.transaction in steps", () => {
  let file: string;
  let writer: SyncWriter;
  const count = () => {
    const db = new Database(file, { readonly: true });
    try {
      return db.prepare("SELECT count(*) FROM item").pluck().get() as number;
    } finally {
      db.close();
    }
  };
  beforeAll(() => {
    file = join(mkdtempSync(join(TMP_ROOT, "steps-")), "s.db");
    const db = new Database(file);
    db.pragma("journal_mode = WAL");
    db.exec("CREATE TABLE item (x INTEGER UNIQUE)");
    db.close();
  });
  afterEach(() => writer?.close());

  const yieldTurn = () => new Promise((resolve) => setImmediate(resolve));

  it("holds the gate across turns, lets reads in between, and commits all steps at once", async () => {
    const gate = new Mutex();
    writer = new SyncWriter(file, 1_000, gate);
    const seenBetweenSteps: number[] = [];
    const done = writer.transaction(async (session) => {
      const insert = session.statement("INSERT INTO item (x) VALUES (?)");
      for (let step = 0; step < 3; step++) {
        if (step > 0) await yieldTurn();
        for (let i = 0; i < 100; i++) insert.run(step * 100 + i);
      }
      return "stored";
    });
    // Between steps: other connections still see nothing, and no other writer of this process gets in.
    await yieldTurn();
    seenBetweenSteps.push(count());
    let otherWriterRan = false;
    const other = gate.acquire().then((release) => {
      otherWriterRan = true;
      release();
    });
    await yieldTurn();
    expect(otherWriterRan).toBe(false);
    expect(await done).toBe("stored");
    await other;
    expect(seenBetweenSteps).toEqual([0]);
    expect(count()).toBe(300);
  });

  it("keeps nothing of earlier steps when a later one fails", async () => {
    writer = new SyncWriter(file, 1_000, new Mutex());
    const before = count();
    await expect(
      writer.transaction(async (session) => {
        session.statement("INSERT INTO item (x) VALUES (?)").run(1_000);
        await yieldTurn();
        session.statement("INSERT INTO item (x) VALUES (?)").run(1_000);
      }),
    ).rejects.toThrow(/UNIQUE/);
    expect(count()).toBe(before);
    // The connection is usable again.
    await writer.transaction((session) => session.statement("INSERT INTO item (x) VALUES (?)").run(1_001));
    expect(count()).toBe(before + 1);
  });
});

describe("concurrent edits through the API", () => {
  const ADMIN_KEY = "bootstrap-admin-key-for-group-commit-0123";
  let t: TestApp;
  let http: ReturnType<typeof httpClient>;
  let editor: string;

  beforeAll(async () => {
    t = await createTestApp({ auth: { adminKey: ADMIN_KEY, openLocalMode: false, protectedLabels: ["production"], anonymousIntrospection: false } });
    http = httpClient(await t.app.listen());
    editor = (await http.gql(ADMIN_KEY, CreateApiKeyDocument, { input: { name: "editor", role: "EDITOR" } })).data!.createApiKey.secret;
    for (let i = 0; i < 12; i++) {
      expect((await http.gql(editor, CreatePromptDocument, { input: { name: `group/p${i}`, content: "v1" } })).errors).toBeUndefined();
    }
  });
  afterAll(() => t?.close());

  it("keeps each edit's outcome its own: a refused label move takes nothing else with it", async () => {
    // Ten new versions and two label moves at once; an editor may not move the protected one.
    const updates = Array.from({ length: 10 }, (_, i) =>
      http.gql(editor, UpdatePromptDocument, { prompt: { name: `group/p${i}` }, input: { content: `v2 of ${i}` } }),
    );
    const moves = [
      http.gql(editor, SetLabelDocument, { input: { prompt: { name: "group/p10" }, label: "production", version: 1 } }),
      http.gql(editor, SetLabelDocument, { input: { prompt: { name: "group/p11" }, label: "staging", version: 1 } }),
    ];
    const results = await Promise.all([...updates, ...moves]);
    expect(results.map((r) => errorCodes(r)[0] ?? "OK")).toEqual([...Array.from({ length: 10 }, () => "OK"), "FORBIDDEN", "OK"]);
    for (let i = 0; i < 10; i++) {
      const prompt = (await http.gql(editor, GetPromptDocument, { name: `group/p${i}` })).data!.prompt!;
      expect([prompt.latestVersion!.number, prompt.latestVersion!.content]).toEqual([2, `v2 of ${i}`]);
    }
    const labels = async (name: string) => (await http.gql(editor, LabelsDocument, { name, first: 10 })).data!.prompt!;
    expect((await labels("group/p10")).labels.map((l) => l.name)).toEqual(["latest"]);
    expect((await labels("group/p10")).labelHistory.totalCount).toBe(0);
    expect((await labels("group/p11")).labels).toContainEqual(expect.objectContaining({ name: "staging", versionNumber: 1 }));
    // Every edit has its audit entry, with its own outcome.
    const audit = (await http.gql(ADMIN_KEY, AuditLogDocument, { filter: { actor: "editor" }, first: 50 })).data!.auditLog.nodes;
    const outcome = (operation: string, target: string) => audit.find((e) => e.operation === operation && e.target === target)?.outcome;
    for (let i = 0; i < 10; i++) expect(outcome("updatePrompt", `group/p${i}`)).toBe("SUCCESS");
    expect(outcome("setPromptLabel", "group/p10")).not.toBe("SUCCESS");
    expect(outcome("setPromptLabel", "group/p11")).toBe("SUCCESS");
  });
});
