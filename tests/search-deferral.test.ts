// Deferred search indexing (prisma/migrations/20261202100000_prompt_search_deferred): the
// server's writers rewrite the FTS rows a transaction changed once, before COMMIT, so a group
// commit of edits flushes FTS5's buffered terms once instead of once per edit. Other
// connections index at once, as before, and the index always matches the prompts.
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Mutex } from "../src/db/isolation.js";
import { SyncWriter } from "../src/db/sync-writer.js";
import { PromptWrites } from "../src/domain/prompts/prompt.writes.js";
import { buildVersion } from "../src/domain/prompts/version.factory.js";
import { CreatePromptDocument, SearchPromptsDocument, UpdatePromptDocument } from "./generated/operations.js";
import { createTestApp, type TestApp } from "./helpers/app.js";

let t: TestApp;
let file: string;
let writer: SyncWriter | undefined;

beforeAll(async () => {
  t = await createTestApp();
  file = t.app.config.dbFile;
  // No merging (neither the automatic one nor the one FTS5 forces at 16 segments of a level), so
  // that every segment a flush writes stays countable.
  await t.app.db.$executeRawUnsafe(`INSERT INTO "PromptSearch"("PromptSearch", rank) VALUES ('automerge', 0)`);
  await t.app.db.$executeRawUnsafe(`INSERT INTO "PromptSearch"("PromptSearch", rank) VALUES ('crisismerge', 1000)`);
  for (let i = 0; i < 8; i++) await t.ok(CreatePromptDocument, { input: { name: `defer/p${i}`, content: `first words of ${i}` } });
});
afterEach(() => writer?.close());
afterAll(() => t.close());

/** Reads with a connection of its own: what any reader sees once the writer committed. */
function inspect<T>(fn: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}
/** FTS5 segments of the index (a data row's id carries its segment's id above bit 37). */
const segments = () => inspect((db) => db.prepare('SELECT count(DISTINCT id >> 37) FROM "PromptSearch_data" WHERE id >= (1 << 37)').pluck().get() as number);
const leftovers = () =>
  inspect((db) => db.prepare('SELECT (SELECT count(*) FROM "PromptSearchDefer") + (SELECT count(*) FROM "PromptSearchPending")').pluck().get() as number);
/** FTS5's own check that the index holds exactly the terms of the rows it stores. */
function integrity(): number {
  const db = new Database(file);
  try {
    db.exec(`INSERT INTO "PromptSearch"("PromptSearch") VALUES ('integrity-check')`);
    // Every indexed row is what PromptSearchSource computes from the tables now.
    return db
      .prepare(
        `SELECT count(*) FROM "PromptSearchSource" s LEFT JOIN "PromptSearch" f ON f.rowid = s.rid
         WHERE f.rowid IS NULL OR f.name IS NOT s.name OR f.description IS NOT s.description OR f.tags IS NOT s.tags OR f.content IS NOT s.content`,
      )
        .pluck()
        .get() as number;
  } finally {
    db.close();
  }
}
const names = async (query: string) =>
  (await t.ok(SearchPromptsDocument, { query, first: 50 })).searchPrompts.edges.map((e) => e.node.prompt.name).sort();

/** New versions of defer/p0..p7 with `words`, through PromptWrites on `target`, all in one turn. */
async function editAll(target: SyncWriter, words: string) {
  const writes = new PromptWrites(target);
  const prompts = inspect((db) => db.prepare(`SELECT id, name, latestVersionNumber AS latest FROM Prompt WHERE name LIKE 'defer/p%' ORDER BY name`).all() as { id: string; name: string; latest: number }[]);
  const now = new Date();
  return Promise.all(
    prompts.map((p, i) =>
      writes.update(p.id, p.latest, { updatedAt: now }, buildVersion(p.latest + 1, { type: "TEXT", text: `${words} ${i}` }, {}, {}, now)),
    ),
  );
}

