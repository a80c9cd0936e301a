import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CreatePromptDocument,
  CreateRelationshipDocument,
  DeletePromptDocument,
  DeleteRelationshipDocument,
  RelationshipsDocument,
} from "./generated/operations.js";
import { codes, createTestApp, type TestApp } from "./helpers/app.js";
import { SyncReader } from "../src/db/sync-reader.js";
import { PromptReads } from "../src/domain/prompts/prompt.reads.js";
import { PromptRepository } from "../src/domain/prompts/prompt.repository.js";
import { RelationshipRepository } from "../src/domain/relationships/relationship.repository.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
  for (const name of ["rel/a", "rel/b", "rel/c"]) await t.ok(CreatePromptDocument, { input: { name, content: `content of ${name}`, tags: ["x"] } });
});
afterAll(() => t.close());

const names = (links: { type: string; source: { name: string }; target: { name: string } }[]) =>
  links.map((l) => `${l.source.name} ${l.type} ${l.target.name}`);

describe("relationships", () => {
  it("creates typed, directed links and lists them by direction and type", async () => {
    await t.ok(CreateRelationshipDocument, { input: { source: { name: "rel/a" }, target: { name: "rel/b" }, type: "DEPENDS_ON", note: "uses its output" } });
    await t.ok(CreateRelationshipDocument, { input: { source: { name: "rel/c" }, target: { name: "rel/a" }, type: "alternative-of" } });
    const custom = await t.ok(CreateRelationshipDocument, { input: { source: { name: "rel/a" }, target: { name: "rel/c" }, type: "TRANSLATION_OF" } });
    expect(custom.createPromptRelationship).toMatchObject({ type: "TRANSLATION_OF", source: { name: "rel/a" }, target: { name: "rel/c" } });

    const both = await t.ok(RelationshipsDocument, { name: "rel/a" });
    expect(names(both.prompt!.relationships)).toEqual(["rel/a DEPENDS_ON rel/b", "rel/c ALTERNATIVE_OF rel/a", "rel/a TRANSLATION_OF rel/c"]);
    const outgoing = await t.ok(RelationshipsDocument, { name: "rel/a", direction: "OUTGOING" });
    expect(names(outgoing.prompt!.relationships)).toEqual(["rel/a DEPENDS_ON rel/b", "rel/a TRANSLATION_OF rel/c"]);
    const incoming = await t.ok(RelationshipsDocument, { name: "rel/a", direction: "INCOMING" });
    expect(names(incoming.prompt!.relationships)).toEqual(["rel/c ALTERNATIVE_OF rel/a"]);
    const typed = await t.ok(RelationshipsDocument, { name: "rel/a", type: "depends_on" });
    expect(typed.prompt!.relationships.map((l) => l.note)).toEqual(["uses its output"]);
  });

  it("rejects self links, duplicates, bad types and unknown prompts", async () => {
    const self = await t.execute(CreateRelationshipDocument, { input: { source: { name: "rel/b" }, target: { name: "rel/b" }, type: "SIMILAR_TO" } });
    expect(codes(self)).toEqual(["BAD_USER_INPUT"]);
    await t.ok(CreateRelationshipDocument, { input: { source: { name: "rel/b" }, target: { name: "rel/c" }, type: "SIMILAR_TO" } });
    const dup = await t.execute(CreateRelationshipDocument, { input: { source: { name: "rel/b" }, target: { name: "rel/c" }, type: "similar to" } });
    expect(codes(dup)).toEqual(["CONFLICT"]);
    const bad = await t.execute(CreateRelationshipDocument, { input: { source: { name: "rel/b" }, target: { name: "rel/c" }, type: "9lives!" } });
    expect(codes(bad)).toEqual(["BAD_USER_INPUT"]);
    const unknown = await t.execute(CreateRelationshipDocument, { input: { source: { name: "rel/b" }, target: { name: "rel/zzz" }, type: "SIMILAR_TO" } });
    expect(codes(unknown)).toEqual(["NOT_FOUND"]);
    expect(unknown.errors![0]!.extensions!.field).toBe("target.name");
  });

  it("deletes links, and a deleted prompt takes its links with it", async () => {
    await t.ok(CreatePromptDocument, { input: { name: "rel/tmp", content: "tmp" } });
    const link = await t.ok(CreateRelationshipDocument, { input: { source: { name: "rel/tmp" }, target: { name: "rel/b" }, type: "SIMILAR_TO" } });
    const other = await t.ok(CreateRelationshipDocument, { input: { source: { name: "rel/b" }, target: { name: "rel/tmp" }, type: "DEPENDS_ON" } });
    expect(await t.ok(DeleteRelationshipDocument, { id: link.createPromptRelationship.id })).toEqual({ deletePromptRelationship: { id: link.createPromptRelationship.id } });
    expect(codes(await t.execute(DeleteRelationshipDocument, { id: link.createPromptRelationship.id }))).toEqual(["NOT_FOUND"]);
    await t.ok(DeletePromptDocument, { prompt: { name: "rel/tmp" } });
    expect(codes(await t.execute(DeleteRelationshipDocument, { id: other.createPromptRelationship.id }))).toEqual(["NOT_FOUND"]);
  });

  it("createPrompt(copyFrom) copies content, config, tags and metadata and records DERIVED_FROM", async () => {
    await t.ok(CreatePromptDocument, {
      input: { name: "rel/original", content: "Hi {{name}}", config: { model: "m" }, tags: ["orig", "shared"], description: "d", category: "c" },
    });
    const { createPrompt } = await t.ok(CreatePromptDocument, { input: { name: "rel/copy", copyFrom: { name: "rel/original" }, tags: ["copy"] } });
    expect(createPrompt).toMatchObject({
      name: "rel/copy",
      description: "d",
      category: "c",
      tags: ["copy"],
      latestVersion: { number: 1, content: "Hi {{name}}", config: { model: "m" }, variables: ["name"] },
    });
    const { prompt } = await t.ok(RelationshipsDocument, { name: "rel/copy" });
    expect(names(prompt!.relationships)).toEqual(["rel/copy DERIVED_FROM rel/original"]);
    const missing = await t.execute(CreatePromptDocument, { input: { name: "rel/copy2", copyFrom: { name: "rel/none" } } });
    expect(codes(missing)).toEqual(["NOT_FOUND"]);
    expect(missing.errors![0]!.extensions!.field).toBe("copyFrom.name");
  });
  it("reads includes, dependents, prompts by id and by name, and links on prepared statements exactly as Prisma does", async () => {
    // Through Prisma these relation fields compiled their statement in wasm for every request.
    await t.ok(CreatePromptDocument, { input: { name: "rel/inc/base", content: "base" } });
    await t.ok(CreatePromptDocument, { input: { name: "rel/inc/footer", content: "footer" } });
    await t.ok(CreatePromptDocument, { input: { name: "rel/inc/x", content: "{{> rel/inc/base}} and {{> rel/inc/footer@1}}" } });
    await t.ok(CreatePromptDocument, { input: { name: "rel/inc/y", content: "{{> rel/inc/base@1}}" } });
    await t.ok(CreateRelationshipDocument, { input: { source: { name: "rel/inc/x" }, target: { name: "rel/inc/y" }, type: "SIMILAR_TO" } });
    await t.ok(CreateRelationshipDocument, { input: { source: { name: "rel/inc/y" }, target: { name: "rel/a" }, type: "DEPENDS_ON", note: "n" } });
    const reader = new SyncReader(t.app.config.dbFile, 1_000);
    try {
      const rows = reader.all<{ id: string }>("SELECT id FROM Prompt WHERE name LIKE 'rel/%' ORDER BY name");
      const ids = [...rows.map((r) => r.id), "no-such-id"];
      const reads = new PromptReads(reader);
      const viaPrisma = new PromptRepository(t.app.db);
      const byId = (list: { id: string }[]) => [...list].sort((a, b) => a.id.localeCompare(b.id));
      expect(byId(reads.byIds(ids))).toEqual(byId(await viaPrisma.findByIds(ids)));
      expect(reads.byIds(ids)).toHaveLength(rows.length);
      const someNames = ["rel/inc/x", "rel/a", "rel/inc/base", "rel/none"];
      expect(byId(reads.byNames(someNames))).toEqual(byId(await viaPrisma.findByNames(someNames)));
      expect(reads.byNames(someNames)).toHaveLength(3);
      const includes = reads.includesFrom(ids);
      expect(includes).toEqual(await viaPrisma.includesFrom(ids));
      expect([...includes.values()].flat().map((e) => e.selector).sort()).toEqual(["1", "1", null].sort());
      const dependents = reads.includedBy(ids);
      expect(dependents).toEqual(await viaPrisma.includedBy(ids));
      expect([...dependents.values()].some((list) => list.length === 2)).toBe(true);
      const links = await new RelationshipRepository(t.app.db, reader).touching(ids);
      expect(links).toEqual(await new RelationshipRepository(t.app.db).touching(ids));
      expect([...links.values()].flat().length).toBeGreaterThan(4);
      expect(await new RelationshipRepository(t.app.db, reader).touching([])).toEqual(new Map());
    } finally {
      reader.close();
    }
  });
});
