import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PromptFilter } from "../src/domain/prompts/prompt.repository.js";
import { MatchExpressionError, SearchRepository } from "../src/domain/search/search.repository.js";
import { SearchService } from "../src/domain/search/search.service.js";
import { AppError } from "../src/errors.js";
import {
  ArchivePromptDocument,
  CreatePromptDocument,
  DeletePromptDocument,
  RollbackDocument,
  SearchPromptsCountDocument,
  SearchPromptsDocument,
  SimilarPromptsDocument,
  UpdatePromptDocument,
  type CreatePromptInput,
  type SearchPromptsQueryVariables,
} from "./generated/operations.js";
import { codes, createTestApp, type TestApp } from "./helpers/app.js";

let t: TestApp;

beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t.close());

const create = (name: string, input: Omit<CreatePromptInput, "name"> = {}) => t.ok(CreatePromptDocument, { input: { name, ...input } });

async function search(query: string, variables: Omit<SearchPromptsQueryVariables, "query"> = {}) {
  const { searchPrompts } = await t.ok(SearchPromptsDocument, { query, first: 50, ...variables });
  return searchPrompts.edges.map((e) => e.node);
}
const names = async (query: string, variables: Omit<SearchPromptsQueryVariables, "query"> = {}) =>
  (await search(query, variables)).map((hit) => hit.prompt.name);
const total = async (query: string, filter?: SearchPromptsQueryVariables["filter"]) =>
  (await t.ok(SearchPromptsCountDocument, { query, filter })).searchPrompts.totalCount;

