import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CreatePromptDocument,
  DeletePromptDocument,
  DependenciesDocument,
  LabelsDocument,
  RemoveLabelDocument,
  RenderDocument,
  RollbackDocument,
  SetLabelDocument,
  UpdatePromptDocument,
  type CreatePromptInput,
} from "./generated/operations.js";
import { codes, createTestApp, type TestApp } from "./helpers/app.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

let seq = 0;
async function promptWithVersions(count: number, input: Partial<CreatePromptInput> = {}) {
  const name = input.name ?? `life/p${++seq}`;
  await t.ok(CreatePromptDocument, { input: { name, content: "v1", config: { temperature: 0.1 }, ...input } });
  for (let v = 2; v <= count; v++) await t.ok(UpdatePromptDocument, { prompt: { name }, input: { content: `v${v}`, config: { temperature: v / 10 } } });
  return name;
}

describe("labels", () => {
  it("points, moves and removes labels, recording every move with who, when and why", async () => {
    const name = await promptWithVersions(3);
    const ctx = (actor: string) => ({ ...t.app.createContext("test"), actor });
    const set = async (label: string, version: number, reason: string, actor = "ada") => {
      const res = await t.app.apollo.executeOperation(
        { query: SetLabelDocument, variables: { input: { prompt: { name }, label, version, reason } } },
        { contextValue: ctx(actor) },
      );
      return res.body.kind === "single" ? res.body.singleResult : undefined;
    };
    expect((await set("production", 1, "first release"))?.data?.setPromptLabel).toMatchObject({ name: "production", versionNumber: 1, updatedBy: "ada" });
    await set("staging", 3, "try v3", "bob");
    await set("production", 2, "promote v2", "bob");
    await set("production", 2, "same again: no move"); // no-op, not recorded
    await t.ok(RemoveLabelDocument, { prompt: { name }, label: "staging", reason: "done" });

    const { prompt } = await t.ok(LabelsDocument, { name, first: 10 });
    expect(prompt!.labels).toEqual([
      { name: "latest", versionNumber: 3, updatedBy: null },
      { name: "production", versionNumber: 2, updatedBy: "bob" },
    ]);
    expect(prompt!.labelHistory.totalCount).toBe(4);
    expect(prompt!.labelHistory.nodes.map((m) => [m.label, m.fromVersion, m.toVersion, m.actor, m.reason])).toEqual([
      ["staging", 3, null, "local", "done"],
      ["production", 1, 2, "bob", "promote v2"],
      ["staging", null, 3, "bob", "try v3"],
      ["production", null, 1, "ada", "first release"],
    ]);
    expect(prompt!.versions.nodes).toEqual([
      { number: 3, labels: ["latest"] },
      { number: 2, labels: ["production"] },
      { number: 1, labels: [] },
    ]);

    const page1 = await t.ok(LabelsDocument, { name, first: 3 });
    const page2 = await t.ok(LabelsDocument, { name, first: 3, after: page1.prompt!.labelHistory.pageInfo.endCursor });
    expect(page2.prompt!.labelHistory.nodes.map((m) => m.reason)).toEqual(["first release"]);
    expect(page2.prompt!.labelHistory.pageInfo.hasNextPage).toBe(false);
  });

  it("validates label names, versions and the reserved latest label", async () => {
    const name = await promptWithVersions(2);
    for (const [label, version, code, field] of [
      ["latest", 1, "BAD_USER_INPUT", "label"],
      ["Prod", 1, "BAD_USER_INPUT", "label"],
      ["has space", 1, "BAD_USER_INPUT", "label"],
      ["production", 3, "NOT_FOUND", "version"],
      ["production", 0, "NOT_FOUND", "version"],
    ] as const) {
      const result = await t.execute(SetLabelDocument, { input: { prompt: { name }, label, version } });
      expect(codes(result), `${label}@${version}`).toEqual([code]);
      expect(result.errors![0]!.extensions!.field).toBe(field);
    }
    expect(codes(await t.execute(RemoveLabelDocument, { prompt: { name }, label: "production" }))).toEqual(["NOT_FOUND"]);
    expect(codes(await t.execute(RemoveLabelDocument, { prompt: { name }, label: "latest" }))).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("rollbackPrompt", () => {
  it("creates a new version equal to the old one and moves labels in the same transaction", async () => {
    const name = await promptWithVersions(3);
    await t.ok(SetLabelDocument, { input: { prompt: { name }, label: "production", version: 3 } });
    const { rollbackPrompt } = await t.ok(RollbackDocument, { input: { prompt: { name }, toVersion: 1, moveLabels: ["production", "stable"] } });
    expect(rollbackPrompt.versionCreated).toBe(true);
    expect(rollbackPrompt.version).toMatchObject({ number: 4, content: "v1", config: { temperature: 0.1 }, commitMessage: "Rollback to version 1" });
    expect(rollbackPrompt.version!.labels).toEqual(["latest", "production", "stable"]);
    expect(rollbackPrompt.prompt.versionCount).toBe(4);
    const { prompt } = await t.ok(LabelsDocument, { name });
    expect(prompt!.labelHistory.nodes.map((m) => [m.label, m.fromVersion, m.toVersion, m.reason])).toEqual([
      ["stable", null, 4, "rollback to version 1"],
      ["production", 3, 4, "rollback to version 1"],
      ["production", null, 3, null],
    ]);
  });

  it("does not duplicate a version already equal to the latest, but still moves the labels", async () => {
    const name = await promptWithVersions(2);
    await t.ok(RollbackDocument, { input: { prompt: { name }, toVersion: 1 } });
    const again = await t.ok(RollbackDocument, { input: { prompt: { name }, toVersion: 1, moveLabels: ["production"] } });
    expect(again.rollbackPrompt.versionCreated).toBe(false);
    expect(again.rollbackPrompt.prompt.labels).toContainEqual({ name: "production", versionNumber: 3 });
  });

  it("writes nothing when a label is invalid or the version is unknown", async () => {
    const name = await promptWithVersions(2);
    const bad = await t.execute(RollbackDocument, { input: { prompt: { name }, toVersion: 1, moveLabels: ["ok", "NOT OK"] } });
    expect(codes(bad)).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.execute(RollbackDocument, { input: { prompt: { name }, toVersion: 9 } }))).toEqual(["NOT_FOUND"]);
    const { prompt } = await t.ok(LabelsDocument, { name });
    expect(prompt!.versions.nodes).toHaveLength(2);
    expect(prompt!.labelHistory.totalCount).toBe(0);
  });
});

describe("templates", () => {
  it("renders variables by label or version, warns about unused ones, and names every missing one", async () => {
    const name = await promptWithVersions(1, { content: "Hi {{name}}, your order {{ order.id }} ships {{when}}. Bye {{name}}." });
    await t.ok(UpdatePromptDocument, { prompt: { name }, input: { content: "Hello {{name}}!" } });
    await t.ok(SetLabelDocument, { input: { prompt: { name }, label: "production", version: 1 } });

    const prod = await t.ok(RenderDocument, { input: { name, label: "production", variables: { name: "Ada", "order.id": 42, when: "today", extra: true } } });
    expect(prod.renderPrompt).toMatchObject({
      label: "production",
      type: "TEXT",
      text: "Hi Ada, your order 42 ships today. Bye Ada.",
      variablesUsed: ["name", "order.id", "when"],
      warnings: ['variable "extra" is not used by this prompt'],
      version: { number: 1 },
    });
    const latest = await t.ok(RenderDocument, { input: { name, variables: { name: "{{when}}" } } });
    expect(latest.renderPrompt).toMatchObject({ label: "latest", text: "Hello {{when}}!", version: { number: 2 } });
    const byVersion = await t.ok(RenderDocument, { input: { name, version: 2, variables: { name: "Bo" } } });
    expect(byVersion.renderPrompt).toMatchObject({ label: null, text: "Hello Bo!" });

    const missing = await t.execute(RenderDocument, { input: { name, label: "production", variables: { name: "Ada" } } });
    expect(codes(missing)).toEqual(["BAD_USER_INPUT"]);
    expect(missing.errors![0]!.extensions).toMatchObject({ field: "variables", missing: ["order.id", "when"] });
    expect(missing.errors![0]!.message).toContain("order.id, when");
    expect(codes(await t.execute(RenderDocument, { input: { name, label: "nope" } }))).toEqual(["NOT_FOUND"]);
    expect(codes(await t.execute(RenderDocument, { input: { name, label: "production", version: 1 } }))).toEqual(["BAD_USER_INPUT"]);
  });

  it("renders CHAT prompts message by message", async () => {
    const name = `life/chat${++seq}`;
    await t.ok(CreatePromptDocument, {
      input: { name, type: "CHAT", messages: [{ role: "SYSTEM", content: "You are {{persona}}." }, { role: "USER", content: "{{q}}" }] },
    });
    const { renderPrompt } = await t.ok(RenderDocument, { input: { name, variables: { persona: "terse", q: "Why?" } } });
    expect(renderPrompt.type).toBe("CHAT");
    expect(renderPrompt.text).toBeNull();
    expect(renderPrompt.messages).toEqual([
      { role: "SYSTEM", content: "You are terse." },
      { role: "USER", content: "Why?" },
    ]);
  });

  it("composes includes by latest, label and version, and tracks dependencies and dependents", async () => {
    await t.ok(CreatePromptDocument, { input: { name: "inc/header", content: "[{{brand}} header v1]" } });
    await t.ok(UpdatePromptDocument, { prompt: { name: "inc/header" }, input: { content: "[{{brand}} header v2]" } });
    await t.ok(SetLabelDocument, { input: { prompt: { name: "inc/header" }, label: "production", version: 1 } });
    await t.ok(CreatePromptDocument, { input: { name: "inc/footer", content: "-- {{> inc/header@1}} --" } });
    await t.ok(CreatePromptDocument, {
      input: { name: "inc/page", content: "{{> inc/header}} | {{> inc/header@production}} | {{> inc/footer}} | {{body}}" },
    });

    const { renderPrompt } = await t.ok(RenderDocument, { input: { name: "inc/page", variables: { brand: "Acme", body: "text" } } });
    expect(renderPrompt.text).toBe("[Acme header v2] | [Acme header v1] | -- [Acme header v1] -- | text");
    expect(renderPrompt.includes.map((i) => `${i.prompt.name}@${i.version.number}`)).toEqual(["inc/header@2", "inc/header@1", "inc/footer@1"]);
    expect(renderPrompt.variablesUsed.sort()).toEqual(["body", "brand"]);

    const page = await t.ok(DependenciesDocument, { name: "inc/page" });
    expect(page.prompt!.dependencies.map((p) => p.name)).toEqual(["inc/footer", "inc/header"]);
    const header = await t.ok(DependenciesDocument, { name: "inc/header" });
    expect(header.prompt!.dependents.map((p) => p.name)).toEqual(["inc/footer", "inc/page"]);
    const footer = await t.ok(DependenciesDocument, { name: "inc/footer" });
    expect(footer.prompt!.dependents.map((p) => p.name)).toEqual(["inc/page"]);

    // What breaks if I delete it: refused while something includes it.
    const blocked = await t.execute(DeletePromptDocument, { prompt: { name: "inc/header" } });
    expect(codes(blocked)).toEqual(["FAILED_PRECONDITION"]);
    expect(blocked.errors![0]!.extensions!.dependents).toEqual(["inc/footer", "inc/page"]);
  });

  it("reports transitive dependents", async () => {
    await t.ok(CreatePromptDocument, { input: { name: "chain/a", content: "a" } });
    await t.ok(CreatePromptDocument, { input: { name: "chain/b", content: "{{> chain/a}}b" } });
    await t.ok(CreatePromptDocument, { input: { name: "chain/c", content: "{{> chain/b}}c" } });
    const { prompt } = await t.ok(DependenciesDocument, { name: "chain/a" });
    expect(prompt!.dependents.map((p) => p.name)).toEqual(["chain/b"]);
    expect(prompt!.transitive.map((p) => p.name)).toEqual(["chain/b", "chain/c"]);
  });

  it("rejects include cycles and unknown includes when saving, writing nothing", async () => {
    await t.ok(CreatePromptDocument, { input: { name: "cyc/a", content: "a" } });
    await t.ok(CreatePromptDocument, { input: { name: "cyc/b", content: "{{> cyc/a}}" } });
    await t.ok(CreatePromptDocument, { input: { name: "cyc/c", content: "{{> cyc/b}}" } });

    const cycle = await t.execute(UpdatePromptDocument, { prompt: { name: "cyc/a" }, input: { content: "{{> cyc/c}}" } });
    expect(codes(cycle)).toEqual(["BAD_USER_INPUT"]);
    expect(cycle.errors![0]!.extensions).toMatchObject({ field: "content", cycle: ["cyc/a", "cyc/c", "cyc/b", "cyc/a"] });
    const self = await t.execute(UpdatePromptDocument, { prompt: { name: "cyc/a" }, input: { content: "{{> cyc/a}}" } });
    expect(codes(self)).toEqual(["BAD_USER_INPUT"]);
    const unknown = await t.execute(CreatePromptDocument, { input: { name: "cyc/d", content: "{{> cyc/none}}" } });
    expect(codes(unknown)).toEqual(["BAD_USER_INPUT"]);
    const badVersion = await t.execute(CreatePromptDocument, { input: { name: "cyc/e", content: "{{> cyc/a@7}}" } });
    expect(codes(badVersion)).toEqual(["BAD_USER_INPUT"]);

    const { prompt } = await t.ok(LabelsDocument, { name: "cyc/a" });
    expect(prompt!.versions.nodes).toHaveLength(1);
    const a = await t.ok(DependenciesDocument, { name: "cyc/a" });
    expect(a.prompt!.dependencies).toEqual([]);
  });

  it("refuses to render an include of a CHAT prompt or a missing label", async () => {
    const chat = `life/chat${++seq}`;
    await t.ok(CreatePromptDocument, { input: { name: chat, type: "CHAT", messages: [{ role: "USER", content: "x" }] } });
    await t.ok(CreatePromptDocument, { input: { name: `life/inc${seq}`, content: `{{> ${chat}}}` } });
    expect(codes(await t.execute(RenderDocument, { input: { name: `life/inc${seq}` } }))).toEqual(["BAD_USER_INPUT"]);
    await t.ok(CreatePromptDocument, { input: { name: `life/lbl${seq}`, content: `{{> life/inc${seq}@canary}}` } });
    const missingLabel = await t.execute(RenderDocument, { input: { name: `life/lbl${seq}` } });
    expect(codes(missingLabel)).toEqual(["BAD_USER_INPUT"]);
    expect(missingLabel.errors![0]!.message).toContain("canary");
  });
});

describe("render limits", () => {
  it("refuses a render that repeated includes would blow up, before building it", async () => {
    await t.ok(CreatePromptDocument, { input: { name: "boom/p0", content: "x".repeat(100) } });
    await t.ok(CreatePromptDocument, { input: { name: "boom/p1", content: "{{> boom/p0}}".repeat(200) } });
    await t.ok(CreatePromptDocument, { input: { name: "boom/p2", content: "{{> boom/p1}}".repeat(200) } });
    await t.ok(CreatePromptDocument, { input: { name: "boom/p3", content: "{{> boom/p2}}".repeat(20) } });
    const result = await t.execute(RenderDocument, { input: { name: "boom/p3" } });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors![0]!.message).toMatch(/would exceed 1048576 characters/);
    // One level is fine: 200 x 100 characters.
    const ok = await t.ok(RenderDocument, { input: { name: "boom/p1" } });
    expect(ok.renderPrompt.text).toHaveLength(20_000);
  });
});
