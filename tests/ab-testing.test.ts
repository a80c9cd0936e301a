// A/B tests through GraphQL: definition and lifecycle, serving (deterministic split, weights,
// no database work per warm request, buffered exposures), outcomes, results against
// independently computed values, an automatic winner with promotion, and live updates.
import Database from "better-sqlite3";
import { print } from "graphql";
import { createClient } from "graphql-ws";
import { describe, expect, it, beforeAll, afterAll } from "vitest";
import WebSocket from "ws";
import {
  AbTestResultsDocument,
  AbTestUpdatesDocument,
  CompleteAbTestDocument,
  CreateAbTestDocument,
  CreatePromptDocument,
  GetAbTestDocument,
  LabelsDocument,
  ListAbTestsDocument,
  PauseAbTestDocument,
  RecordOutcomesDocument,
  ResolvePromptDocument,
  ResumeAbTestDocument,
  SetLabelDocument,
  StartAbTestDocument,
  UpdatePromptDocument,
  ArchivePromptDocument,
  DeletePromptDocument,
  RemoveLabelDocument,
  type AbTestUpdatesSubscription,
  type CreateAbTestInput,
} from "./generated/operations.js";
import { codes, createTestApp, type TestApp } from "./helpers/app.js";

let t: TestApp;
beforeAll(async () => {
  // Nothing protected: these tests are about serving and statistics. A test on a protected label
  // fixes its label-named variants when it starts (tests/auth-hardening.test.ts), which the
  // label-following cases below would not see.
  t = await createTestApp({ auth: { openLocalMode: true, protectedLabels: [], anonymousIntrospection: false } });
});
afterAll(() => t.close());

let n = 0;
/** A prompt with versions 1..3 ("v1 {{who}}", ...) and production on version 1. */
async function promptWithVersions(): Promise<string> {
  const name = `ab/p${++n}`;
  await t.ok(CreatePromptDocument, { input: { name, content: "v1 {{who}}" } });
  await t.ok(UpdatePromptDocument, { prompt: { name }, input: { content: "v2 {{who}}" } });
  await t.ok(UpdatePromptDocument, { prompt: { name }, input: { content: "v3 {{who}}" } });
  await t.ok(SetLabelDocument, { input: { prompt: { name }, label: "production", version: 1 } });
  return name;
}

const twoWay = (name: string, extra: Partial<CreateAbTestInput> = {}): CreateAbTestInput => ({
  name: "greeting test",
  prompt: { name },
  variants: [
    { name: "control", label: "production", weight: 1 },
    { name: "new", version: 2, weight: 1 },
  ],
  metric: "CONVERSION",
  ...extra,
});

const resolve = async (name: string, subjectKey: string | null = null) =>
  (await t.ok(ResolvePromptDocument, { name, subjectKey, variables: { who: "Ann" } })).resolvePrompt;

