import { copyFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readPragmas } from "../src/db/client.js";
import { expectedMigrations, pendingMigrations } from "../src/db/migrations.js";
import { CreatePromptDocument, DeletePromptDocument } from "./generated/operations.js";
import { createTestApp, type TestApp } from "./helpers/app.js";
import { TEMPLATE_DB, TMP_ROOT } from "./helpers/paths.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ sqliteBusyTimeoutMs: 4321 });
});
afterAll(() => t.close());

describe("SQLite settings", () => {
  it("runs in WAL mode with synchronous=NORMAL, the configured busy timeout and foreign keys", async () => {
    expect(await readPragmas(t.app.db)).toEqual({ journalMode: "wal", synchronous: 1, busyTimeout: 4321, foreignKeys: 1 });
  });

  it("enforces foreign keys: deleting a prompt removes its versions and tags", async () => {
    const { createPrompt } = await t.ok(CreatePromptDocument, { input: { name: "fk/check", content: "x", tags: ["a", "b"] } });
    await t.ok(DeletePromptDocument, { prompt: { id: createPrompt.id } });
    expect(await t.app.db.promptVersion.count({ where: { promptId: createPrompt.id } })).toBe(0);
    expect(await t.app.db.promptTag.count({ where: { promptId: createPrompt.id } })).toBe(0);
    await expect(
      t.app.db.$executeRawUnsafe("INSERT INTO PromptTag (promptId, tag) VALUES ('no-such-prompt', 'x')"),
    ).rejects.toThrow(/FOREIGN KEY/i);
  });
});

describe("transaction isolation on the shared connection", () => {
  it("keeps other requests out of an open transaction: reads see the last commit at once, writes wait", async () => {
    const db = t.app.db;
    let releaseTx!: () => void;
    const held = new Promise<void>((resolve) => (releaseTx = resolve));
    const tx = db
      .$transaction(async (inner) => {
        await inner.$executeRawUnsafe("INSERT INTO PromptTag (promptId, tag) SELECT id, 'uncommitted' FROM Prompt LIMIT 1");
        await held;
        throw new Error("roll back");
      })
      .catch((error: Error) => error.message);
    await new Promise((resolve) => setTimeout(resolve, 20));
    // Issued while the transaction is open: the read answers from the read connection without
    // waiting and without the uncommitted row; the write waits, and is not rolled back with it.
    expect(await db.promptTag.count({ where: { tag: "uncommitted" } })).toBe(0);
    let writeDone = false;
    const write = t.ok(CreatePromptDocument, { input: { name: "iso/outside", content: "x" } }).then((r) => ((writeDone = true), r));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(writeDone).toBe(false);
    releaseTx();
    expect(await tx).toBe("roll back");
    const { createPrompt } = await write;
    expect(await db.prompt.count({ where: { id: createPrompt.id } })).toBe(1);
    expect(await db.promptTag.count({ where: { tag: "uncommitted" } })).toBe(0);
  });
});

describe("the migrations check", () => {
  it("reads what is applied without Prisma, and calls a database the migrator holds locked not ready yet", () => {
    const dir = mkdtempSync(join(TMP_ROOT, "migrations-"));
    const expected = expectedMigrations();
    expect(pendingMigrations(join(dir, "missing.db"), expected)).toEqual(expected);
    const file = join(dir, "copy.db");
    copyFileSync(TEMPLATE_DB, file);
    expect(pendingMigrations(file, expected)).toEqual([]);
    expect(pendingMigrations(file, [...expected, "29991231000000_not_yet"])).toEqual(["29991231000000_not_yet"]);
    // What prisma migrate deploy does to the file while it works.
    const migrator = new Database(file);
    migrator.pragma("locking_mode = EXCLUSIVE");
    migrator.exec("BEGIN EXCLUSIVE");
    try {
      expect(pendingMigrations(file, expected)).toBeNull();
    } finally {
      migrator.exec("COMMIT");
      migrator.close();
    }
    expect(pendingMigrations(file, expected)).toEqual([]);
  });
});
