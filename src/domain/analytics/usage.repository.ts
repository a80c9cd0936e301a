import type { Db } from "../../db/client.js";

export interface RollupRow {
  hour: Date;
  versionNumber: number;
  count: number;
  successCount: number;
  latencyCount: number;
  latencySum: number;
  latencySketch: Uint8Array | null;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

export interface PromptTotals {
  promptId: string;
  count: number;
  successCount: number;
  latencyCount: number;
  latencySum: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

export interface SeriesTotals extends Omit<PromptTotals, "promptId"> {
  bucket: Date;
  prompts: number;
}

export interface RecentEvent {
  success: boolean;
  latencyMs: number | null;
  occurredAt: Date;
  inputTokens: number | null;
  outputTokens: number | null;
  cost: number | null;
}

const num = (v: unknown) => (v === null || v === undefined ? 0 : Number(v));

/** Analytics reads: the rollups (hourly per version, daily per prompt, hourly per user) and recent raw events. */
export class UsageRepository {
  constructor(private readonly db: Db) {}

  /** A prompt's hourly rollups in [from, to), optionally of one version. */
  async hourly(promptId: string, from: Date, to: Date, version: number | null): Promise<RollupRow[]> {
    const where = { promptId, hour: { gte: from, lt: to }, ...(version !== null && { versionNumber: version }) };
    const [rows, sketches] = await Promise.all([
      this.db.usageRollup.findMany({
        where,
        orderBy: { hour: "asc" },
        select: { hour: true, versionNumber: true, count: true, successCount: true, latencyCount: true, latencySum: true, inputTokens: true, outputTokens: true, cost: true },
      }),
      this.db.usageSketch.findMany({ where, select: { hour: true, versionNumber: true, sketch: true } }),
    ]);
    const byKey = new Map(sketches.map((s) => [`${s.hour.getTime()}:${s.versionNumber}`, s.sketch]));
    return rows.map((r) => ({ ...r, latencySketch: byKey.get(`${r.hour.getTime()}:${r.versionNumber}`) ?? null }));
  }

  /** Totals per prompt over the days in [from, to) (rankings). */
  async perPrompt(from: Date, to: Date): Promise<PromptTotals[]> {
    const rows = await this.db.$queryRaw<Record<string, unknown>[]>`
      SELECT promptId, SUM(count) AS count, SUM(successCount) AS successCount, SUM(latencyCount) AS latencyCount, SUM(latencySum) AS latencySum,
             SUM(inputTokens) AS inputTokens, SUM(outputTokens) AS outputTokens, SUM(cost) AS cost
      FROM UsageDaily WHERE day >= ${from} AND day < ${to} GROUP BY promptId`;
    return rows.map((r) => ({
      promptId: String(r.promptId),
      count: num(r.count),
      successCount: num(r.successCount),
      latencyCount: num(r.latencyCount),
      latencySum: num(r.latencySum),
      inputTokens: num(r.inputTokens),
      outputTokens: num(r.outputTokens),
      cost: num(r.cost),
    }));
  }

  /** Totals over all prompts per day (from the daily rollups) or per hour (from the hourly ones). */
  async series(from: Date, to: Date, interval: "HOUR" | "DAY"): Promise<SeriesTotals[]> {
    const rows =
      interval === "DAY"
        ? await this.db.$queryRaw<Record<string, unknown>[]>`
            SELECT day AS bucket, COUNT(DISTINCT promptId) AS prompts, SUM(count) AS count, SUM(successCount) AS successCount, SUM(latencyCount) AS latencyCount,
                   SUM(latencySum) AS latencySum, SUM(inputTokens) AS inputTokens, SUM(outputTokens) AS outputTokens, SUM(cost) AS cost
            FROM UsageDaily WHERE day >= ${from} AND day < ${to} GROUP BY day ORDER BY day`
        : await this.db.$queryRaw<Record<string, unknown>[]>`
            SELECT hour AS bucket, COUNT(DISTINCT promptId) AS prompts, SUM(count) AS count, SUM(successCount) AS successCount, SUM(latencyCount) AS latencyCount,
                   SUM(latencySum) AS latencySum, SUM(inputTokens) AS inputTokens, SUM(outputTokens) AS outputTokens, SUM(cost) AS cost
            FROM UsageRollup WHERE hour >= ${from} AND hour < ${to} GROUP BY hour ORDER BY hour`;
    return rows.map((r) => ({
      bucket: new Date(String(r.bucket)),
      prompts: num(r.prompts),
      count: num(r.count),
      successCount: num(r.successCount),
      latencyCount: num(r.latencyCount),
      latencySum: num(r.latencySum),
      inputTokens: num(r.inputTokens),
      outputTokens: num(r.outputTokens),
      cost: num(r.cost),
    }));
  }

  userActivity(from: Date, to: Date): Promise<{ hour: Date; userId: string; count: number }[]> {
    return this.db.userActivityRollup.findMany({ where: { hour: { gte: from, lt: to } }, select: { hour: true, userId: true, count: true } });
  }

  /** Recent raw events of a prompt (live counters), newest first, at most `limit`. */
  recent(promptId: string, since: Date, limit: number): Promise<RecentEvent[]> {
    return this.db.usageEvent.findMany({
      where: { promptId, occurredAt: { gte: since } },
      orderBy: { occurredAt: "desc" },
      take: limit,
      select: { success: true, latencyMs: true, occurredAt: true, inputTokens: true, outputTokens: true, cost: true },
    });
  }

  /** Raw events stored, and those (and the failed ones) since `since`. */
  async eventCounts(since: Date): Promise<{ total: number; recent: number; recentErrors: number }> {
    const [total, recent, recentErrors] = await Promise.all([
      this.db.usageEvent.count(),
      this.db.usageEvent.count({ where: { occurredAt: { gte: since } } }),
      this.db.usageEvent.count({ where: { occurredAt: { gte: since }, success: false } }),
    ]);
    return { total, recent, recentErrors };
  }

  async databaseBytes(): Promise<number> {
    const [pages] = await this.db.$queryRawUnsafe<{ page_count: bigint | number }[]>("PRAGMA page_count");
    const [size] = await this.db.$queryRawUnsafe<{ page_size: bigint | number }[]>("PRAGMA page_size");
    return Number(pages?.page_count ?? 0) * Number(size?.page_size ?? 0);
  }
}