describe("searchPrompts ranking and syntax", () => {
  beforeAll(async () => {
    await create("rank/quokka-policy", { content: "Explain the rules to the customer politely." });
    await create("rank/content-only", { content: "When a customer asks about a quokka, answer kindly and briefly." });
    await create("rank/tagged", { content: "Nothing about the animal here at all.", tags: ["quokka"] });
    await create("rank/described", { content: "Another unrelated body of text for balance.", description: "About the quokka" });
  });

  it("ranks a name or tag match above a description match above a content-only match", async () => {
    const hits = await search("quokka");
    // Name and tags weigh the same: their order depends on the rows' lengths.
    const byName = new Map(hits.map((h) => [h.prompt.name, h]));
    expect(hits.slice(0, 2).map((h) => h.prompt.name).sort()).toEqual(["rank/quokka-policy", "rank/tagged"]);
    expect(hits.slice(2).map((h) => h.prompt.name)).toEqual(["rank/described", "rank/content-only"]);
    expect(byName.get("rank/quokka-policy")!.matchedField).toBe("NAME");
    expect(byName.get("rank/tagged")!.matchedField).toBe("TAGS");
    expect(hits.slice(2).map((h) => h.matchedField)).toEqual(["DESCRIPTION", "CONTENT"]);
    const scores = hits.map((h) => h.score);
    expect(scores.every((s) => s > 0)).toBe(true);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
  });

  it("returns a plain snippet of the best field with highlight ranges", async () => {
    const hits = await search("quokka");
    const named = hits.find((h) => h.prompt.name === "rank/quokka-policy");
    const content = hits.find((h) => h.prompt.name === "rank/content-only");
    expect(named!.snippet.text).toBe("rank/quokka-policy");
    expect(named!.snippet.highlights).toEqual([{ start: 5, length: 6 }]);
    const { text, highlights } = content!.snippet;
    expect(text).toBe("When a customer asks about a quokka, answer kindly and briefly.");
    expect(highlights.map((h) => text.slice(h.start, h.start + h.length))).toEqual(["quokka"]);
    expect(text).not.toMatch(/[\uE000\uE001<>]/);
  });

  it("tells a phrase from words in any order", async () => {
    await create("phrase/exact", { content: "The order status of your parcel is shipped." });
    await create("phrase/apart", { content: "Status: we will review your order tomorrow." });
    expect(await names('"order status"')).toEqual(["phrase/exact"]);
    expect((await names("order status")).sort()).toEqual(["phrase/apart", "phrase/exact"]);
    const [hit] = await search('"order status"');
    expect(hit!.snippet.highlights.map((h) => hit!.snippet.text.slice(h.start, h.start + h.length))).toEqual(["order status"]);
  });

  it("finds prefixes, excludes words and limits terms to a field", async () => {
    await create("prefix/a", { content: "Welcome aboard, traveller." });
    await create("prefix/b", { content: "We are welcoming every traveller." });
    await create("prefix/c", { content: "A warm welcome to the draft traveller." });
    expect((await names("welc* traveller")).sort()).toEqual(["prefix/a", "prefix/b", "prefix/c"]);
    expect((await names("welcome traveller")).sort()).toEqual(["prefix/a", "prefix/c"]);
    expect((await names("welc* traveller -draft")).sort()).toEqual(["prefix/a", "prefix/b"]);
    expect((await names("aboard OR welcoming")).sort()).toEqual(["prefix/a", "prefix/b"]);
    expect(await names("name:quokka")).toEqual(["rank/quokka-policy"]);
    expect(await names("content:quokka")).toEqual(["rank/content-only"]);
    expect(await names("tags:quokka")).toEqual(["rank/tagged"]);
    expect(await names("description:quokka")).toEqual(["rank/described"]);
    expect((await names("quokka -name:quokka -tags:quokka")).sort()).toEqual(["rank/content-only", "rank/described"]);
  });

  it("ignores case and accents", async () => {
    await create("accents/cafe", { content: "Recommend a CAFÉ with naïve charm." });
    expect(await names("cafe NAIVE")).toEqual(["accents/cafe"]);
  });

  it.each([
    ["", /empty/],
    ['"unbalanced', /unbalanced quote/],
    ["-quokka", /only excludes/],
    ["quokka OR", /between two terms/],
    ["q*", /at least 2 letters/],
    ["a*b", /at the end of a word/],
    ["!!!", /no letters or digits/],
    ["name: quokka", /without a space/],
    ["x".repeat(501), /too long/],
  ])("rejects the malformed query %j with BAD_USER_INPUT on field query", async (query, message) => {
    const result = await t.execute(SearchPromptsDocument, { query });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(result.errors![0]!.extensions!.field).toBe("query");
    expect(result.errors![0]!.message).toMatch(message);
  });

  it("treats FTS5 syntax in the query as plain words", async () => {
    for (const query of ["NEAR(quokka policy)", "quokka AND NOT", "rank:x", "{name}:quokka", "quokka^", "col:quokka"]) {
      const result = await t.execute(SearchPromptsDocument, { query });
      expect(result.errors, query).toBeUndefined();
    }
  });

  it("maps an SQLite error raised by MATCH to BAD_USER_INPUT as a last line of defence", async () => {
    const repo = new SearchRepository(t.app.db);
    const filter: PromptFilter = { archived: "ALL" };
    for (const expression of ['"unterminated', "AND quokka", "nosuchcolumn:quokka", "quokka NOT"]) {
      await expect(repo.search(expression, filter, 10, 0, 100), expression).rejects.toBeInstanceOf(MatchExpressionError);
    }
    // A repository whose expression is broken after parsing: the service still answers BAD_USER_INPUT.
    class Broken extends SearchRepository {
      override search(_expression: string, ...rest: [PromptFilter, number, number, number]) {
        return super.search('"broken', ...rest);
      }
    }
    const service = new SearchService(new Broken(t.app.db), t.app.services.prompts);
    const error = await service.search({ query: "quokka" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: "BAD_USER_INPUT", details: { field: "query" } });
  });
});

