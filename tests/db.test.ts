import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readPragmas } from "../src/db/client.js";
import { CreatePromptDocument, DeletePromptDocument } from "./generated/operations.js";
import { createTestApp, type TestApp } from "./helpers/app.js";

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
  it("makes other statements wait for an open transaction instead of running inside it", async () => {
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
    // Issued while the transaction is open: they must wait, neither see its row nor be rolled back with it.
    let readDone = false;
    const read = db.promptTag.count({ where: { tag: "uncommitted" } }).then((n) => ((readDone = true), n));
    const write = t.ok(CreatePromptDocument, { input: { name: "iso/outside", content: "x" } });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(readDone).toBe(false);
    releaseTx();
    expect(await tx).toBe("roll back");
    expect(await read).toBe(0);
    const { createPrompt } = await write;
    expect(await db.prompt.count({ where: { id: createPrompt.id } })).toBe(1);
    expect(await db.promptTag.count({ where: { tag: "uncommitted" } })).toBe(0);
  });
});
