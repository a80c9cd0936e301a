import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ArchivePromptDocument,
  CreatePromptDocument,
  CreateRelationshipDocument,
  GetPromptDocument,
  ImportPromptsDocument,
  RenderDocument,
  SetLabelDocument,
  UpdatePromptDocument,
} from "./generated/operations.js";
import { codes, createTestApp, type TestApp } from "./helpers/app.js";

let source: TestApp;
let sourceUrl: string;
beforeAll(async () => {
  source = await createTestApp();
  sourceUrl = `http://127.0.0.1:${await source.app.listen()}`;
  const ok = source.ok;
  await ok(CreatePromptDocument, { input: { name: "shared/header", content: "[{{brand}}]", tags: ["shared"] } });
  await ok(CreatePromptDocument, {
    input: { name: "support/greeting", content: "{{> shared/header}} Hi {{name}}", config: { model: "m1" }, tags: ["support", "greeting"], description: "d", category: "support" },
  });
  await ok(UpdatePromptDocument, { prompt: { name: "support/greeting" }, input: { content: "{{> shared/header}} Hello {{name}}", config: { model: "m2" }, commitMessage: "warmer", author: "ada" } });
  await ok(SetLabelDocument, { input: { prompt: { name: "support/greeting" }, label: "production", version: 1 } });
  await ok(CreatePromptDocument, {
    input: { name: "chat/triage", type: "CHAT", messages: [{ role: "SYSTEM", content: "Triage {{ticket}}" }, { role: "USER", content: "{{body}}" }] },
  });
  await ok(CreatePromptDocument, { input: { name: "support/greeting-v2", copyFrom: { name: "support/greeting" } } });
  await ok(CreateRelationshipDocument, { input: { source: { name: "chat/triage" }, target: { name: "support/greeting" }, type: "SIMILAR_TO", note: "same tone" } });
  await ok(CreatePromptDocument, { input: { name: "old/retired", content: "bye" } });
  await ok(ArchivePromptDocument, { prompt: { name: "old/retired" } });
  // Enough prompts to span several export batches.
  for (let i = 0; i < 230; i++) await ok(CreatePromptDocument, { input: { name: `bulk/p${String(i).padStart(3, "0")}`, content: `p${i}` } });
});
afterAll(() => source.close());

async function exportFrom(url: string, query = "archived=ALL") {
  const res = await fetch(`${url}/export?${query}`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/application\/json/);
  return (await res.json()) as { format: string; formatVersion: number; prompts: { name: string; versions: unknown[]; labels: unknown[]; relationships: unknown[]; tags: string[] }[] };
}

