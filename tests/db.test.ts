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
