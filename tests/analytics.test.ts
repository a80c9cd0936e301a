// Usage analytics through GraphQL: ingest with per-event errors, rollup-based queries checked
// against values computed from the raw data, rankings with change, user activity, system
// health, retention, and live counters over graphql-ws.
import { print } from "graphql";
import { createClient } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  CreatePromptDocument,
  DeletePromptDocument,
  PromptAnalyticsDocument,
  PromptAnalyticsUpdatesDocument,
  RecordUsageDocument,
  SystemHealthDocument,
  TopPromptsDocument,
  UpdatePromptDocument,
  UsageTrendsDocument,
  UserActivityDocument,
  VersionComparisonDocument,
  type PromptAnalyticsUpdatesSubscription,
  type UsageEventInput,
} from "./generated/operations.js";
import { codes, createTestApp, type TestApp } from "./helpers/app.js";
import Database from "better-sqlite3";
import { LatencySketch } from "../src/domain/analytics/latency-sketch.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp({ usage: { maxBatch: 500, retentionDays: 30 } });
  for (const name of ["an/a", "an/b", "an/c"]) await t.ok(CreatePromptDocument, { input: { name, content: "v1" } });
  await t.ok(UpdatePromptDocument, { prompt: { name: "an/a" }, input: { content: "v2" } });
});
afterAll(() => t.close());

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** A fixed Monday 00:00 UTC, a few days ago, so everything is in the past. */
const base = (() => {
  const today = Math.floor(Date.now() / DAY) * DAY;
  const day = today / DAY;
  return new Date((day - ((day + 3) % 7) - 7) * DAY); // the Monday of last week
})();
const at = (hours: number) => new Date(base.getTime() + hours * HOUR).toISOString();

async function record(events: UsageEventInput[]) {
  for (let i = 0; i < events.length; i += 500) {
    const { recordUsage } = await t.ok(RecordUsageDocument, { events: events.slice(i, i + 500) });
    expect(recordUsage.errors).toEqual([]);
  }
}

describe("ingest", () => {
  it("stores the good events and reports each bad one by index and field", async () => {
    const { recordUsage } = await t.ok(RecordUsageDocument, {
      events: [
        { prompt: { name: "an/c" }, latencyMs: 10, timestamp: at(200) },
        { prompt: { name: "an/none" } },
        { prompt: { name: "an/c" }, latencyMs: -1 },
        { prompt: { name: "an/c" }, version: 7 },
        { prompt: { name: "an/c", id: "x" } },
        { prompt: { name: "an/c" }, timestamp: new Date(Date.now() + DAY).toISOString() },
        { prompt: { name: "an/c" }, inputTokens: -3 },
        { prompt: { name: "an/c" }, metadata: { blob: "x".repeat(5_000) } },
        { prompt: { name: "an/c" }, errorCode: "timeout", latencyMs: 30_000, timestamp: at(200) },
      ],
    });
    expect(recordUsage.accepted).toBe(2);
    expect(recordUsage.errors.map((e) => [e.index, e.code, e.field])).toEqual([
      [1, "NOT_FOUND", "prompt"],
      [2, "BAD_USER_INPUT", "latencyMs"],
      [3, "NOT_FOUND", "version"],
      [4, "BAD_USER_INPUT", "prompt"],
      [5, "BAD_USER_INPUT", "timestamp"],
      [6, "BAD_USER_INPUT", "inputTokens"],
      [7, "BAD_USER_INPUT", "metadata"],
    ]);
    const { promptAnalytics } = await t.ok(PromptAnalyticsDocument, { prompt: { name: "an/c" }, from: at(190), to: at(210), interval: "HOUR" });
    expect(promptAnalytics.total).toMatchObject({ count: 2, successRate: 0.5 });
  });

  it("refuses a batch over the limit before storing anything", async () => {
    const before = await t.app.db.usageEvent.count();
    const result = await t.execute(RecordUsageDocument, { events: Array.from({ length: 501 }, () => ({ prompt: { name: "an/c" } })) });
    expect(codes(result)).toEqual(["BAD_USER_INPUT"]);
    expect(await t.app.db.usageEvent.count()).toBe(before);
  });
});