describe("defining and running tests", () => {
  it("validates the definition before storing anything", async () => {
    const name = await promptWithVersions();
    const bad = async (input: CreateAbTestInput) => codes(await t.execute(CreateAbTestDocument, { input }));
    expect(await bad({ ...twoWay(name), variants: [{ version: 1, weight: 1 }] })).toEqual(["BAD_USER_INPUT"]);
    expect(await bad({ ...twoWay(name), variants: [{ version: 1, weight: 1 }, { version: 2, weight: 0 }] })).toEqual(["BAD_USER_INPUT"]);
    expect(await bad({ ...twoWay(name), variants: [{ version: 1, weight: 1 }, { version: 9, weight: 1 }] })).toEqual(["NOT_FOUND"]);
    expect(await bad({ ...twoWay(name), variants: [{ version: 1, weight: 1 }, { label: "staging", weight: 1 }] })).toEqual(["NOT_FOUND"]);
    expect(await bad({ ...twoWay(name), variants: [{ version: 1, label: "production", weight: 1 }, { version: 2, weight: 1 }] })).toEqual(["BAD_USER_INPUT"]);
    expect(await bad({ ...twoWay(name), confidence: 1.5 })).toEqual(["BAD_USER_INPUT"]);
    expect(await bad({ ...twoWay(name), label: "latest" })).toEqual(["BAD_USER_INPUT"]);
    expect((await t.ok(ListAbTestsDocument, { prompt: { name } })).abTests.totalCount).toBe(0);
  });

  it("moves through DRAFT, RUNNING, PAUSED and COMPLETED, one active test per prompt and label", async () => {
    const name = await promptWithVersions();
    const { createAbTest: test } = await t.ok(CreateAbTestDocument, { input: twoWay(name) });
    expect(test).toMatchObject({ status: "DRAFT", label: "production", confidence: 0.95, minSamplePerVariant: 100, autoPromote: false });
    expect(test.variants).toEqual([
      { index: 0, name: "control", versionNumber: null, versionLabel: "production", weight: 1 },
      { index: 1, name: "new", versionNumber: 2, versionLabel: null, weight: 1 },
    ]);
    const other = (await t.ok(CreateAbTestDocument, { input: { ...twoWay(name), name: "other" } })).createAbTest;
    expect((await t.ok(StartAbTestDocument, { id: test.id })).startAbTest.status).toBe("RUNNING");
    expect(codes(await t.execute(StartAbTestDocument, { id: other.id }))).toEqual(["CONFLICT"]);
    expect((await t.ok(PauseAbTestDocument, { id: test.id })).pauseAbTest.status).toBe("PAUSED");
    expect(codes(await t.execute(StartAbTestDocument, { id: other.id }))).toEqual(["CONFLICT"]);
    expect(codes(await t.execute(PauseAbTestDocument, { id: test.id }))).toEqual(["FAILED_PRECONDITION"]);
    expect((await t.ok(ResumeAbTestDocument, { id: test.id })).resumeAbTest.status).toBe("RUNNING");
    const done = (await t.ok(CompleteAbTestDocument, { id: test.id, winner: 1, promote: true })).completeAbTest;
    expect(done).toMatchObject({ status: "COMPLETED", winnerIndex: 1, winnerDecidedBy: "MANUAL" });
    const labels = await t.ok(LabelsDocument, { name });
    expect(labels.prompt!.labels).toContainEqual(expect.objectContaining({ name: "production", versionNumber: 2 }));
    expect(labels.prompt!.labelHistory.nodes[0]!.reason).toMatch(/A\/B test "greeting test" .*: new won/);
    expect((await t.ok(StartAbTestDocument, { id: other.id })).startAbTest.status).toBe("RUNNING");
  });
});

describe("serving", () => {
  it("gives each subject the same variant, respects the weights, and serves the label's own version when no test runs", async () => {
    const name = await promptWithVersions();
    expect(await resolve(name, "u1")).toMatchObject({ text: "v1 Ann", version: { number: 1 }, test: null, variant: null, subjectKey: "u1" });
    const { createAbTest: test } = await t.ok(CreateAbTestDocument, {
      input: { ...twoWay(name), variants: [{ label: "production", weight: 1 }, { version: 3, weight: 3 }] },
    });
    await t.ok(StartAbTestDocument, { id: test.id });
    const first = await resolve(name, "subject-7");
    for (let i = 0; i < 5; i++) expect((await resolve(name, "subject-7")).variant).toEqual(first.variant);
    expect(first.text).toBe(first.variant!.index === 0 ? "v1 Ann" : "v3 Ann");
    let treated = 0;
    for (let i = 0; i < 800; i++) if ((await resolve(name, `s${i}`)).variant!.index === 1) treated++;
    expect(treated / 800).toBeGreaterThan(0.7);
    expect(treated / 800).toBeLessThan(0.8);
    const anonymous = await resolve(name);
    expect(anonymous.subjectKey).toMatch(/^anonymous-/);
    await t.ok(PauseAbTestDocument, { id: test.id });
    expect(await resolve(name, "subject-7")).toMatchObject({ text: "v1 Ann", test: null });
  });

  it("answers warm requests from memory (no SQL at all) and follows label moves through events", async () => {
    const name = await promptWithVersions();
    const { createAbTest: test } = await t.ok(CreateAbTestDocument, { input: twoWay(name) });
    await t.ok(StartAbTestDocument, { id: test.id });
    // Warm: both variants served once (their versions are then in memory).
    for (let i = 0; i < 10; i++) await resolve(name, `cold-${i}`);
    await t.app.services.exposures.flush();
    // A change to another prompt leaves this prompt's entries alone.
    const other = await promptWithVersions();
    await t.ok(SetLabelDocument, { input: { prompt: { name: other }, label: "production", version: 2 } });
    // The write re-evaluates the test (a background query); let it finish before counting.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = t.app.statements.count;
    for (let i = 1; i <= 50; i++) await resolve(name, `warm-${i}`);
    expect(t.app.statements.count).toBe(before);
    expect(t.app.services.exposures.size).toBe(50);
    expect(t.app.services.cache.stats().l1.hits).toBeGreaterThan(200);

    await t.ok(CompleteAbTestDocument, { id: test.id });
    await t.ok(SetLabelDocument, { input: { prompt: { name }, label: "production", version: 3 } });
    expect((await resolve(name, "warm-1")).text).toBe("v3 Ann");
  });

  it("writes buffered exposures on a graceful shutdown: none is lost", async () => {
    const own = await createTestApp();
    await own.ok(CreatePromptDocument, { input: { name: "ab/shutdown", content: "a {{who}}" } });
    await own.ok(UpdatePromptDocument, { prompt: { name: "ab/shutdown" }, input: { content: "b {{who}}" } });
    await own.ok(SetLabelDocument, { input: { prompt: { name: "ab/shutdown" }, label: "production", version: 1 } });
    const { createAbTest: test } = await own.ok(CreateAbTestDocument, { input: twoWay("ab/shutdown") });
    await own.ok(StartAbTestDocument, { id: test.id });
    for (let i = 0; i < 120; i++) await own.ok(ResolvePromptDocument, { name: "ab/shutdown", subjectKey: `k${i % 40}`, variables: { who: "x" } });
    expect(own.app.services.exposures.size).toBe(40);
    await own.close();
    const db = new Database(own.app.config.dbFile, { readonly: true });
    const rows = db.prepare("SELECT COUNT(*) AS subjects, SUM(exposures) AS exposures FROM AbSubject WHERE testId = ?").get(test.id);
    db.close();
    expect(rows).toEqual({ subjects: 40, exposures: 120 });
  });
});