describe("searchPrompts filters and pagination", () => {
  beforeAll(async () => {
    for (let i = 0; i < 25; i++) {
      // Different numbers of the word give different scores; every prompt matches.
      const body = `${"pangolin ".repeat(1 + (i % 6))}filler text number ${i} about scales`;
      await create(`${i % 2 === 0 ? "zoo/even" : "zoo/odd"}/p${String(i).padStart(2, "0")}`, {
        content: body,
        category: i % 3 === 0 ? "three" : "other",
        tags: i % 5 === 0 ? ["five", "zoo"] : ["zoo"],
      });
    }
  });

  it("walks every hit exactly once, in ranking order", async () => {
    const all = await names("pangolin");
    expect(all).toHaveLength(25);
    const seen: string[] = [];
    let after: string | null | undefined;
    for (let page = 0; page < 10; page++) {
      const { searchPrompts } = await t.ok(SearchPromptsDocument, { query: "pangolin", first: 7, after });
      expect(searchPrompts.pageInfo.hasPreviousPage).toBe(page > 0);
      seen.push(...searchPrompts.edges.map((e) => e.node.prompt.name));
      if (!searchPrompts.pageInfo.hasNextPage) break;
      after = searchPrompts.pageInfo.endCursor;
    }
    expect(seen).toEqual(all);
    expect(await total("pangolin")).toBe(25);
  });

  it("applies the listing filter: tags, category, folder, archived", async () => {
    expect(await total("pangolin", { tags: ["five"] })).toBe(5);
    expect(await total("pangolin", { tags: ["five", "zoo"] })).toBe(5);
    expect(await total("pangolin", { category: "three" })).toBe(9);
    expect(await total("pangolin", { folder: "zoo/even" })).toBe(13);
    expect((await names("pangolin", { filter: { folder: "zoo/odd/", tags: ["five"] } })).sort()).toEqual(["zoo/odd/p05", "zoo/odd/p15"]);

    await t.ok(ArchivePromptDocument, { prompt: { name: "zoo/even/p00" } });
    expect(await names("pangolin")).not.toContain("zoo/even/p00");
    expect(await total("pangolin")).toBe(24);
    expect(await names("pangolin", { filter: { archived: "ARCHIVED" } })).toEqual(["zoo/even/p00"]);
    expect(await total("pangolin", { archived: "ALL" })).toBe(25);
  });

  it("rejects bad paging arguments and cursors of another search", async () => {
    expect(codes(await t.execute(SearchPromptsDocument, { query: "pangolin", first: 201 }))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await t.execute(SearchPromptsDocument, { query: "pangolin", after: "garbage" }))).toEqual(["BAD_USER_INPUT"]);
    const { searchPrompts } = await t.ok(SearchPromptsDocument, { query: "pangolin", first: 2 });
    const cursor = searchPrompts.pageInfo.endCursor;
    expect(codes(await t.execute(SearchPromptsDocument, { query: "scales", after: cursor }))).toEqual(["BAD_USER_INPUT"]);
    const filtered = await t.execute(SearchPromptsDocument, { query: "pangolin", after: cursor, filter: { tags: ["five"] } });
    expect(filtered.errors![0]!.extensions!.field).toBe("after");
  });

  it("runs one statement per page whatever its size, and counts only when asked", async () => {
    const statements = async (first: number) => {
      const before = t.app.statements.count;
      await t.ok(SearchPromptsDocument, { query: "pangolin", first });
      return t.app.statements.count - before;
    };
    const small = await statements(2);
    const large = await statements(20);
    expect(large).toBe(small);
    expect(large).toBeLessThanOrEqual(2); // the page, and the tags of its prompts
  });
});

