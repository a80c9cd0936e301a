// Pure shaping of rollup rows into what the analytics queries answer: time buckets, merged
// latency percentiles, rankings with their change against the previous period, the
// hour-of-week grid.
import { LatencySketch } from "./latency-sketch.js";
import type { PromptTotals, RecentEvent, RollupRow } from "./usage.repository.js";

export type Interval = "HOUR" | "DAY" | "WEEK";
const MS: Record<Interval, number> = { HOUR: 3_600_000, DAY: 86_400_000, WEEK: 7 * 86_400_000 };

/** Start of the bucket holding `at` (UTC; weeks start on Monday). */
export function bucketStart(at: Date, interval: Interval): Date {
  if (interval === "WEEK") {
    const day = Math.floor(at.getTime() / MS.DAY);
    // 1970-01-01 was a Thursday: Monday-based weeks start 3 days later in the cycle.
    return new Date((day - ((day + 3) % 7)) * MS.DAY);
  }
  return new Date(Math.floor(at.getTime() / MS[interval]) * MS[interval]);
}

export interface SeriesPoint {
  bucketStart: Date;
  count: number;
  successCount: number;
  successRate: number | null;
  latencyP50: number | null;
  latencyP95: number | null;
  latencyP99: number | null;
  latencyMean: number | null;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

/** Sums of rollup rows or raw events, and the point they make. */
class PointSums {
  readonly sketch = LatencySketch.empty();
  count = 0;
  successCount = 0;
  latencyCount = 0;
  latencySum = 0;
  inputTokens = 0;
  outputTokens = 0;
  cost = 0;