describe("queries", () => {
  // an/a: 3 days x 100 events on version 1 then 2; latencies 1..100 ms; every 10th fails.
  const latencies = Array.from({ length: 100 }, (_, i) => i + 1);
  beforeAll(async () => {
    const events: UsageEventInput[] = [];
    for (let day = 0; day < 3; day++) {
      for (const [i, latencyMs] of latencies.entries()) {
        events.push({
          prompt: { name: "an/a" },
          version: day < 2 ? 1 : 2,
          latencyMs,
          inputTokens: 10,
          outputTokens: 5,
          cost: 0.01,
          success: i % 10 !== 0,
          user: `user-${i % 7}`,
          timestamp: at(day * 24 + 10 + (i % 3)),
        });
      }
    }
    // Previous week: an/b was busier; this week an/a leads.
    for (let i = 0; i < 50; i++) events.push({ prompt: { name: "an/b" }, latencyMs: 500, cost: 1, timestamp: at(-24 * 3 + 5) });
    for (let i = 0; i < 20; i++) events.push({ prompt: { name: "an/b" }, latencyMs: 400, cost: 1, timestamp: at(24 + 5) });
    await record(events);
  });

  it("gives a time series with percentiles from merged sketches, and totals", async () => {
    const { promptAnalytics: daily } = await t.ok(PromptAnalyticsDocument, { prompt: { name: "an/a" }, from: at(0), to: at(72), interval: "DAY" });
    expect(daily.series).toHaveLength(3);
    for (const point of daily.series) {
      expect(point).toMatchObject({ count: 100, successRate: 0.9, inputTokens: 1000, outputTokens: 500 });
      expect(point.cost).toBeCloseTo(1, 9);
      // Exact quantiles of 1..100 at positions floor(q * 99): 50, 95, 99; within the sketch's 1%.
      expect(Math.abs(point.latencyP50! - 50) / 50).toBeLessThanOrEqual(0.01);
      expect(Math.abs(point.latencyP95! - 95) / 95).toBeLessThanOrEqual(0.01);
      expect(Math.abs(point.latencyP99! - 99) / 99).toBeLessThanOrEqual(0.01);
      expect(point.latencyMean).toBeCloseTo(50.5, 9);
    }
    expect(daily.total.count).toBe(300);
    const { promptAnalytics: hourly } = await t.ok(PromptAnalyticsDocument, { prompt: { name: "an/a" }, from: at(0), to: at(24), interval: "HOUR" });
    expect(hourly.series.map((p) => [p.bucketStart, p.count])).toEqual([
      [at(10), 34],
      [at(11), 33],
      [at(12), 33],
    ]);
    const { promptAnalytics: v2 } = await t.ok(PromptAnalyticsDocument, { prompt: { name: "an/a" }, from: at(0), to: at(72), version: 2 });
    expect(v2.total.count).toBe(100);
    // Asked again: the same answer, from the cache this time.
    const hits = t.app.services.cache.stats().l1.hits;
    expect((await t.ok(PromptAnalyticsDocument, { prompt: { name: "an/a" }, from: at(0), to: at(72), interval: "DAY" })).promptAnalytics).toEqual(daily);
    expect(t.app.services.cache.stats().l1.hits).toBe(hits + 1);
  });

  it("compares versions", async () => {
    const { versionComparison } = await t.ok(VersionComparisonDocument, { prompt: { name: "an/a" }, from: at(0), to: at(72) });
    expect(versionComparison.versions.map((v) => [v.versionNumber, v.usage.count, v.firstSeen])).toEqual([
      [2, 100, at(58)],
      [1, 200, at(10)],
    ]);
  });

  it("ranks prompts with their change against the previous period", async () => {
    const week = { from: at(0), to: at(24 * 7) };
    const usage = (await t.ok(TopPromptsDocument, { metric: "USAGE", ...week })).topPrompts;
    expect(usage.map((r) => [r.rank, r.prompt.name, r.value, r.previousRank, r.change])).toEqual([
      [1, "an/a", 300, null, null],
      [2, "an/b", 20, 1, -30],
    ]);
    expect(usage[1]!.changeRatio).toBeCloseTo(-0.6, 12);
    const latency = (await t.ok(TopPromptsDocument, { metric: "LATENCY", ...week })).topPrompts;
    expect(latency.map((r) => [r.prompt.name, r.value])).toEqual([
      ["an/b", 400],
      ["an/a", 50.5],
    ]);
    const cost = (await t.ok(TopPromptsDocument, { metric: "COST", ...week, first: 1 })).topPrompts;
    expect(cost.map((r) => r.prompt.name)).toEqual(["an/b"]);
    const trending = (await t.ok(TopPromptsDocument, { metric: "TRENDING", ...week })).topPrompts;
    expect(trending[0]!.prompt.name).toBe("an/a");
    expect(codes(await t.execute(TopPromptsDocument, { metric: "USAGE", first: 0 }))).toEqual(["BAD_USER_INPUT"]);
  });

  it("ranks whole UTC days, refuses oversized hourly ranges, and never serves a deleted prompt from a cached ranking", async () => {
    // 19:00-21:00 of the second day: rankings cover the whole day (an/a 100, an/b 20).
    const partial = (await t.ok(TopPromptsDocument, { metric: "USAGE", from: at(24 + 19), to: at(24 + 21) })).topPrompts;
    expect(partial.map((r) => [r.prompt.name, r.value])).toEqual([
      ["an/a", 100],
      ["an/b", 20],
    ]);
    expect(codes(await t.execute(PromptAnalyticsDocument, { prompt: { name: "an/a" }, from: at(0), to: at(24 * 40), interval: "HOUR" }))).toEqual(["BAD_USER_INPUT"]);
    await t.ok(CreatePromptDocument, { input: { name: "an/gone", content: "x" } });
    await record([{ prompt: { name: "an/gone" }, timestamp: at(24 * 5 + 1) }]);
    const before = (await t.ok(TopPromptsDocument, { metric: "USAGE", from: at(24 * 5), to: at(24 * 6), first: 5 })).topPrompts;
    expect(before.map((r) => r.prompt.name)).toContain("an/gone");
    await t.ok(DeletePromptDocument, { prompt: { name: "an/gone" } });
    const after = await t.execute(TopPromptsDocument, { metric: "USAGE", from: at(24 * 5), to: at(24 * 6), first: 5 });
    expect(after.errors).toBeUndefined();
    expect(after.data!.topPrompts.map((r) => r.prompt.name)).not.toContain("an/gone");
  });

  it("shows trends across prompts and user activity", async () => {
    const trends = (await t.ok(UsageTrendsDocument, { from: at(0), to: at(72), interval: "DAY" })).usageTrends;
    expect(trends.map((p) => [p.bucketStart, p.count, p.activePrompts])).toEqual([
      [at(0), 100, 1],
      [at(24), 120, 2],
      [at(48), 100, 1],
    ]);
    const { userActivity } = await t.ok(UserActivityDocument, { from: at(0), to: at(72), top: 2 });
    expect(userActivity.totalUsers).toBe(7);
    expect(userActivity.activeUsers.map((p) => p.users)).toEqual([7, 7, 7]);
    // user-0 .. user-1 have 15 uses a day (i % 7 of 0..99), the others 14.
    expect(userActivity.topUsers).toEqual([
      { userId: "user-0", count: 45 },
      { userId: "user-1", count: 45 },
    ]);
    // Monday (row 0) 10:00-12:59 UTC of the first day, plus Tuesday and Wednesday.
    expect(userActivity.hourOfWeek[0]!.slice(10, 13)).toEqual([34, 33, 33]);
    expect(userActivity.hourOfWeek[1]!.slice(10, 13)).toEqual([34, 33, 33]);
    expect(userActivity.hourOfWeek.flat().reduce((a, b) => a + b, 0)).toBe(300);
  });

  it("keeps the rollups when retention deletes old raw events", async () => {
    const before = await t.app.db.usageEvent.count();
    // As if it were 40 days later: everything here is past the 30-day retention.
    const deleted = await t.app.services.retention.runOnce(new Date(Date.now() + 40 * DAY));
    expect(deleted).toBe(before);
    expect(await t.app.db.usageEvent.count()).toBe(0);
    const { promptAnalytics } = await t.ok(PromptAnalyticsDocument, { prompt: { name: "an/a" }, from: at(0), to: at(72) });
    expect(promptAnalytics.total.count).toBe(300);
  });
});

