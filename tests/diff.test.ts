import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreatePromptDocument, DiffVersionsDocument, UpdatePromptDocument } from "./generated/operations.js";
import { codes, createTestApp, type TestApp } from "./helpers/app.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

describe("diffPromptVersions through GraphQL", () => {
  it("returns line hunks with word changes, config key changes, variables and counts", async () => {
    await t.ok(CreatePromptDocument, {
      input: { name: "diff/text", content: "You are helpful.\nGreet {{name}} warmly.\nEnd.", config: { model: "m1", sampling: { temperature: 0.2 }, stop: ["a"] } },
    });
    await t.ok(UpdatePromptDocument, {
      prompt: { name: "diff/text" },
      input: { content: "You are helpful.\nGreet {{name}} from {{city}} briefly.\nEnd.", config: { model: "m1", sampling: { temperature: 0.7 }, seed: 1 } },
    });
    const { diffPromptVersions: diff } = await t.ok(DiffVersionsDocument, { prompt: { name: "diff/text" }, from: 1, to: 2 });
    expect(diff).toMatchObject({ from: { number: 1 }, to: { number: 2 }, identical: false, typeChanged: false, messages: [] });
    expect(diff.hunks).toHaveLength(1);
    expect(diff.hunks[0]).toMatchObject({ oldStart: 1, oldLines: 3, newStart: 1, newLines: 3 });
    expect(diff.hunks[0]!.lines.map((l) => [l.kind, l.text, l.oldLineNumber, l.newLineNumber])).toEqual([
      ["UNCHANGED", "You are helpful.", 1, 1],
      ["REMOVED", "Greet {{name}} warmly.", 2, null],
      ["ADDED", "Greet {{name}} from {{city}} briefly.", null, 2],
      ["UNCHANGED", "End.", 3, 3],
    ]);
    const added = diff.hunks[0]!.lines[2]!.segments!;
    expect(added.filter((s) => s.kind === "ADDED").map((s) => s.text).join("")).toContain("briefly");
    expect(added.map((s) => s.text).join("")).toBe("Greet {{name}} from {{city}} briefly.");
    expect(diff.config).toEqual([
      { kind: "CHANGED", path: "sampling.temperature", oldValue: 0.2, newValue: 0.7 },
      { kind: "ADDED", path: "seed", oldValue: null, newValue: 1 },
      { kind: "REMOVED", path: "stop", oldValue: ["a"], newValue: null },
    ]);
    expect(diff.variablesAdded).toEqual(["city"]);
    expect(diff.variablesRemoved).toEqual([]);
    expect(diff.stats).toEqual({ linesAdded: 1, linesRemoved: 1, linesUnchanged: 2, messagesAdded: 0, messagesRemoved: 0, messagesChanged: 0, configChanges: 3 });
  });

  it("aligns chat messages", async () => {
    await t.ok(CreatePromptDocument, {
      input: { name: "diff/chat", type: "CHAT", messages: [{ role: "SYSTEM", content: "Be brief." }, { role: "USER", content: "{{q}}" }] },
    });
    await t.ok(UpdatePromptDocument, {
      prompt: { name: "diff/chat" },
      input: { messages: [{ role: "SYSTEM", content: "Be brief and kind." }, { role: "ASSISTANT", content: "Example." }, { role: "USER", content: "{{q}}" }] },
    });
    const { diffPromptVersions: diff } = await t.ok(DiffVersionsDocument, { prompt: { name: "diff/chat" }, from: 1, to: 2 });
    expect(diff.messages.map((m) => [m.kind, m.oldIndex, m.newIndex, m.newRole])).toEqual([
      ["CHANGED", 0, 0, "SYSTEM"],
      ["ADDED", null, 1, "ASSISTANT"],
      ["UNCHANGED", 1, 2, "USER"],
    ]);
    expect(diff.stats).toMatchObject({ messagesAdded: 1, messagesChanged: 1, messagesRemoved: 0 });
    const same = await t.ok(DiffVersionsDocument, { prompt: { name: "diff/chat" }, from: 2, to: 2 });
    expect(same.diffPromptVersions.identical).toBe(true);
  });

  it("answers NOT_FOUND for a missing version and BAD_USER_INPUT for a bad context", async () => {
    expect(codes(await t.execute(DiffVersionsDocument, { prompt: { name: "diff/text" }, from: 1, to: 9 }))).toEqual(["NOT_FOUND"]);
    expect(codes(await t.execute(DiffVersionsDocument, { prompt: { name: "diff/text" }, from: 1, to: 2, context: -1 }))).toEqual(["BAD_USER_INPUT"]);
  });
});