  point(bucket: Date): SeriesPoint {
    return {
      bucketStart: bucket,
      count: this.count,
      successCount: this.successCount,
      successRate: this.count ? this.successCount / this.count : null,
      latencyP50: this.sketch.quantile(0.5),
      latencyP95: this.sketch.quantile(0.95),
      latencyP99: this.sketch.quantile(0.99),
      latencyMean: this.latencyCount ? this.latencySum / this.latencyCount : null,
      inputTokens: this.inputTokens,
      outputTokens: this.outputTokens,
      cost: this.cost,
    };
  }
}

function point(bucket: Date, rows: RollupRow[]): SeriesPoint {
  const sums = new PointSums();
  for (const r of rows) {
    sums.count += r.count;
    sums.successCount += r.successCount;
    sums.latencyCount += r.latencyCount;
    sums.latencySum += r.latencySum;
    sums.inputTokens += r.inputTokens;
    sums.outputTokens += r.outputTokens;
    sums.cost += r.cost;
    if (r.latencySketch) sums.sketch.mergeEncoded(r.latencySketch);
  }
  return sums.point(bucket);
}

/** Hourly rollups grouped into buckets (only buckets with usage), and the whole range as one point. */
export function timeSeries(rows: RollupRow[], interval: Interval): { series: SeriesPoint[]; total: SeriesPoint } {
  const groups = new Map<number, RollupRow[]>();
  for (const r of rows) {
    const key = bucketStart(r.hour, interval).getTime();
    const list = groups.get(key);
    if (list) list.push(r);
    else groups.set(key, [r]);
  }
  const series = [...groups.entries()].sort((a, b) => a[0] - b[0]).map(([key, list]) => point(new Date(key), list));
  return { series, total: point(new Date(0), rows) };
}

/** The rollups per version, as one point each. */
export function perVersion(rows: RollupRow[]): { versionNumber: number; point: SeriesPoint; firstSeen: Date; lastSeen: Date }[] {
  const groups = new Map<number, RollupRow[]>();
  for (const r of rows) groups.set(r.versionNumber, [...(groups.get(r.versionNumber) ?? []), r]);
  return [...groups.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([versionNumber, list]) => ({ versionNumber, point: point(new Date(0), list), firstSeen: list[0]!.hour, lastSeen: list.at(-1)!.hour }));
}

export type RankMetric = "USAGE" | "SUCCESS_RATE" | "LATENCY" | "COST" | "TRENDING";

export interface Ranked {
  rank: number;
  promptId: string;
  value: number;
  previousValue: number | null;
  previousRank: number | null;
  /** value - previousValue. */
  change: number | null;
  /** (value - previousValue) / previousValue. */
  changeRatio: number | null;
  count: number;
}

/** The measure a ranking sorts by, and whether higher ranks first. */
function measure(metric: RankMetric, t: PromptTotals, previous: PromptTotals | undefined): number | null {
  switch (metric) {
    case "USAGE":
      return t.count;
    case "SUCCESS_RATE":
      return t.count ? t.successCount / t.count : null;
    case "LATENCY":
      return t.latencyCount ? t.latencySum / t.latencyCount : null;
    case "COST":
      return t.cost;
    case "TRENDING":
      // Growth in uses against the previous period, damped for small counts.
      return (t.count - (previous?.count ?? 0)) / Math.sqrt((previous?.count ?? 0) + 10);
  }
}

/**
 * Ranks prompts by a metric over a period, with each one's value and rank in the previous period
 * of the same length. LATENCY ranks the slowest first (average latency); the others highest first.
 */
export function rank(metric: RankMetric, current: PromptTotals[], previous: PromptTotals[], first: number): Ranked[] {
  const before = new Map(previous.map((p) => [p.promptId, p]));
  const order = <T extends { promptId: string; value: number }>(list: T[]) => list.sort((a, b) => b.value - a.value || a.promptId.localeCompare(b.promptId));
  const scored = order(
    current.flatMap((t) => {
      const value = measure(metric, t, before.get(t.promptId));
      return value === null ? [] : [{ promptId: t.promptId, value, count: t.count }];
    }),
  );
  const previousScored = metric === "TRENDING" ? [] : order(previous.flatMap((t) => {
    const value = measure(metric, t, undefined);
    return value === null ? [] : [{ promptId: t.promptId, value }];
  }));
  const previousRank = new Map(previousScored.map((p, i) => [p.promptId, { rank: i + 1, value: p.value }]));
  return scored.slice(0, first).map((s, i) => {
    const prev = previousRank.get(s.promptId) ?? null;
    return {
      rank: i + 1,
      promptId: s.promptId,
      value: s.value,
      previousValue: prev?.value ?? null,
      previousRank: prev?.rank ?? null,
      change: prev ? s.value - prev.value : null,
      changeRatio: prev && prev.value !== 0 ? (s.value - prev.value) / prev.value : null,
      count: s.count,
    };
  });
}

export interface ActivitySummary {
  activeUsers: { bucketStart: Date; users: number }[];
  topUsers: { userId: string; count: number }[];
  /** grid[weekday][hour]: uses, weekday 0 = Monday, hours in UTC. */
  hourOfWeek: number[][];
  totalUsers: number;
}

export function activity(rows: { hour: Date; userId: string; count: number }[], interval: Interval, top: number): ActivitySummary {
  const perBucket = new Map<number, Set<string>>();
  const perUser = new Map<string, number>();
  const grid = Array.from({ length: 7 }, () => Array.from({ length: 24 }, () => 0));
  for (const r of rows) {
    const key = bucketStart(r.hour, interval).getTime();
    (perBucket.get(key) ?? perBucket.set(key, new Set()).get(key)!).add(r.userId);
    perUser.set(r.userId, (perUser.get(r.userId) ?? 0) + r.count);
    const weekday = (r.hour.getUTCDay() + 6) % 7;
    grid[weekday]![r.hour.getUTCHours()]! += r.count;
  }
  return {
    activeUsers: [...perBucket.entries()].sort((a, b) => a[0] - b[0]).map(([key, users]) => ({ bucketStart: new Date(key), users: users.size })),
    topUsers: [...perUser.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, top).map(([userId, count]) => ({ userId, count })),
    hourOfWeek: grid,
    totalUsers: perUser.size,
  };
}

/** Raw events as one point (live counters). */
export function pointOfEvents(events: readonly RecentEvent[], bucket: Date): SeriesPoint {
  const sums = new PointSums();
  for (const e of events) {
    sums.count++;
    if (e.success) sums.successCount++;
    if (e.latencyMs !== null) {
      sums.latencyCount++;
      sums.latencySum += e.latencyMs;
      sums.sketch.add(e.latencyMs);
    }
    sums.inputTokens += e.inputTokens ?? 0;
    sums.outputTokens += e.outputTokens ?? 0;
    sums.cost += e.cost ?? 0;
  }
  return sums.point(bucket);
}