describe("latency histograms", () => {
  it("and user activity are merged in memory and written on a graceful shutdown, none lost", async () => {
    const own = await createTestApp();
    await own.ok(CreatePromptDocument, { input: { name: "an/hist", content: "x" } });
    const events = Array.from({ length: 300 }, (_, i) => ({ prompt: { name: "an/hist" }, latencyMs: i + 1, user: `u${i % 3}`, timestamp: at(5) }));
    for (let i = 0; i < 3; i++) await own.ok(RecordUsageDocument, { events: events.slice(i * 100, i * 100 + 100) });
    expect(own.app.services.usageBuffers.sketches.size).toBe(1);
    await own.close();
    const db = new Database(own.app.config.dbFile, { readonly: true });
    const row = db.prepare("SELECT r.count, r.latencyCount, s.sketch AS latencySketch FROM UsageRollup r JOIN UsageSketch s USING (promptId, hour, versionNumber)").get() as { count: number; latencyCount: number; latencySketch: Buffer };
    db.close();
    expect(row).toMatchObject({ count: 300, latencyCount: 300 });
    const users = new Database(own.app.config.dbFile, { readonly: true });
    expect(users.prepare("SELECT userId, count FROM UserActivityRollup ORDER BY userId").all()).toEqual([
      { userId: "u0", count: 100 },
      { userId: "u1", count: 100 },
      { userId: "u2", count: 100 },
    ]);
    users.close();
    const sketch = LatencySketch.decode(row.latencySketch);
    expect(sketch.count).toBe(300);
    expect(Math.abs(sketch.quantile(0.5)! - 150) / 150).toBeLessThanOrEqual(0.01);
  });
});