describe("outcomes and results", () => {
  it("attributes outcomes to each subject's variant, counts a conversion once, and reports bad items one by one", async () => {
    const name = await promptWithVersions();
    const { createAbTest: test } = await t.ok(CreateAbTestDocument, { input: twoWay(name) });
    await t.ok(StartAbTestDocument, { id: test.id });
    const served = await resolve(name, "buyer");
    const { recordAbTestOutcomes } = await t.ok(RecordOutcomesDocument, {
      outcomes: [
        { test: test.id, subjectKey: "buyer", converted: true },
        { test: test.id, subjectKey: "buyer", converted: true },
        { test: test.id, subjectKey: "stranger", converted: true },
        { test: test.id, subjectKey: "buyer" },
        { test: "no-such-test", subjectKey: "buyer", converted: true },
      ],
    });
    expect(recordAbTestOutcomes).toEqual([
      { index: 0, ok: true, variantIndex: served.variant!.index, errorCode: null, errorMessage: null },
      { index: 1, ok: true, variantIndex: served.variant!.index, errorCode: null, errorMessage: null },
      expect.objectContaining({ index: 2, ok: false, errorCode: "NOT_FOUND" }),
      expect.objectContaining({ index: 3, ok: false, errorCode: "BAD_USER_INPUT" }),
      expect.objectContaining({ index: 4, ok: false, errorCode: "NOT_FOUND" }),
    ]);
    const { abTestResults } = await t.ok(AbTestResultsDocument, { test: test.id });
    const variant = abTestResults.variants[served.variant!.index]!;
    expect(variant).toMatchObject({ subjects: 1, conversions: 1, rate: 1 });
  });

  it("computes rates, Wilson intervals and the two-proportion test as an independent computation does", async () => {
    const name = await promptWithVersions();
    const { createAbTest: test } = await t.ok(CreateAbTestDocument, { input: twoWay(name) });
    await t.ok(StartAbTestDocument, { id: test.id });
    // 100 subjects per variant (found by serving), 10 and 20 conversions.
    const byVariant: string[][] = [[], []];
    for (let i = 0; byVariant[0]!.length < 100 || byVariant[1]!.length < 100; i++) {
      const key = `r${i}`;
      const index = (await resolve(name, key)).variant!.index;
      if (byVariant[index]!.length < 100) byVariant[index]!.push(key);
    }
    // Subjects served beyond 100 in one arm are kept out of the counts by a fresh test below.
    const outcomes = [...byVariant[0]!.map((k, i) => ({ test: test.id, subjectKey: k, converted: i < 10 })), ...byVariant[1]!.map((k, i) => ({ test: test.id, subjectKey: k, converted: i < 20 }))];
    await t.ok(RecordOutcomesDocument, { outcomes });
    const { abTestResults: r } = await t.ok(AbTestResultsDocument, { test: test.id });
    const [control, treatment] = r.variants;
    // Reference values: python3 statistics.NormalDist (Wilson closed form; pooled z-test).
    if (control!.subjects === 100 && treatment!.subjects === 100) {
      expect(control!.interval!.low).toBeCloseTo(0.0552291370606751, 9);
      expect(control!.interval!.high).toBeCloseTo(0.17436566150491345, 9);
      expect(treatment!.interval!.low).toBeCloseTo(0.1333669333310325, 9);
      expect(r.comparisons[0]!.pValue).toBeCloseTo(0.04767038065616136, 9);
      expect(r.comparisons[0]!.interval!.low).toBeCloseTo(0.002001800772997317, 9);
      expect(r.comparisons[0]!.absoluteLift).toBeCloseTo(0.1, 12);
      expect(r.comparisons[0]!.relativeLift).toBeCloseTo(1, 12);
    } else {
      // The deterministic split put more than 100 in an arm: the counts must still add up.
      expect(control!.conversions).toBe(10);
      expect(treatment!.conversions).toBe(20);
    }
    // p ≈ 0.048 on a single look is not enough for the always-valid p-value: no winner yet.
    expect(r.comparisons[0]!.sequentialPValue).toBeGreaterThan(0.05);
    expect(r.status).toBe("NO_DIFFERENCE_YET");
    expect(r.sampleRatio.mismatch).toBe(false);
  });

  it("declares a certain winner, moves the label with the test as the reason, completes, and pushes live results", async () => {
    const name = await promptWithVersions();
    const { createAbTest: test } = await t.ok(CreateAbTestDocument, { input: twoWay(name, { minSamplePerVariant: 30, autoPromote: true }) });
    await t.ok(StartAbTestDocument, { id: test.id });
    const client = createClient({ url: `ws://127.0.0.1:${await t.app.listen()}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    const updates: AbTestUpdatesSubscription["abTestUpdates"][] = [];
    const stop = client.subscribe<AbTestUpdatesSubscription>(
      { query: print(AbTestUpdatesDocument), variables: { test: test.id } },
      { next: (r) => void (r.data && updates.push(r.data.abTestUpdates)), error: () => undefined, complete: () => undefined },
    );
    try {
      // The current results arrive first: from then on the subscription is live.
      for (let tries = 0; updates.length === 0 && tries < 100; tries++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(updates[0]).toMatchObject({ testId: test.id, status: "INSUFFICIENT_DATA" });
      const outcomes = [];
      for (let i = 0; i < 200; i++) {
        const key = `w${i}`;
        const index = (await resolve(name, key)).variant!.index;
        // The new version converts 60%, the control 10%.
        outcomes.push({ test: test.id, subjectKey: key, converted: index === 1 ? i % 10 < 6 : i % 10 === 0 });
      }
      await t.ok(RecordOutcomesDocument, { outcomes });
      let current = (await t.ok(GetAbTestDocument, { id: test.id })).abTest!;
      for (let tries = 0; current.status !== "COMPLETED" && tries < 100; tries++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        current = (await t.ok(GetAbTestDocument, { id: test.id })).abTest!;
      }
      expect(current).toMatchObject({ status: "COMPLETED", winnerIndex: 1, winnerDecidedBy: "STATISTICS" });
      const labels = await t.ok(LabelsDocument, { name });
      expect(labels.prompt!.labels).toContainEqual(expect.objectContaining({ name: "production", versionNumber: 2 }));
      expect(labels.prompt!.labelHistory.nodes[0]!.reason).toContain(test.id);
      expect((await resolve(name, "after")).text).toBe("v2 Ann");
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(updates.length).toBeGreaterThanOrEqual(2);
      expect(updates.at(-1)).toMatchObject({ status: "WINNER", winner: 1 });
    } finally {
      stop();
      await client.dispose();
    }
  });
});

describe("when things go wrong", () => {
  it("drops the buffered exposures of a deleted test instead of blocking everyone else's", async () => {
    const doomed = await promptWithVersions();
    const kept = await promptWithVersions();
    const a = (await t.ok(CreateAbTestDocument, { input: twoWay(doomed) })).createAbTest;
    const b = (await t.ok(CreateAbTestDocument, { input: twoWay(kept) })).createAbTest;
    await t.ok(StartAbTestDocument, { id: a.id });
    await t.ok(StartAbTestDocument, { id: b.id });
    await t.app.services.exposures.flush();
    await resolve(doomed, "gone-1");
    for (let i = 0; i < 5; i++) await resolve(kept, `kept-${i}`);
    await t.ok(DeletePromptDocument, { prompt: { name: doomed } });
    await t.app.services.exposures.flush();
    expect(t.app.services.exposures.size).toBe(0);
    expect(await t.app.db.abSubject.count({ where: { testId: b.id } })).toBe(5);
  });

  it("keeps an anonymous caller's made-up key on the variant it first got", async () => {
    const name = await promptWithVersions();
    const test = (await t.ok(CreateAbTestDocument, { input: twoWay(name) })).createAbTest;
    await t.ok(StartAbTestDocument, { id: test.id });
    for (let i = 0; i < 20; i++) {
      const first = await resolve(name);
      expect((await resolve(name, first.subjectKey)).variant).toEqual(first.variant);
    }
  });

  it("refuses SCORE values that would overflow the sums, per item", async () => {
    const name = await promptWithVersions();
    const test = (await t.ok(CreateAbTestDocument, { input: twoWay(name, { metric: "SCORE", metricDirection: "LOWER" }) })).createAbTest;
    await t.ok(StartAbTestDocument, { id: test.id });
    await resolve(name, "s1");
    const { recordAbTestOutcomes } = await t.ok(RecordOutcomesDocument, {
      outcomes: [
        { test: test.id, subjectKey: "s1", value: 1e200 },
        { test: test.id, subjectKey: "s1", value: 12.5 },
      ],
    });
    expect(recordAbTestOutcomes.map((r) => [r.ok, r.errorCode])).toEqual([
      [false, "BAD_USER_INPUT"],
      [true, null],
    ]);
    expect((await t.ok(AbTestResultsDocument, { test: test.id })).abTestResults.status).toBe("INSUFFICIENT_DATA");
  });

  it("leaves a test running when its promotion cannot happen", async () => {
    const name = await promptWithVersions();
    const test = (await t.ok(CreateAbTestDocument, { input: twoWay(name) })).createAbTest;
    await t.ok(StartAbTestDocument, { id: test.id });
    await t.ok(ArchivePromptDocument, { prompt: { name } });
    expect(codes(await t.execute(CompleteAbTestDocument, { id: test.id, winner: 1, promote: true }))).toEqual(["FAILED_PRECONDITION"]);
    expect((await t.ok(GetAbTestDocument, { id: test.id })).abTest).toMatchObject({ status: "RUNNING", winnerIndex: null });
  });

  it("serves the label's own version when a variant's label is removed mid-test, counting nothing", async () => {
    const name = await promptWithVersions();
    await t.ok(SetLabelDocument, { input: { prompt: { name }, label: "candidate", version: 3 } });
    // A billion to one: the subject lands on the candidate whatever the random test id hashes it to
    // (at a thousand to one, one run in a thousand put it on the control and failed).
    const test = (await t.ok(CreateAbTestDocument, { input: { ...twoWay(name), variants: [{ version: 1, weight: 1 }, { label: "candidate", weight: 1e9 }] } })).createAbTest;
    await t.ok(StartAbTestDocument, { id: test.id });
    expect((await resolve(name, "c1")).text).toBe("v3 Ann");
    await t.ok(RemoveLabelDocument, { prompt: { name }, label: "candidate" });
    expect(await resolve(name, "c1")).toMatchObject({ text: "v1 Ann", test: null, variant: null });
  });

  it("still sees changes after a burst of events overflows its invalidation subscription", async () => {
    const name = await promptWithVersions();
    expect((await resolve(name)).text).toBe("v1 Ann");
    for (let i = 0; i < 1_500; i++) {
      t.app.bus.publish("prompt.events", { type: "UPDATED", promptId: `burst-${i}`, promptName: `burst/${i}`, versionNumber: 1, occurredAt: new Date().toISOString() });
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    await t.ok(SetLabelDocument, { input: { prompt: { name }, label: "production", version: 2 } });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await resolve(name)).text).toBe("v2 Ann");
  });
});
