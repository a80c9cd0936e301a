// The deterministic guard of the benchmark issue: how many SQL statements (Prisma's and the prepared ones) a
// fixed set of operations runs, on a fixed data set. Timing belongs to `npm run bench`; this
// catches, in CI, a change that adds a query per row or per request. When a count changes on
// purpose, update EXPECTED in the same commit (the failure prints the whole table).
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CreatePromptDocument,
  DiffVersionsDocument,
  GetPromptDocument,
  GetPromptVersionDocument,
  LabelsDocument,
  ListPromptsDeepDocument,
  PromptAnalyticsDocument,
  RecordUsageDocument,
  RenderDocument,
  ResolvePromptDocument,
  SearchPromptsDocument,
  SetLabelDocument,
  UpdatePromptDocument,
} from "./generated/operations.js";
import { createTestApp, type TestApp } from "./helpers/app.js";

let t: TestApp;
const PROMPTS = 120;

beforeAll(async () => {
  t = await createTestApp();
  for (let i = 0; i < PROMPTS; i++) {
    const name = `guard/p${String(i).padStart(3, "0")}`;
    await t.ok(CreatePromptDocument, { input: { name, content: `Hello {{who}}, prompt ${i} about apples`, tags: ["guard", `t${i % 5}`] } });
    await t.ok(UpdatePromptDocument, { prompt: { name }, input: { content: `Hi {{who}}, prompt ${i} about apples and pears` } });
    await t.ok(SetLabelDocument, { input: { prompt: { name }, label: "production", version: 1 } });
  }
});

afterAll(() => t?.close());

/** Statements one run of the operation sends, after one warm-up run (caches and prepared plans warm). */
async function count<TData, TVars>(document: TypedDocumentNode<TData, TVars>, variables: () => TVars, warm = true): Promise<number> {
  if (warm) await t.ok(document, variables());
  const before = t.app.statements.count;
  await t.ok(document, variables());
  return t.app.statements.count - before;
}

let created = 0;
const EXPECTED: Record<string, number> = {
  "prompt(name), every field": 3,
  "prompts(first: 20), versions, labels, tags, relationships": 8,
  "prompts(first: 100), the same fields": 8,
  "promptVersion": 2,
  "labels and label history": 6,
  "resolvePrompt, cold (prepared statements)": 2,
  "resolvePrompt, warm": 0,
  "renderPrompt": 3,
  "searchPrompts(first: 20)": 2,
  "diffPromptVersions": 3,
  "promptAnalytics, 30 days (first run)": 3,
  "createPrompt": 5,
  "updatePrompt (new version)": 6,
  "setPromptLabel": 5,
  "recordUsage, 50 events (through its own connection)": 1,
};

describe("SQL statements per operation (a CI guard; speed is the benchmark's job)", () => {
  it("stay at the recorded counts, and do not grow with the page size", async () => {
    const name = "guard/p007";
    const actual: Record<string, number> = {
      "prompt(name), every field": await count(GetPromptDocument, () => ({ name })),
      "prompts(first: 20), versions, labels, tags, relationships": await count(ListPromptsDeepDocument, () => ({ first: 20 })),
      "prompts(first: 100), the same fields": await count(ListPromptsDeepDocument, () => ({ first: 100 })),
      "promptVersion": await count(GetPromptVersionDocument, () => ({ prompt: { name }, number: 2 })),
      "labels and label history": await count(LabelsDocument, () => ({ name, first: 20 })),
      "resolvePrompt, cold (prepared statements)": await count(ResolvePromptDocument, () => ({ name, label: "production", variables: { who: "Ann" } }), false),
      "resolvePrompt, warm": await count(ResolvePromptDocument, () => ({ name, label: "production", variables: { who: "Ann" } })),
      "renderPrompt": await count(RenderDocument, () => ({ input: { name, label: "production", variables: { who: "Ann" } } })),
      "searchPrompts(first: 20)": await count(SearchPromptsDocument, () => ({ query: "apples", first: 20 })),
      "diffPromptVersions": await count(DiffVersionsDocument, () => ({ prompt: { name }, from: 1, to: 2 })),
      "promptAnalytics, 30 days (first run)": await count(PromptAnalyticsDocument, () => ({ prompt: { name } }), false),
      "createPrompt": await count(CreatePromptDocument, () => ({ input: { name: `guard/new${++created}`, content: "x" } }), false),
      "updatePrompt (new version)": await count(UpdatePromptDocument, () => ({ prompt: { name }, input: { content: `v${++created}` } }), false),
      "setPromptLabel": await count(SetLabelDocument, () => ({ input: { prompt: { name }, label: "staging", version: (created++ % 2) + 1 } }), false),
      "recordUsage, 50 events (through its own connection)": await count(
        RecordUsageDocument,
        () => ({ events: Array.from({ length: 50 }, (_, i) => ({ prompt: { name: `guard/p${String(i).padStart(3, "0")}` }, success: true, latencyMs: 100 + i })) }),
        false,
      ),
    };
    expect(actual["prompts(first: 100), the same fields"]).toBe(actual["prompts(first: 20), versions, labels, tags, relationships"]);
    expect(actual, `statement counts changed; if on purpose, update EXPECTED:\n${JSON.stringify(actual, null, 2)}`).toEqual(EXPECTED);
  });
});