describe("health and live counters", () => {
  it("reports system health", async () => {
    const { systemHealth } = await t.ok(SystemHealthDocument);
    expect(systemHealth.databaseBytes).toBeGreaterThan(0);
    expect(systemHealth.bulkQueueDepth).toBe(0);
    expect(systemHealth.memory.rssBytes).toBeGreaterThan(10_000_000);
    expect(systemHealth.redis).toBeNull();
    expect(systemHealth.uptimeSeconds).toBeGreaterThanOrEqual(0);
  });

  it("pushes a prompt's last-minute and last-hour counters as usage arrives", async () => {
    const client = createClient({ url: `ws://127.0.0.1:${await t.app.listen()}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
    const seen: PromptAnalyticsUpdatesSubscription["promptAnalyticsUpdates"][] = [];
    const stop = client.subscribe<PromptAnalyticsUpdatesSubscription>(
      { query: print(PromptAnalyticsUpdatesDocument), variables: { prompt: { name: "an/c" } } },
      { next: (r) => void (r.data && seen.push(r.data.promptAnalyticsUpdates)), error: () => undefined, complete: () => undefined },
    );
    try {
      for (let i = 0; seen.length === 0 && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      const start = seen[0]!.lastMinute.count;
      await record([
        { prompt: { name: "an/c" }, latencyMs: 100 },
        { prompt: { name: "an/c" }, latencyMs: 300, success: false },
      ]);
      for (let i = 0; seen.at(-1)!.lastMinute.count < start + 2 && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(seen.at(-1)!.lastMinute).toMatchObject({ count: start + 2 });
      expect(seen.at(-1)!.lastHour.count).toBeGreaterThanOrEqual(start + 2);
      // A burst of notices overflows the stream's queue: it listens again instead of ending.
      const prompt = await t.app.db.prompt.findUniqueOrThrow({ where: { name: "an/c" } });
      for (let i = 0; i < 1_500; i++) t.app.bus.publish("usage.recorded", { promptIds: [prompt.id], count: 0 });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await record([{ prompt: { name: "an/c" }, latencyMs: 5 }]);
      for (let i = 0; seen.at(-1)!.lastMinute.count < start + 3 && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      expect(seen.at(-1)!.lastMinute.count).toBe(start + 3);
    } finally {
      stop();
      await client.dispose();
    }
  });
});