describe("deferred search indexing", () => {
  it("indexes a group commit of 8 edits in one segment (8 when each statement indexes its own)", async () => {
    writer = new SyncWriter(file, 1_000, new Mutex(), { deferSearchIndex: true });
    const before = segments();
    await editAll(writer, "zebrafish notes");
    expect(writer.stats.transactions).toBe(1);
    expect(segments() - before).toBe(1);
    expect(await names("zebrafish")).toEqual(Array.from({ length: 8 }, (_, i) => `defer/p${i}`));
    expect(await names("first")).toEqual([]);
    expect(leftovers()).toBe(0);
    expect(integrity()).toBe(0);

    // The same group on a writer that does not defer: every edit's terms become a segment.
    writer.close();
    writer = new SyncWriter(file, 1_000, new Mutex());
    const again = segments();
    await editAll(writer, "pelican notes");
    expect(writer.stats.transactions).toBe(1);
    expect(segments() - again).toBe(8);
    expect(await names("pelican")).toHaveLength(8);
    expect(integrity()).toBe(0);
  });

  it("indexes none of a write that failed in its group, and all of the others", async () => {
    writer = new SyncWriter(file, 1_000, new Mutex(), { deferSearchIndex: true });
    const writes = new PromptWrites(writer);
    const [p0, p1, p2] = inspect((db) => db.prepare(`SELECT id, latestVersionNumber AS latest FROM Prompt WHERE name IN ('defer/p0', 'defer/p1', 'defer/p2') ORDER BY name`).all() as { id: string; latest: number }[]);
    const now = new Date();
    const version = (p: { latest: number }, text: string) => buildVersion(p.latest + 1, { type: "TEXT", text }, {}, {}, now);
    const failing = writer.grouped((session) => {
      // Its version is written (and its prompt noted for re-indexing) before it fails.
      session.statement("UPDATE Prompt SET latestVersionNumber = latestVersionNumber + 1 WHERE id = ?").run(p1!.id);
      session
        .statement("INSERT INTO PromptVersion (id, promptId, number, content, config, variables, contentHash, createdAt) VALUES (?, ?, ?, 'kingfisher', '{}', '[]', 'x', ?)")
        .run(`failing-${p1!.id}`, p1!.id, p1!.latest + 1, now.toISOString());
      throw new Error("refused after its statements");
    });
    const outcomes = await Promise.allSettled([
      writes.update(p0!.id, p0!.latest, { updatedAt: now }, version(p0!, "kingfisher zero")),
      failing,
      writes.update(p2!.id, p2!.latest, { updatedAt: now }, version(p2!, "kingfisher two"), {}),
      writes.update(p2!.id, p2!.latest + 1, { updatedAt: now, tags: ["heron"] }, null),
    ]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled", "fulfilled"]);
    // The group was rolled back at the failure and ran again with a savepoint per write.
    expect(writer.stats).toEqual({ transactions: 2, retried: 4 });
    expect(await names("kingfisher")).toEqual(["defer/p0", "defer/p2"]);
    expect(await names("tags:heron")).toEqual(["defer/p2"]);
    expect(leftovers()).toBe(0);
    expect(integrity()).toBe(0);
  });

  it("indexes at once on connections that do not defer, and through the API", async () => {
    // Prisma's connection: the triggers rewrite the row in the statement itself.
    await t.app.db.$executeRawUnsafe(`UPDATE Prompt SET description = 'about an ibis' WHERE name = 'defer/p3'`);
    expect(await names("ibis")).toEqual(["defer/p3"]);
    // Edits through the API go through the app's own (deferring) writer, several at once.
    await Promise.all(
      [4, 5, 6].map((i) => t.ok(UpdatePromptDocument, { prompt: { name: `defer/p${i}` }, input: { content: `a toucan for ${i}`, tags: ["toucan"] } })),
    );
    await t.ok(CreatePromptDocument, { input: { name: "defer/new", content: "a toucan as well" } });
    expect(await names("toucan")).toEqual(["defer/new", "defer/p4", "defer/p5", "defer/p6"]);
    expect(await names("tags:toucan")).toEqual(["defer/p4", "defer/p5", "defer/p6"]);
    expect(leftovers()).toBe(0);
    expect(integrity()).toBe(0);
  });
});
