import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ArchivePromptDocument,
  CreatePromptDocument,
  ListPromptsDeepDocument,
  ListPromptsDocument,
  UpdatePromptDocument,
  type ListPromptsQueryVariables,
} from "./generated/operations.js";
import { codes, createTestApp, type TestApp } from "./helpers/app.js";
import { SyncReader } from "../src/db/sync-reader.js";
import type { PromptType } from "../src/domain/prompts/prompt.logic.js";
import { PromptReads } from "../src/domain/prompts/prompt.reads.js";
import { PromptRepository, type PromptFilter } from "../src/domain/prompts/prompt.repository.js";
import { mergeSpans, type VersionSpan } from "../src/domain/prompts/version-span.js";
import { toConnection } from "../src/resolvers/shared/connection.js";

let t: TestApp;
const names: string[] = [];

beforeAll(async () => {
  t = await createTestApp();
  // 60 prompts in three folders, every third tagged, some with several versions.
  for (let i = 0; i < 60; i++) {
    const folder = ["support", "sales", "support/billing"][i % 3]!;
    const name = `${folder}/p${String(i).padStart(2, "0")}`;
    names.push(name);
    await t.ok(CreatePromptDocument, {
      input: {
        name,
        content: `Prompt ${i} for {{customer}}`,
        category: i % 2 === 0 ? "even" : "odd",
        tags: i % 3 === 0 ? ["tagged", "shared"] : ["shared"],
      },
    });
    for (let v = 0; v < i % 4; v++) {
      await t.ok(UpdatePromptDocument, { prompt: { name }, input: { content: `Prompt ${i} v${v + 2}` } });
    }
  }
});
afterAll(() => t.close());

async function collect(variables: ListPromptsQueryVariables) {
  const seen: string[] = [];
  let after: string | null | undefined;
  for (let page = 0; page < 100; page++) {
    const { prompts } = await t.ok(ListPromptsDocument, { ...variables, after });
    seen.push(...prompts.edges.map((e) => e.node.name));
    if (!prompts.pageInfo.hasNextPage) return { seen, total: prompts.totalCount };
    after = prompts.pageInfo.endCursor;
  }
  throw new Error("pagination did not end");
}

describe("prompts connection", () => {
  it("walks every prompt exactly once by name, in order", async () => {
    const { seen, total } = await collect({ first: 7 });
    expect(total).toBe(60);
    expect(seen).toEqual([...names].sort());
  });

  it("walks by updatedAt descending with a stable tie-break", async () => {
    const { seen } = await collect({ first: 9, orderBy: { field: "UPDATED_AT" } });
    expect(new Set(seen).size).toBe(60);
    const { prompts } = await t.ok(ListPromptsDocument, { first: 60, orderBy: { field: "UPDATED_AT" } });
    const times = prompts.edges.map((e) => Date.parse(e.node.updatedAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    expect(prompts.edges.map((e) => e.node.name)).toEqual(seen);
  });

  it("filters by folder (exact prefix), tags (all of them) and category", async () => {
    const support = await collect({ first: 50, filter: { folder: "support" } });
    expect(support.seen.every((n) => n.startsWith("support/"))).toBe(true);
    expect(support.total).toBe(40); // support/* and support/billing/*
    const billing = await collect({ first: 50, filter: { folder: "support/billing/" } });
    expect(billing.total).toBe(20);
    const tagged = await collect({ first: 50, filter: { tags: ["tagged", "shared"] } });
    expect(tagged.total).toBe(20);
    const combined = await collect({ first: 50, filter: { tags: ["tagged"], category: "even", folder: "support" } });
    expect(combined.seen).toEqual(names.filter((n, i) => i % 3 === 0 && i % 2 === 0 && n.startsWith("support/")).sort());
    const nothing = await collect({ first: 5, filter: { folder: "Support" } });
    expect(nothing.total).toBe(0);
  });

  it("hides archived prompts unless asked", async () => {
    await t.ok(ArchivePromptDocument, { prompt: { name: names[0]! } });
    expect((await collect({ first: 100 })).total).toBe(59);
    expect((await collect({ first: 100, filter: { archived: "ARCHIVED" } })).seen).toEqual([names[0]]);
    expect((await collect({ first: 100, filter: { archived: "ALL" } })).total).toBe(60);
  });

  it("rejects bad paging arguments with BAD_USER_INPUT", async () => {
    expect(codes(await t.execute(ListPromptsDocument, { first: 201 }))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.execute(ListPromptsDocument, { first: -1 }))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.execute(ListPromptsDocument, { after: "garbage" }))).toEqual(["BAD_USER_INPUT"]);
    const { prompts } = await t.ok(ListPromptsDocument, { first: 2 });
    const crossed = await t.execute(ListPromptsDocument, { after: prompts.pageInfo.endCursor, orderBy: { field: "UPDATED_AT" } });
    expect(codes(crossed)).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.execute(ListPromptsDocument, { filter: { folder: "../etc" } }))).toEqual(["BAD_USER_INPUT"]);
  });
});

