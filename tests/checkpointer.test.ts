// WAL checkpoints run on the checkpointer thread: the server's own commits no longer copy the
// log back into the database file every 1,000 pages (that waited on fsyncs in the event loop).
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Checkpointer, type CheckpointResult } from "../src/db/checkpointer.js";
import { createTestApp, type TestApp } from "./helpers/app.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

const until = async (what: string, ok: () => boolean, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

describe("WAL checkpoints", () => {
  it("are the thread's: commits leave the log alone past SQLite's default 1,000 pages, the thread copies it back", async () => {
    await until("the server's thread has run", () => t.app.checkpointer.last !== undefined);
    expect(t.app.checkpointer.last).not.toHaveProperty("error");
    // With the server's database off the thread, its writes (several pages each) grow the log.
    await t.app.checkpointer.close();
    const text = "lorem ipsum dolor sit amet ".repeat(200);
    for (let i = 0; i < 600; i++) await t.app.services.prompts.create({ name: `ckpt/p${i}`, text: `${i} ${text}` });

    const thread = new Checkpointer({ file: t.app.config.dbFile, busyTimeoutMs: 1_000 }, pino({ level: "silent" }));
    const reports: CheckpointResult[] = [];
    thread.start();
    try {
      await until("the thread has copied the whole log back", () => {
        if (thread.last && reports.at(-1) !== thread.last) reports.push(thread.last);
        const last = thread.last;
        return last !== undefined && !("error" in last) && last.walFrames > 0 && last.checkpointed === last.walFrames;
      });
    } finally {
      await thread.close();
    }
    // Its first look found the log as the writes left it: never checkpointed at 1,000 pages.
    expect(reports[0]).toMatchObject({ busy: false });
    expect((reports[0] as { walFrames: number }).walFrames).toBeGreaterThan(1_500);
  });
});