describe("the index follows the prompts", () => {
  it("searches the latest content only, also after a rollback", async () => {
    await create("follow/versioned", { content: "Talk about the armadillo first." });
    expect(await names("armadillo")).toEqual(["follow/versioned"]);
    await t.ok(UpdatePromptDocument, { prompt: { name: "follow/versioned" }, input: { content: "Now talk about the okapi." } });
    expect(await names("okapi")).toEqual(["follow/versioned"]);
    expect(await names("armadillo")).toEqual([]);
    await t.ok(RollbackDocument, { input: { prompt: { name: "follow/versioned" }, toVersion: 1 } });
    expect(await names("armadillo")).toEqual(["follow/versioned"]);
    expect(await names("okapi")).toEqual([]);
  });

  it("follows latestVersionNumber moved to an existing version by other means", async () => {
    await create("follow/pointer", { content: "First about the tapir." });
    await t.ok(UpdatePromptDocument, { prompt: { name: "follow/pointer" }, input: { content: "Then about the dugong." } });
    await t.app.db.$executeRaw`UPDATE Prompt SET latestVersionNumber = 1 WHERE name = ${"follow/pointer"}`;
    expect(await names("tapir")).toEqual(["follow/pointer"]);
    expect(await names("dugong")).toEqual([]);
    await t.app.db.$executeRaw`UPDATE Prompt SET latestVersionNumber = 2 WHERE name = ${"follow/pointer"}`;
    expect(await names("dugong")).toEqual(["follow/pointer"]);
  });

  it("follows description and tag changes", async () => {
    await create("follow/meta", { content: "Body text.", description: "Handles the narwhal case", tags: ["sealion"] });
    expect(await names("narwhal")).toEqual(["follow/meta"]);
    expect(await names("tags:sealion")).toEqual(["follow/meta"]);
    await t.ok(UpdatePromptDocument, {
      prompt: { name: "follow/meta" },
      input: { description: "Handles the beluga case", tags: ["walrus", "orca-pod"] },
    });
    expect(await names("narwhal")).toEqual([]);
    expect(await names("beluga")).toEqual(["follow/meta"]);
    expect(await names("tags:sealion")).toEqual([]);
    expect(await names("tags:walrus tags:orca")).toEqual(["follow/meta"]);
    expect(await names('tags:"orca-pod"')).toEqual(["follow/meta"]);
  });

  it("forgets deleted prompts", async () => {
    await create("follow/deleted", { content: "The axolotl is gone soon.", tags: ["axolotl"] });
    expect(await names("axolotl")).toEqual(["follow/deleted"]);
    await t.ok(DeletePromptDocument, { prompt: { name: "follow/deleted" } });
    expect(await names("axolotl")).toEqual([]);
    const [counts] = await t.app.db.$queryRawUnsafe<{ indexed: bigint; prompts: bigint }[]>(
      "SELECT (SELECT count(*) FROM PromptSearch) AS indexed, (SELECT count(*) FROM Prompt) AS prompts",
    );
    expect(Number(counts!.indexed)).toBe(Number(counts!.prompts));
  });

  it("indexes the message contents of CHAT prompts, not their JSON", async () => {
    await create("follow/chat", {
      type: "CHAT",
      messages: [
        { role: "SYSTEM", content: "You are a patient capybara expert." },
        { role: "USER", content: "Tell me about {{topic}} habitats." },
      ],
    });
    expect(await names("capybara habitats")).toEqual(["follow/chat"]);
    const [hit] = await search("capybara");
    expect(hit!.snippet.text).toBe("You are a patient capybara expert.\nTell me about {{topic}} habitats.");
    expect(await names("role")).toEqual([]);
  });

  it("keeps its triggers (a later migration that redefines Prompt must re-create them)", async () => {
    const rows = await t.app.db.$queryRawUnsafe<{ name: string }[]>(
      "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'PromptSearch%' ORDER BY name",
    );
    expect(rows.map((r) => r.name)).toEqual([
      "PromptSearch_prompt_delete",
      "PromptSearch_prompt_insert",
      "PromptSearch_prompt_insert_deferred",
      "PromptSearch_prompt_update",
      "PromptSearch_prompt_update_deferred",
      "PromptSearch_tag_delete",
      "PromptSearch_tag_delete_deferred",
      "PromptSearch_tag_insert",
      "PromptSearch_tag_insert_deferred",
      "PromptSearch_version_insert",
      "PromptSearch_version_insert_deferred",
    ]);
  });
});