describe("DataLoader batching", () => {
  async function statementsFor(first: number) {
    const before = t.app.statements.count;
    const { prompts } = await t.ok(ListPromptsDeepDocument, { first });
    return { statements: t.app.statements.count - before, nodes: prompts.nodes };
  }

  it("runs the same number of SQL statements for 50 prompts as for 5", async () => {
    const small = await statementsFor(5);
    const large = await statementsFor(50);
    expect(small.nodes).toHaveLength(5);
    expect(large.nodes).toHaveLength(50);
    // One statement per relation field (page, tags, latestVersion and versions together,
    // labels, relationships, their prompts, includes, included-by), whatever the page size.
    expect(large.statements).toBe(small.statements);
    expect(large.statements).toBeLessThanOrEqual(10);
    const withVersions = large.nodes.find((n) => n.versionCount === 4)!;
    expect(withVersions.versions.nodes.map((v) => v.number)).toEqual([4, 3, 2]);
    expect(withVersions.latestVersion.number).toBe(4);
    expect(withVersions.tags.length).toBeGreaterThan(0);
  });
});

describe("version spans", () => {
  const span = (promptId: string, from: number, to: number): VersionSpan => ({ promptId, from, to, type: "TEXT" });
  it("reads a prompt's overlapping and touching ranges as one span, and apart ranges and other prompts' apart", () => {
    const ranges = [span("b", 5, 5), span("a", 1, 3), span("b", 1, 5), span("a", 4, 4), span("a", 9, 12), span("b", 5, 5), span("c", 2, 2)];
    const { spans, spanOf } = mergeSpans(ranges);
    expect(spans).toEqual([span("b", 1, 5), span("a", 1, 4), span("a", 9, 12), span("c", 2, 2)]);
    expect(spanOf).toEqual([0, 1, 0, 1, 2, 0, 3]);
    // The ranges given are left as they were.
    expect(ranges[1]).toEqual(span("a", 1, 3));
  });
});

describe("prompt counts on prepared statements", () => {
  it("give Prisma's count for every kind of filter, alone and combined", async () => {
    const reader = new SyncReader(t.app.config.dbFile, 1_000);
    try {
      const reads = new PromptReads(reader);
      const viaPrisma = new PromptRepository(t.app.db);
      const filters: PromptFilter[] = [
        { archived: "ALL" },
        { archived: "ACTIVE" },
        { archived: "ARCHIVED" },
        { archived: "ACTIVE", folder: "support/" },
        { archived: "ALL", folder: "support/billing/" },
        { archived: "ACTIVE", folder: "Support/" },
        { archived: "ACTIVE", category: "even" },
        { archived: "ACTIVE", tags: ["tagged"] },
        { archived: "ACTIVE", tags: ["tagged", "shared"] },
        { archived: "ACTIVE", tags: ["tagged", "missing"] },
        { archived: "ALL", tags: ["shared"], category: "odd", folder: "sales/" },
      ];
      const counts = await Promise.all(filters.map(async (filter) => [reads.count(filter), await viaPrisma.count(filter)]));
      for (const [i, [prepared, prisma]] of counts.entries()) expect(prepared, JSON.stringify(filters[i])).toBe(prisma);
      // Not all the same answer: the filters do narrow.
      expect(new Set(counts.map(([n]) => n)).size).toBeGreaterThan(5);
      expect(counts[5]![0]).toBe(0);
    } finally {
      reader.close();
    }
  });
});

