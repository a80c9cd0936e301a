import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ArchivePromptDocument,
  CreatePromptDocument,
  DeletePromptDocument,
  GetPromptDocument,
  GetPromptVersionDocument,
  PromptLatestVersionDocument,
  PromptVersionWindowsDocument,
  PromptVersionsDocument,
  RestorePromptDocument,
  UpdatePromptDocument,
  type CreatePromptInput,
} from "./generated/operations.js";
import { codes, createTestApp, type TestApp } from "./helpers/app.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ maxContentBytes: 4096 });
});
afterAll(() => t.close());

let seq = 0;
const uniqueName = (prefix = "test") => `${prefix}/prompt-${++seq}`;
const create = (input: Partial<CreatePromptInput> = {}) =>
  t.ok(CreatePromptDocument, { input: { name: uniqueName(), content: "Hello {{name}}", ...input } }).then((d) => d.createPrompt);

async function tableCounts() {
  const [prompts, versions, tags] = await Promise.all([
    t.app.db.prompt.count(),
    t.app.db.promptVersion.count(),
    t.app.db.promptTag.count(),
  ]);
  return { prompts, versions, tags };
}

describe("createPrompt", () => {
  it("creates version 1 with variables, config, hash and normalized tags", async () => {
    const prompt = await create({
      name: "support/greeting",
      description: "  Greets a customer  ",
      category: "support",
      tags: ["Support", "greeting", "support"],
      content: "Hi {{ customer }}, this is {{agent}}. {{customer}} again.",
      config: { model: "gpt-4o", temperature: 0.2, maxTokens: 300 },
      commitMessage: "first draft",
      author: "ada",
    });
    expect(prompt).toMatchObject({
      name: "support/greeting",
      description: "Greets a customer",
      category: "support",
      type: "TEXT",
      tags: ["greeting", "support"],
      archivedAt: null,
      versionCount: 1,
      latestVersion: {
        number: 1,
        type: "TEXT",
        content: "Hi {{ customer }}, this is {{agent}}. {{customer}} again.",
        messages: null,
        config: { model: "gpt-4o", temperature: 0.2, maxTokens: 300 },
        variables: ["customer", "agent"],
        commitMessage: "first draft",
        author: "ada",
      },
    });
    expect(prompt.latestVersion.contentHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("creates a CHAT prompt with ordered messages", async () => {
    const prompt = await create({
      type: "CHAT",
      content: null,
      messages: [
        { role: "SYSTEM", content: "You are {{persona}}." },
        { role: "USER", content: "{{question}}" },
      ],
    });
    expect(prompt.type).toBe("CHAT");
    expect(prompt.latestVersion.content).toBeNull();
    expect(prompt.latestVersion.messages).toEqual([
      { role: "SYSTEM", content: "You are {{persona}}." },
      { role: "USER", content: "{{question}}" },
    ]);
    expect(prompt.latestVersion.variables).toEqual(["persona", "question"]);
  });

  it("rejects a duplicate name with CONFLICT and writes nothing", async () => {
    const prompt = await create();
    const before = await tableCounts();
    const result = await t.execute(CreatePromptDocument, { input: { name: prompt.name, content: "other" } });
    expect(codes(result)).toEqual(["CONFLICT"]);
    expect(result.errors![0]!.extensions).toMatchObject({ field: "name" });
    expect(await tableCounts()).toEqual(before);
  });

  it.each([
    ["an empty name", { name: "  " }, "name"],
    ["a malformed name", { name: "bad name!" }, "name"],
    ["an empty folder segment", { name: "support//greeting" }, "name"],
    ["a trailing slash", { name: "support/" }, "name"],
    ["an over-long name", { name: "x".repeat(201) }, "name"],
    ["empty content", { content: "   " }, "content"],
    ["content above the limit", { content: "x".repeat(4097) }, "content"],
    ["a malformed tag", { tags: ["ok", "not ok"] }, "tags"],
    ["messages on a TEXT prompt", { messages: [{ role: "USER" as const, content: "x" }] }, "messages"],
    ["a CHAT prompt without messages", { type: "CHAT" as const, content: null }, "messages"],
    ["an empty chat message", { type: "CHAT" as const, content: null, messages: [{ role: "USER" as const, content: "" }] }, "messages[0].content"],
    ["an over-long description", { description: "d".repeat(2001) }, "description"],
  ])("rejects %s with BAD_USER_INPUT naming the field, writing nothing", async (_label, input, field) => {
    const before = await tableCounts();
    const result = await t.execute(CreatePromptDocument, { input: { name: uniqueName(), content: "x", ...input } });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors![0]!.extensions!.field).toBe(field);
    expect(await tableCounts()).toEqual(before);
  });

  it("rejects wrong types before any resolver runs", async () => {
    const result = await t.execute(CreatePromptDocument, {
      input: { name: 42, content: "x", type: "VIDEO" } as unknown as CreatePromptInput,
    });
    expect(codes(result)[0]).toBe("BAD_USER_INPUT");
    expect(result.errors![0]!.message).toMatch(/input\.(name|type)/);
  });
});

describe("updatePrompt", () => {
  it("creates the next version when content changes, keeping config", async () => {
    const prompt = await create({ config: { model: "m1" } });
    const { updatePrompt } = await t.ok(UpdatePromptDocument, {
      prompt: { id: prompt.id },
      input: { content: "Bye {{name}} and {{friend}}", commitMessage: "tone", author: "bob" },
    });
    expect(updatePrompt.versionCreated).toBe(true);
    expect(updatePrompt.version).toMatchObject({
      number: 2,
      content: "Bye {{name}} and {{friend}}",
      config: { model: "m1" },
      variables: ["name", "friend"],
      commitMessage: "tone",
      author: "bob",
    });
    expect(updatePrompt.prompt.versionCount).toBe(2);
    expect(updatePrompt.prompt.latestVersion.number).toBe(2);
  });

  it("creates a version when only the config changes", async () => {
    const prompt = await create({ config: { model: "m1", temperature: 0.5 } });
    const { updatePrompt } = await t.ok(UpdatePromptDocument, {
      prompt: { name: prompt.name },
      input: { config: { temperature: 0.5, model: "m2" } },
    });
    expect(updatePrompt.version).toMatchObject({ number: 2, content: "Hello {{name}}", config: { model: "m2", temperature: 0.5 } });
    expect(updatePrompt.version!.contentHash).not.toBe(prompt.latestVersion.contentHash);
  });

  it("creates nothing for an update identical to the latest version (key order aside)", async () => {
    const prompt = await create({ config: { a: 1, b: { c: 2, d: 3 } } });
    const { updatePrompt } = await t.ok(UpdatePromptDocument, {
      prompt: { id: prompt.id },
      input: { content: "Hello {{name}}", config: { b: { d: 3, c: 2 }, a: 1 } },
    });
    expect(updatePrompt.versionCreated).toBe(false);
    expect(updatePrompt.version).toBeNull();
    expect(updatePrompt.prompt.versionCount).toBe(1);
    expect(updatePrompt.prompt.updatedAt).toBe(prompt.updatedAt);
  });

  it("changes metadata without creating a version", async () => {
    const prompt = await create({ tags: ["a"], description: "old" });
    const { updatePrompt } = await t.ok(UpdatePromptDocument, {
      prompt: { id: prompt.id },
      input: { tags: ["b", "c"], description: null, category: "sales" },
    });
    expect(updatePrompt.versionCreated).toBe(false);
    expect(updatePrompt.prompt).toMatchObject({ tags: ["b", "c"], description: null, category: "sales", versionCount: 1 });
    expect(new Date(updatePrompt.prompt.updatedAt) >= new Date(prompt.updatedAt)).toBe(true);
  });

  it("returns CONFLICT when expectedVersion is stale, and writes nothing", async () => {
    const prompt = await create();
    await t.ok(UpdatePromptDocument, { prompt: { id: prompt.id }, input: { content: "v2", expectedVersion: 1 } });
    const before = await tableCounts();
    const stale = await t.execute(UpdatePromptDocument, {
      prompt: { id: prompt.id },
      input: { content: "v3 from a stale editor", expectedVersion: 1, tags: ["x"] },
    });
    expect(codes(stale)).toEqual(["CONFLICT"]);
    expect(stale.errors![0]!.extensions).toMatchObject({ expectedVersion: 1, latestVersion: 2 });
    expect(await tableCounts()).toEqual(before);
  });

  it("lets exactly one of two concurrent writers with the same expectedVersion win", async () => {
    const prompt = await create();
    const attempts = await Promise.all(
      ["a", "b", "c", "d"].map((text) =>
        t.execute(UpdatePromptDocument, { prompt: { id: prompt.id }, input: { content: text, expectedVersion: 1 } }),
      ),
    );
    expect(attempts.filter((r) => !r.errors).length).toBe(1);
    expect(attempts.filter((r) => codes(r)[0] === "CONFLICT").length).toBe(3);
    const { prompt: after } = await t.ok(GetPromptDocument, { id: prompt.id });
    expect(after!.versionCount).toBe(2);
  });

  it("numbers versions without gaps under concurrent writers without expectedVersion", async () => {
    const prompt = await create();
    const results = await Promise.all(
      Array.from({ length: 6 }, (_, i) => t.execute(UpdatePromptDocument, { prompt: { id: prompt.id }, input: { content: `c${i}` } })),
    );
    const created = results.filter((r) => r.data?.updatePrompt.versionCreated).length;
    const conflicts = results.filter((r) => codes(r)[0] === "CONFLICT").length;
    expect(created + conflicts).toBe(6);
    const numbers = (await t.app.db.promptVersion.findMany({ where: { promptId: prompt.id }, orderBy: { number: "asc" } })).map((v) => v.number);
    expect(numbers).toEqual(Array.from({ length: created + 1 }, (_, i) => i + 1));
  });

  it("rejects bad input without writing anything", async () => {
    const prompt = await create();
    const before = await tableCounts();
    for (const input of [{ content: "" }, { tags: ["ok", "BAD TAG"] }, { content: "x".repeat(5000) }, { messages: [{ role: "USER" as const, content: "x" }] }]) {
      const result = await t.execute(UpdatePromptDocument, { prompt: { id: prompt.id }, input });
      expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    }
    expect(await tableCounts()).toEqual(before);
  });

  it("answers NOT_FOUND for an unknown prompt and BAD_USER_INPUT for an ambiguous reference", async () => {
    const missing = await t.execute(UpdatePromptDocument, { prompt: { id: "no-such-id" }, input: { content: "x" } });
    expect(codes(missing)).toEqual(["NOT_FOUND"]);
    expect(missing.errors![0]!.extensions!.field).toBe("prompt.id");
    const both = await t.execute(UpdatePromptDocument, { prompt: { id: "a", name: "b" }, input: { content: "x" } });
    expect(codes(both)).toEqual(["BAD_USER_INPUT"]);
    const neither = await t.execute(UpdatePromptDocument, { prompt: {}, input: { content: "x" } });
    expect(codes(neither)).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("versions are immutable history", () => {
  it("pages versions newest first and reads any version by number", async () => {
    const prompt = await create({ content: "v1" });
    for (let i = 2; i <= 5; i++) await t.ok(UpdatePromptDocument, { prompt: { id: prompt.id }, input: { content: `v${i}` } });
    const first = await t.ok(PromptVersionsDocument, { name: prompt.name, first: 2 });
    expect(first.prompt!.versions.totalCount).toBe(5);
    expect(first.prompt!.versions.edges.map((e) => e.node.number)).toEqual([5, 4]);
    expect(first.prompt!.versions.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const second = await t.ok(PromptVersionsDocument, { name: prompt.name, first: 2, after: first.prompt!.versions.pageInfo.endCursor });
    expect(second.prompt!.versions.edges.map((e) => e.node.number)).toEqual([3, 2]);
    const last = await t.ok(PromptVersionsDocument, { name: prompt.name, first: 2, after: second.prompt!.versions.pageInfo.endCursor });
    expect(last.prompt!.versions.edges.map((e) => e.node.number)).toEqual([1]);
    expect(last.prompt!.versions.pageInfo.hasNextPage).toBe(false);

    const v3 = await t.ok(GetPromptVersionDocument, { prompt: { name: prompt.name }, number: 3 });
    expect(v3.promptVersion).toMatchObject({ number: 3, content: "v3" });
    const missing = await t.execute(GetPromptVersionDocument, { prompt: { name: prompt.name }, number: 9 });
    expect(codes(missing)).toEqual(["NOT_FOUND"]);
    const badCursor = await t.execute(PromptVersionsDocument, { name: prompt.name, after: "not-a-cursor" });
    expect(codes(badCursor)).toEqual(["BAD_USER_INPUT"]);
  });

  it("reads the latest version and several pages of versions of a prompt in one statement", async () => {
    const prompt = await create({ content: "v1" });
    for (let i = 2; i <= 5; i++) await t.ok(UpdatePromptDocument, { prompt: { id: prompt.id }, input: { content: `v${i}` } });
    const { prompt: top } = await t.ok(PromptVersionsDocument, { name: prompt.name, first: 2 });
    const after = top!.versions.pageInfo.endCursor;

    let before = t.app.statements.count;
    const { prompt: windows } = await t.ok(PromptVersionWindowsDocument, { name: prompt.name, after });
    const statements = t.app.statements.count - before;
    expect(windows).toEqual({
      latestVersion: { number: 5, content: "v5" },
      top: { nodes: [{ number: 5, content: "v5" }, { number: 4, content: "v4" }], pageInfo: { hasNextPage: true } },
      below: { nodes: [{ number: 3 }, { number: 2 }], pageInfo: { hasNextPage: true, hasPreviousPage: true } },
      rest: { nodes: [{ number: 3 }, { number: 2 }, { number: 1 }], pageInfo: { hasNextPage: false } },
    });
    // As many statements as for the latest version alone: the four windows touch, and are read as one.
    before = t.app.statements.count;
    await t.ok(PromptLatestVersionDocument, { name: prompt.name });
    expect(statements).toBe(t.app.statements.count - before);
  });
});

describe("archive, restore, delete", () => {
  it("archives (read-only, idempotent), restores, and deletes with all versions", async () => {
    const prompt = await create();
    const archived = await t.ok(ArchivePromptDocument, { prompt: { id: prompt.id } });
    expect(archived.archivePrompt.archivedAt).not.toBeNull();
    const again = await t.ok(ArchivePromptDocument, { prompt: { id: prompt.id } });
    expect(again.archivePrompt.archivedAt).toBe(archived.archivePrompt.archivedAt);

    const blocked = await t.execute(UpdatePromptDocument, { prompt: { id: prompt.id }, input: { content: "new" } });
    expect(codes(blocked)).toEqual(["FAILED_PRECONDITION"]);

    const restored = await t.ok(RestorePromptDocument, { prompt: { name: prompt.name } });
    expect(restored.restorePrompt.archivedAt).toBeNull();
    await t.ok(UpdatePromptDocument, { prompt: { id: prompt.id }, input: { content: "new" } });

    const deleted = await t.ok(DeletePromptDocument, { prompt: { id: prompt.id } });
    expect(deleted.deletePrompt).toEqual({ id: prompt.id, name: prompt.name });
    expect(await t.app.db.promptVersion.count({ where: { promptId: prompt.id } })).toBe(0);
    const gone = await t.execute(GetPromptDocument, { id: prompt.id });
    expect(codes(gone)).toEqual(["NOT_FOUND"]);
    expect(gone.data?.prompt).toBeNull();
    expect(codes(await t.execute(DeletePromptDocument, { prompt: { id: prompt.id } }))).toEqual(["NOT_FOUND"]);
    // The name is free again.
    await create({ name: prompt.name });
  });
});