describe("export and import", () => {
  it("round-trips: export, import into an empty store, export again gives the same document", async () => {
    const first = await exportFrom(sourceUrl);
    expect(first.format).toBe("prompt-store.export");
    expect(first.prompts).toHaveLength(235);
    const greeting = first.prompts.find((p) => p.name === "support/greeting")!;
    expect(greeting).toMatchObject({
      tags: ["greeting", "support"],
      labels: [{ name: "production", version: 1 }],
      versions: [
        expect.objectContaining({ number: 1, content: "{{> shared/header}} Hi {{name}}", config: { model: "m1" } }),
        expect.objectContaining({ number: 2, commitMessage: "warmer", author: "ada", config: { model: "m2" } }),
      ],
    });
    expect(first.prompts.find((p) => p.name === "chat/triage")!.relationships).toEqual([{ type: "SIMILAR_TO", target: "support/greeting", note: "same tone" }]);

    const target = await createTestApp();
    try {
      const { importPrompts } = await target.ok(ImportPromptsDocument, { document: first });
      expect(importPrompts).toMatchObject({ created: 235, updated: 0, skipped: 0, failed: 0 });
      const second = await exportFrom(`http://127.0.0.1:${await target.app.listen()}`);
      expect(second).toEqual(first);
      // The imported store works: includes resolve, labels point where they did.
      const rendered = await target.ok(RenderDocument, { input: { name: "support/greeting", label: "production", variables: { brand: "Acme", name: "Bo" } } });
      expect(rendered.renderPrompt.text).toBe("[Acme] Hi Bo");
      const archived = await target.ok(GetPromptDocument, { name: "old/retired" });
      expect(archived.prompt!.archivedAt).not.toBeNull();
    } finally {
      await target.close();
    }
  });

  it("filters the export like the prompts query", async () => {
    const support = await exportFrom(sourceUrl, "folder=support");
    expect(support.prompts.map((p) => p.name)).toEqual(["support/greeting", "support/greeting-v2"]);
    const tagged = await exportFrom(sourceUrl, "tag=shared");
    expect(tagged.prompts.map((p) => p.name)).toEqual(["shared/header"]);
    const active = await exportFrom(sourceUrl, "");
    expect(active.prompts.some((p) => p.name === "old/retired")).toBe(false);
    const bad = await fetch(`${sourceUrl}/export?folder=..%2Fx`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe("BAD_USER_INPUT");
  });

  it("handles existing prompts by conflict mode: FAIL writes nothing, SKIP skips, NEW_VERSION appends", async () => {
    const doc = await exportFrom(sourceUrl, "folder=support");
    const target = await createTestApp();
    try {
      await target.ok(CreatePromptDocument, { input: { name: "shared/header", content: "[{{brand}}]" } });
      await target.ok(CreatePromptDocument, { input: { name: "support/greeting", content: "local" } });
      const failed = await target.execute(ImportPromptsDocument, { document: doc, onConflict: "FAIL" });
      expect(codes(failed)).toEqual(["CONFLICT"]);
      expect(failed.errors![0]!.extensions!.names).toEqual(["support/greeting"]);
      expect(codes(await target.execute(GetPromptDocument, { name: "support/greeting-v2" }))).toEqual(["NOT_FOUND"]);

      const skipped = await target.ok(ImportPromptsDocument, { document: doc, onConflict: "SKIP" });
      expect(skipped.importPrompts.items.map((i) => [i.name, i.status])).toEqual([
        ["support/greeting", "SKIPPED"],
        ["support/greeting-v2", "CREATED"],
      ]);
      const appended = await target.ok(ImportPromptsDocument, { document: doc, onConflict: "NEW_VERSION" });
      expect(appended.importPrompts.items.map((i) => [i.name, i.status, i.versionsCreated])).toEqual([
        ["support/greeting", "NEW_VERSION", 1],
        ["support/greeting-v2", "UNCHANGED", 0],
      ]);
      const { prompt } = await target.ok(GetPromptDocument, { name: "support/greeting" });
      expect(prompt!.latestVersion).toMatchObject({ number: 2, content: "{{> shared/header}} Hello {{name}}" });
    } finally {
      await target.close();
    }
  });

  it("reports bad prompts per item and imports the rest", async () => {
    const target = await createTestApp();
    try {
      const document = {
        format: "prompt-store.export",
        formatVersion: 1,
        prompts: [
          { name: "ok/one", type: "TEXT", versions: [{ number: 1, content: "fine" }], relationships: [{ type: "SIMILAR_TO", target: "nowhere/x" }] },
          { name: "bad name", type: "TEXT", versions: [{ number: 1, content: "x" }] },
          { name: "bad/versions", type: "TEXT", versions: [{ number: 2, content: "x" }] },
          { name: "bad/label", type: "TEXT", versions: [{ number: 1, content: "x" }], labels: [{ name: "production", version: 5 }] },
          { name: "bad/include", type: "TEXT", versions: [{ number: 1, content: "{{> missing/prompt}}" }] },
          { name: "cycle/a", type: "TEXT", versions: [{ number: 1, content: "{{> cycle/b}}" }] },
          { name: "cycle/b", type: "TEXT", versions: [{ number: 1, content: "{{> cycle/a}}" }] },
          { name: "ok/one", type: "TEXT", versions: [{ number: 1, content: "duplicate" }] },
          { type: "TEXT" },
          { name: "bad/tags", type: "TEXT", tags: ["Bad Tag!"], versions: [{ number: 1, content: "x" }] },
          { name: "bad/needs-tags", type: "TEXT", versions: [{ number: 1, content: "B {{> bad/tags}}" }] },
          { name: "bad/self", type: "TEXT", versions: [{ number: 1, content: "x" }], relationships: [{ type: "SIMILAR_TO", target: "bad/self" }] },
        ],
      };
      const { importPrompts } = await target.ok(ImportPromptsDocument, { document });
      expect(importPrompts).toMatchObject({ created: 1, failed: 11 });
      expect(importPrompts.items.map((i) => [i.status, i.error?.code ?? null])).toEqual([
        ["CREATED", null],
        ["FAILED", "BAD_USER_INPUT"],
        ["FAILED", "BAD_USER_INPUT"],
        ["FAILED", "BAD_USER_INPUT"],
        ["FAILED", "BAD_USER_INPUT"],
        ["FAILED", "BAD_USER_INPUT"],
        ["FAILED", "BAD_USER_INPUT"],
        ["FAILED", "BAD_USER_INPUT"],
        ["FAILED", "BAD_USER_INPUT"],
        ["FAILED", "BAD_USER_INPUT"],
        ["FAILED", "BAD_USER_INPUT"],
        ["FAILED", "BAD_USER_INPUT"],
      ]);
      expect(importPrompts.items[0]!.warnings).toEqual(["relationship SIMILAR_TO to nowhere/x skipped: no such prompt"]);
      expect(importPrompts.items[5]!.error!.message).toMatch(/include cycle/);
      expect(await target.app.db.prompt.count()).toBe(1);

      const notADocument = await target.execute(ImportPromptsDocument, { document: { prompts: [] } });
      expect(codes(notADocument)).toEqual(["BAD_USER_INPUT"]);
    } finally {
      await target.close();
    }
  });
});