describe("the candidate bound", () => {
  it("ranks only the N newest matches", async () => {
    // The oldest prompt is the best match (the word is in its name), the others mention it once.
    await create("bound/wombat-guide", { content: "Everything there is to say." });
    for (let i = 1; i <= 4; i++) await create(`bound/other-${i}`, { content: `Item ${i} mentions a wombat in passing, among many other words.` });

    const unbounded = await names("wombat");
    expect(unbounded[0]).toBe("bound/wombat-guide");
    expect(unbounded).toHaveLength(5);

    const bounded = new SearchService(new SearchRepository(t.app.db), t.app.services.prompts, { candidateLimit: 3 });
    const page = await bounded.search({ query: "wombat", first: 10 });
    expect(page.items.map((hit) => hit.prompt.name).sort()).toEqual(["bound/other-2", "bound/other-3", "bound/other-4"]);
    expect(await page.count()).toBe(3);
    // Fewer matches than the bound: everything is ranked.
    expect((await bounded.search({ query: "wombat guide" })).items.map((hit) => hit.prompt.name)).toEqual(["bound/wombat-guide"]);
  });

  it("applies the filter to the N newest matches: it narrows them, never reaches older ones", async () => {
    await create("narrow/old-tagged", { content: "A numbat fact sheet.", tags: ["keep"] });
    await create("narrow/old", { content: "Numbat notes." });
    await create("narrow/new-tagged", { content: "Numbat feeding times.", tags: ["keep"] });
    for (let i = 1; i <= 3; i++) await create(`narrow/new-${i}`, { content: `Numbat sighting ${i}.` });

    const bounded = new SearchService(new SearchRepository(t.app.db), t.app.services.prompts, { candidateLimit: 4 });
    const tagged = await bounded.search({ query: "numbat", tags: ["keep"] });
    expect(tagged.items.map((hit) => hit.prompt.name)).toEqual(["narrow/new-tagged"]);
    expect(await tagged.count()).toBe(1);
    expect((await bounded.search({ query: "numbat", tags: ["absent"] })).items).toEqual([]);

    // Pages of a bounded ranking: positions in it, each candidate once.
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await bounded.search({ query: "numbat", first: 3, after });
      seen.push(...page.items.map((hit) => hit.prompt.name));
      if (!page.hasNextPage) break;
      after = page.cursor(page.items.at(-1)!);
    }
    expect(seen.sort()).toEqual(["narrow/new-1", "narrow/new-2", "narrow/new-3", "narrow/new-tagged"]);
    expect(await (await bounded.search({ query: "numbat" })).count()).toBe(4);
  });
});

describe("similarPrompts", () => {
  beforeAll(async () => {
    const source =
      "Summarise the quarterly invoice dispute for the finance team. Mention the refund amount, the invoice number, " +
      "the dispute deadline and the escalation contact. Keep the invoice summary under five sentences.";
    await create("similar/source", { content: source });
    await create("similar/twin", { content: source.replace("finance team", "accounting team") });
    await create("similar/cousin", { content: "Draft a reply about an invoice dispute; offer a refund if the deadline passed." });
    await create("similar/distant", { content: "Write a haiku about the invoice of autumn leaves." });
    await create("similar/stranger", { content: "Translate the menu of a mountain restaurant into French." });
    await create("similar/archived-twin", { content: source });
    await t.ok(ArchivePromptDocument, { prompt: { name: "similar/archived-twin" } });
  });

  it("orders other active prompts by content similarity with scores from 0 to 1", async () => {
    const { similarPrompts } = await t.ok(SimilarPromptsDocument, { prompt: { name: "similar/source" } });
    const found = similarPrompts.map((s) => s.prompt.name);
    expect(found.slice(0, 3)).toEqual(["similar/twin", "similar/cousin", "similar/distant"]);
    expect(found).not.toContain("similar/source");
    expect(found).not.toContain("similar/archived-twin");
    expect(found).not.toContain("similar/stranger");
    const scores = similarPrompts.map((s) => s.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(scores.every((s) => s > 0 && s <= 1)).toBe(true);
    expect(scores[0]).toBeGreaterThan(0.8);
    expect(scores[2]).toBeLessThan(0.5);
  });

  it("honours first and reports unknown prompts", async () => {
    const { similarPrompts } = await t.ok(SimilarPromptsDocument, { prompt: { name: "similar/source" }, first: 1 });
    expect(similarPrompts.map((s) => s.prompt.name)).toEqual(["similar/twin"]);
    expect(codes(await t.execute(SimilarPromptsDocument, { prompt: { name: "similar/nope" } }))).toEqual(["NOT_FOUND"]);
    expect(codes(await t.execute(SimilarPromptsDocument, { prompt: {} }))).toEqual(["BAD_USER_INPUT"]);
  });

  it("finds nothing for a prompt with no term in common with others", async () => {
    await create("similar/alone", { content: "Zyxwv qwertz uiopasd." });
    expect((await t.ok(SimilarPromptsDocument, { prompt: { name: "similar/alone" } })).similarPrompts).toEqual([]);
  });
});