describe("version reads on prepared statements", () => {
  it("give the versions Prisma gives, for overlapping, repeated and empty ranges, with or without the prompts' types", async () => {
    const reader = new SyncReader(t.app.config.dbFile, 1_000);
    try {
      const reads = new PromptReads(reader);
      const viaPrisma = new PromptRepository(t.app.db);
      const rows = reader.all<{ id: string; type: string; latestVersionNumber: number }>("SELECT id, type, latestVersionNumber FROM Prompt ORDER BY name LIMIT 8");
      const types = rows.map((r) => r.type as PromptType);
      const spans: VersionSpan[] = rows.flatMap((r, i) => [
        { promptId: r.id, from: 1, to: r.latestVersionNumber, type: types[i]! },
        { promptId: r.id, from: r.latestVersionNumber, to: r.latestVersionNumber, type: types[i]! },
        { promptId: r.id, from: 2, to: 3, type: types[i]! },
        { promptId: r.id, from: r.latestVersionNumber + 1, to: r.latestVersionNumber + 5, type: types[i]! },
      ]);
      const expected = await viaPrisma.versionRanges(spans);
      expect(reads.versionRanges(spans)).toEqual(expected);
      expect(expected.length).toBe(spans.length);
      spans.forEach((span, i) => {
        const numbers = expected[i]!.map((v) => v.number);
        const want = [];
        for (let n = Math.min(span.to, rows.find((r) => r.id === span.promptId)!.latestVersionNumber); n >= span.from; n--) want.push(n);
        expect(numbers).toEqual(want);
        for (const v of expected[i]!) expect(v.promptId).toBe(span.promptId);
      });
      const keys = rows.map((r) => ({ promptId: r.id, number: r.latestVersionNumber }));
      expect(reads.versionsByKeys(keys.map((k, i) => ({ ...k, type: types[i] })))).toEqual(reads.versionsByKeys(keys));
      // The update path's one statement: the prompt and its latest version, as Prisma's two reads give them.
      for (const row of rows) {
        const prompt = (await viaPrisma.findById(row.id))!;
        const want = { prompt, latest: await viaPrisma.latestVersion(prompt) };
        expect(want.latest?.number).toBe(row.latestVersionNumber);
        expect(reads.findWithLatest("id", row.id)).toEqual(want);
        expect(reads.findWithLatest("name", prompt.name)).toEqual(want);
        expect(await viaPrisma.findWithLatest("name", prompt.name)).toEqual(want);
      }
      expect(reads.findWithLatest("name", "no/such-prompt")).toBeNull();
    } finally {
      reader.close();
    }
  });
});

describe("connections", () => {
  it("encode cursors and count only for the fields a query selects", async () => {
    let cursors = 0;
    let counts = 0;
    const page = { items: [{ n: 3 }, { n: 2 }, { n: 1 }], hasNextPage: true, hasPreviousPage: false };
    const connection = toConnection(page, (item) => (cursors++, `c${item.n}`), () => (counts++, 7));
    expect(connection.nodes.map((item) => item.n)).toEqual([3, 2, 1]);
    expect(cursors + counts).toBe(0);
    expect(connection.edges.map((edge) => edge.cursor)).toEqual(["c3", "c2", "c1"]);
    expect(connection.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: false, startCursor: "c3", endCursor: "c1" });
    expect(connection.totalCount).toBe(7);
    expect([cursors, counts]).toEqual([5, 1]);
    const empty = toConnection({ items: [], hasNextPage: false, hasPreviousPage: true }, () => "x", () => 0);
    expect(empty.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null });
  });
});
