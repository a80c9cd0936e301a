import { sqlDate, type SyncSession } from "../../db/sync-writer.js";
import { LatencySketch } from "./latency-sketch.js";

export interface UsageRecord {
  promptId: string;
  versionNumber: number | null;
  label: string | null;
  testId: string | null;
  variantIndex: number | null;
  userId: string | null;
  sessionId: string | null;
  model: string | null;
  latencyMs: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  cost: number | null;
  success: boolean;
  errorCode: string | null;
  occurredAt: Date;
  metadata: string | null;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Uses of one user in one hour, not yet added to UserActivityRollup. */
export interface UserDelta {
  userId: string;
  hour: Date;
  count: number;
}

/** New latency values of one rollup row, not yet merged into its stored histogram. */
export interface SketchDelta {
  promptId: string;
  hour: Date;
  version: number;
  sketch: LatencySketch;
}

export const hourOf = (at: Date) => new Date(Math.floor(at.getTime() / HOUR) * HOUR);
export const dayOf = (at: Date) => new Date(Math.floor(at.getTime() / DAY) * DAY);

interface Totals {
  count: number;
  successCount: number;
  latencyCount: number;
  latencySum: number;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

const zero = (): Totals => ({ count: 0, successCount: 0, latencyCount: 0, latencySum: 0, inputTokens: 0, outputTokens: 0, cost: 0 });

function addTo(t: Totals, e: UsageRecord): void {
  t.count++;
  if (e.success) t.successCount++;
  if (e.latencyMs !== null) {
    t.latencyCount++;
    t.latencySum += e.latencyMs;
  }
  t.inputTokens += e.inputTokens ?? 0;
  t.outputTokens += e.outputTokens ?? 0;
  t.cost += e.cost ?? 0;
}

/**
 * Ingest's statements, run in one SyncWriter transaction per batch: the raw events, and the
 * rollups they change (hourly per prompt version, with a merged latency sketch; daily per
 * prompt; hourly per user). A batch's events are summed in memory first, so a batch of 500
 * events touches a few rollup rows, not 500.
 */
export class UsageWriteRepository {
  /**
   * Stores a batch. The latency histograms are not written here: their deltas are returned,
   * for the SketchBuffer to merge into the rollups about once a second (re-encoding a busy
   * hour's histogram for every batch cost more than the rest of the batch).
   */
  insert(session: SyncSession, events: readonly UsageRecord[]): { sketches: SketchDelta[]; users: UserDelta[] } {
    const raw = session.statement(
      `INSERT INTO UsageEvent (promptId, versionNumber, label, testId, variantIndex, userId, sessionId, model, latencyMs, inputTokens, outputTokens, cost, success, errorCode, occurredAt, metadata)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const hourly = new Map<string, { promptId: string; hour: Date; version: number; totals: Totals; sketch: LatencySketch }>();
    const daily = new Map<string, { promptId: string; day: Date; totals: Totals }>();
    const users = new Map<string, { userId: string; hour: Date; count: number }>();
    // Many events share an hour: format each hour's text once.
    const hourText = new Map<number, string>();
    const textOf = (at: Date) => {
      let text = hourText.get(at.getTime());
      if (text === undefined) hourText.set(at.getTime(), (text = sqlDate(at)));
      return text;
    };
    for (const e of events) {
      raw.run(e.promptId, e.versionNumber, e.label, e.testId, e.variantIndex, e.userId, e.sessionId, e.model, e.latencyMs, e.inputTokens, e.outputTokens, e.cost, e.success ? 1 : 0, e.errorCode, sqlDate(e.occurredAt), e.metadata);
      const hour = hourOf(e.occurredAt);
      const version = e.versionNumber ?? 0;
      const hk = `${e.promptId}\u0000${hour.getTime()}\u0000${version}`;
      let h = hourly.get(hk);
      if (!h) hourly.set(hk, (h = { promptId: e.promptId, hour, version, totals: zero(), sketch: LatencySketch.empty() }));
      addTo(h.totals, e);
      if (e.latencyMs !== null) h.sketch.add(e.latencyMs);
      const day = dayOf(e.occurredAt);
      const dk = `${e.promptId}\u0000${day.getTime()}`;
      let d = daily.get(dk);
      if (!d) daily.set(dk, (d = { promptId: e.promptId, day, totals: zero() }));
      addTo(d.totals, e);
      if (e.userId !== null) {
        const uk = `${e.userId}\u0000${hour.getTime()}`;
        const u = users.get(uk);
        if (u) u.count++;
        else users.set(uk, { userId: e.userId, hour, count: 1 });
      }
    }
    const upsertHour = session.statement(
      `INSERT INTO UsageRollup (hour, promptId, versionNumber, count, successCount, latencyCount, latencySum, inputTokens, outputTokens, cost)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (promptId, hour, versionNumber) DO UPDATE SET
         count = count + excluded.count, successCount = successCount + excluded.successCount,
         latencyCount = latencyCount + excluded.latencyCount, latencySum = latencySum + excluded.latencySum,
         inputTokens = inputTokens + excluded.inputTokens, outputTokens = outputTokens + excluded.outputTokens, cost = cost + excluded.cost`,
    );
    const deltas: SketchDelta[] = [];
    for (const h of hourly.values()) {
      const t = h.totals;
      upsertHour.run(textOf(h.hour), h.promptId, h.version, t.count, t.successCount, t.latencyCount, t.latencySum, t.inputTokens, t.outputTokens, t.cost);
      if (h.sketch.count > 0) deltas.push({ promptId: h.promptId, hour: h.hour, version: h.version, sketch: h.sketch });
    }
    const upsertDay = session.statement(
      `INSERT INTO UsageDaily (day, promptId, count, successCount, latencyCount, latencySum, inputTokens, outputTokens, cost)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (day, promptId) DO UPDATE SET
         count = count + excluded.count, successCount = successCount + excluded.successCount,
         latencyCount = latencyCount + excluded.latencyCount, latencySum = latencySum + excluded.latencySum,
         inputTokens = inputTokens + excluded.inputTokens, outputTokens = outputTokens + excluded.outputTokens, cost = cost + excluded.cost`,
    );
    for (const d of daily.values()) {
      const t = d.totals;
      upsertDay.run(textOf(d.day), d.promptId, t.count, t.successCount, t.latencyCount, t.latencySum, t.inputTokens, t.outputTokens, t.cost);
    }
    return { sketches: deltas, users: [...users.values()] };
  }

  /** Adds uses per user and hour (the deltas of UserActivityRollup). */
  addUserActivity(session: SyncSession, deltas: Iterable<UserDelta>): void {
    const upsert = session.statement(`INSERT INTO UserActivityRollup (hour, userId, count) VALUES (?, ?, ?) ON CONFLICT (hour, userId) DO UPDATE SET count = count + excluded.count`);
    for (const u of deltas) upsert.run(sqlDate(u.hour), u.userId, u.count);
  }

  /** Merges latency histogram deltas into their rollup rows (read, merge, write, in the caller's transaction: no lost update). */
  mergeSketches(session: SyncSession, deltas: Iterable<SketchDelta>): void {
    const read = session.statement(`SELECT sketch FROM UsageSketch WHERE promptId = ? AND hour = ? AND versionNumber = ?`).pluck();
    const write = session.statement(
      `INSERT INTO UsageSketch (sketch, promptId, hour, versionNumber) VALUES (?, ?, ?, ?)
       ON CONFLICT (promptId, hour, versionNumber) DO UPDATE SET sketch = excluded.sketch`,
    );
    for (const d of deltas) {
      const hour = sqlDate(d.hour);
      const stored = read.get(d.promptId, hour, d.version) as Buffer | null | undefined;
      // A copy: should the transaction roll back, the delta is retried as it was.
      const merged = d.sketch.clone();
      if (stored) {
        try {
          merged.mergeEncoded(stored);
        } catch {
          // An unreadable stored histogram must not block every later write: it is replaced.
        }
      }
      write.run(merged.encode(), d.promptId, hour, d.version);
    }
  }

  /** Deletes raw events older than `before`, at most `limit` of them (retention runs in small steps). */
  deleteOlderThan(session: SyncSession, before: Date, limit: number): number {
    return session.statement(`DELETE FROM UsageEvent WHERE id IN (SELECT id FROM UsageEvent WHERE occurredAt < ? ORDER BY occurredAt LIMIT ?)`).run(sqlDate(before), limit).changes;
  }
}
