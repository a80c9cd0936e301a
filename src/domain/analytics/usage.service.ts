import { AppError, badInput, type ErrorCode } from "../../errors.js";
import type { SyncWriter } from "../../db/sync-writer.js";
import type { Cache } from "../../cache/cache.js";
import type { EventBus } from "../../subscriptions/pubsub.js";
import type { PromptRef } from "../prompts/prompt.commands.js";
import type { PromptRecord } from "../prompts/prompt.repository.js";
import type { PromptService } from "../prompts/prompt.service.js";
import { closing } from "../../subscriptions/replay.js";
import { activity, perVersion, pointOfEvents, rank, timeSeries, type Interval, type RankMetric, type SeriesPoint } from "./analytics.logic.js";
import type { UsageRecord, UsageWriteRepository } from "./usage-write.repository.js";
import type { DeltaBuffer } from "../shared/delta.buffer.js";
import type { SketchDelta, UserDelta } from "./usage-write.repository.js";
import type { UsageRepository } from "./usage.repository.js";

export interface UsageEventInput {
  prompt: PromptRef;
  version?: number | null;
  label?: string | null;
  test?: string | null;
  variant?: number | null;
  user?: string | null;
  session?: string | null;
  model?: string | null;
  latencyMs?: number | null;
  inputTokens?: number | null;
  outputTokens?: number | null;
  cost?: number | null;
  success?: boolean | null;
  errorCode?: string | null;
  timestamp?: Date | string | null;
  metadata?: Record<string, unknown> | null;
}

export interface UsageLimits {
  /** Most events in one recordUsage call. */
  maxBatch: number;
}

const TEXT_MAX = 200;
const HOUR = 3_600_000;
/** HOUR buckets over longer ranges make answers of thousands of points. */
const MAX_HOURLY_DAYS = 31;
/** userActivity reads every (hour, user) row of its range. */
const MAX_ACTIVITY_DAYS = 92;
/** Larger analytics answers are not cached (they would push serving entries out of memory). */
const MAX_CACHED_ANSWER = 256 * 1024;
/** Distinct prompt names per ingest call looked up one by one in the serving cache. */
const MAX_CACHED_NAMES = 300;
export const ANALYTICS_TTL_MS = 10_000;
const METADATA_MAX = 4_096;
const DAY = 86_400_000;
const MAX_RANGE_DAYS = 400;

export interface RecordUsageResult {
  accepted: number;
  errors: { index: number; code: ErrorCode; field: string; message: string }[];
}

/** Usage analytics: ingest (validated per event, stored in one transaction per call) and queries over the rollups. */
export class UsageService {
  constructor(
    private readonly reads: UsageRepository,
    private readonly writes: UsageWriteRepository,
    private readonly writer: SyncWriter,
    private readonly prompts: PromptService,
    private readonly bus: EventBus,
    private readonly limits: UsageLimits,
    private readonly cache?: Cache,
    /** Prompts by name from memory (the serving cache): ingest names the same few prompts over and over. */
    private readonly byName?: (name: string) => Promise<PromptRecord | null>,
    /** Where the deltas of the busiest rollups wait to be written (latency histograms, user activity). */
    private readonly buffers?: UsageBuffers,
  ) {}

  /**
   * Analytics answers go through the app's cache for ANALYTICS_TTL_MS: a dashboard refreshing
   * (on several instances) computes each answer once per interval; an answer is at most that old.
   */
  private async cached<T>(query: string, args: unknown, load: () => Promise<T>): Promise<T> {
    if (!this.cache) return load();
    const key = `analytics:${query}:${JSON.stringify(args)}`;
    const hit = await this.cache.get<T>(key);
    if (hit !== undefined) return hit;
    const value = await load();
    // Answers are numbers and ids only (prompts are looked up afterwards, so a change to a prompt is never served stale).
    if (JSON.stringify(value).length <= MAX_CACHED_ANSWER) this.cache.set(key, value, { ttlMs: ANALYTICS_TTL_MS, tags: ["analytics"] });
    return value;
  }

  async record(inputs: UsageEventInput[]): Promise<RecordUsageResult> {
    if (inputs.length > this.limits.maxBatch) throw badInput("events", `at most ${this.limits.maxBatch} events per call (got ${inputs.length})`);
    const found = await this.findPrompts(inputs.map((e) => e.prompt ?? {}));
    const errors: RecordUsageResult["errors"] = [];
    const good: UsageRecord[] = [];
    const now = Date.now();
    inputs.forEach((input, index) => {
      try {
        good.push(toRecord(input, found, now));
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        errors.push({ index, code: error.code, field: String(error.details.field ?? "events"), message: error.message });
      }
    });
    if (good.length > 0) {
      const deltas = await this.writer.transaction((session) => this.writes.insert(session, good));
      if (this.buffers) {
        this.buffers.sketches.add(deltas.sketches);
        this.buffers.users.add(deltas.users);
      } else {
        await this.writer.transaction((session) => {
          this.writes.mergeSketches(session, deltas.sketches);
          this.writes.addUserActivity(session, deltas.users);
        });
      }
      this.bus.publish("usage.recorded", { promptIds: [...new Set(good.map((e) => e.promptId))], count: good.length });
    }
    return { accepted: good.length, errors };
  }

  private async findPrompts(refs: PromptRef[]): Promise<{ byId: Map<string, PromptRecord>; byName: Map<string, PromptRecord> }> {
    const names = [...new Set(refs.flatMap((r) => (!r.id && r.name ? [r.name.trim()] : [])))].filter((n) => n.length <= TEXT_MAX);
    // Many distinct names (unknown ones are not cached) go to the database in one query instead.
    if (!this.byName || names.length > MAX_CACHED_NAMES) return this.prompts.lookup(refs);
    const ids = refs.filter((r) => r.id);
    const [byIds, named] = await Promise.all([
      ids.length ? this.prompts.lookup(ids) : { byId: new Map<string, PromptRecord>() },
      Promise.all(names.map(async (name) => [name, await this.byName!(name)] as const)),
    ]);
    return { byId: byIds.byId, byName: new Map(named.flatMap(([name, prompt]) => (prompt ? [[name, prompt] as const] : []))) };
  }

  async promptAnalytics(ref: PromptRef, fromTo: { from?: Date | null; to?: Date | null }, interval: Interval, version: number | null) {
    const prompt = await this.prompts.get(ref);
    // Rollups are hourly: the range is widened to whole hours (and the cache key follows it).
    const { from, to } = aligned(range(fromTo, 30), HOUR);
    if (interval === "HOUR" && to.getTime() - from.getTime() > MAX_HOURLY_DAYS * DAY) {
      throw badInput("interval", `HOUR buckets cover at most ${MAX_HOURLY_DAYS} days; use DAY or WEEK for longer ranges`);
    }
    const result = await this.cached("prompt", [prompt.id, from, to, interval, version], async () => {
      await this.buffers?.sketches.flush();
      const { series, total } = timeSeries(await this.reads.hourly(prompt.id, from, to, version), interval);
      return { series, total };
    });
    return { prompt, from, to, interval, series: result.series.map(revivePoint), total: revivePoint(result.total) };
  }

  async versionComparison(ref: PromptRef, fromTo: { from?: Date | null; to?: Date | null }) {
    const prompt = await this.prompts.get(ref);
    const { from, to } = range(fromTo, 30);
    await this.buffers?.sketches.flush();
    return { prompt, from, to, versions: perVersion(await this.reads.hourly(prompt.id, from, to, null)) };
  }

  /** Rankings read the daily rollups: the range is widened to whole UTC days, and the previous period has the same length. */
  async topPrompts(metric: RankMetric, fromTo: { from?: Date | null; to?: Date | null }, first: number) {
    if (!Number.isInteger(first) || first < 1 || first > 200) throw badInput("first", "first must be an integer from 1 to 200");
    const { from, to } = aligned(range(fromTo, 7), DAY);
    const ranked = await this.cached("top", [metric, from, to, first], async () => {
      const length = to.getTime() - from.getTime();
      const [current, previous] = await Promise.all([this.reads.perPrompt(from, to), this.reads.perPrompt(new Date(from.getTime() - length), from)]);
      return rank(metric, current, previous, first);
    });
    // Prompts are looked up fresh: a renamed or deleted prompt is never served from the cached ranking.
    const prompts = (await this.prompts.lookup(ranked.map((r) => ({ id: r.promptId })))).byId;
    return { from, to, metric, entries: ranked.flatMap((r) => (prompts.has(r.promptId) ? [{ ...r, prompt: prompts.get(r.promptId)! }] : [])) };
  }

  /** Trends read whole buckets: the range is widened to whole UTC days (DAY) or hours (HOUR). */
  async usageTrends(fromTo: { from?: Date | null; to?: Date | null }, interval: "HOUR" | "DAY") {
    const { from, to } = aligned(range(fromTo, 30), interval === "DAY" ? DAY : HOUR);
    if (interval === "HOUR" && to.getTime() - from.getTime() > MAX_HOURLY_DAYS * DAY) {
      throw badInput("interval", `HOUR buckets cover at most ${MAX_HOURLY_DAYS} days; use DAY for longer ranges`);
    }
    const rows = await this.reads.series(from, to, interval);
    return {
      from,
      to,
      interval,
      series: rows.map((r) => ({
        bucketStart: r.bucket,
        count: r.count,
        activePrompts: r.prompts,
        successRate: r.count ? r.successCount / r.count : null,
        latencyMean: r.latencyCount ? r.latencySum / r.latencyCount : null,
        inputTokens: r.inputTokens,
        outputTokens: r.outputTokens,
        cost: r.cost,
      })),
    };
  }

  /** Requests, success rate and latency percentiles of the last minute and hour, from the raw events. */
  async live(ref: PromptRef): Promise<LiveCounters> {
    const prompt = await this.prompts.get(ref);
    return this.liveOf(prompt.id);
  }

  /** The live counters now, then again after new usage of the prompt, at most every `intervalMs`. */
  async liveUpdates(ref: PromptRef, intervalMs = 250): Promise<AsyncIterable<LiveCounters>> {
    const prompt = await this.prompts.get(ref);
    const listen = () => this.bus.subscribe("usage.recorded", (e) => e.promptIds.includes(prompt.id));
    let events = listen();
    const stream = async function* (this: UsageService) {
      yield await this.liveOf(prompt.id);
      let last = Date.now();
      for (;;) {
        const next = await events.next();
        if (next.done) {
          // A burst filled the queue: the notices only say "something changed", so listen again and recompute.
          if (!events.overflowed) return;
          events = listen();
        }
        const wait = last + intervalMs - Date.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        // Whatever arrived while waiting is in this computation: skip those notices.
        while (events.pending > 0) await events.next();
        last = Date.now();
        yield await this.liveOf(prompt.id);
      }
    }.call(this);
    return closing(stream, () => events.return());
  }

  private async liveOf(promptId: string): Promise<LiveCounters> {
    const now = new Date();
    const hourAgo = new Date(now.getTime() - 3_600_000);
    const minuteAgo = new Date(now.getTime() - 60_000);
    const events = await this.reads.recent(promptId, hourAgo, LIVE_LIMIT);
    return {
      promptId,
      lastMinute: pointOfEvents(events.filter((e) => e.occurredAt >= minuteAgo), minuteAgo),
      lastHour: pointOfEvents(events, hourAgo),
      computedAt: now,
    };
  }

  async userActivity(fromTo: { from?: Date | null; to?: Date | null }, interval: Interval, top: number) {
    if (!Number.isInteger(top) || top < 0 || top > 200) throw badInput("top", "top must be an integer from 0 to 200");
    const { from, to } = aligned(range(fromTo, 30), HOUR);
    if (to.getTime() - from.getTime() > MAX_ACTIVITY_DAYS * DAY) throw badInput("from", `userActivity covers at most ${MAX_ACTIVITY_DAYS} days`);
    await this.buffers?.users.flush();
    return { from, to, interval, ...activity(await this.reads.userActivity(from, to), interval, top) };
  }
}

/** Where the deltas of the busiest rollups wait to be written (about once a second). */
export interface UsageBuffers {
  sketches: DeltaBuffer<SketchDelta>;
  users: DeltaBuffer<UserDelta>;
}

export interface LiveCounters {
  promptId: string;
  lastMinute: SeriesPoint;
  lastHour: SeriesPoint;
  computedAt: Date;
}

/** Most raw events a live computation reads (a very busy prompt's last hour is sampled by recency). */
const LIVE_LIMIT = 100_000;

/** The range widened to whole units (hours or days). */
function aligned({ from, to }: { from: Date; to: Date }, unit: number): { from: Date; to: Date } {
  return { from: new Date(Math.floor(from.getTime() / unit) * unit), to: new Date(Math.ceil(to.getTime() / unit) * unit) };
}

/** A point as it came back from the cache (JSON): its bucket start is a date again. */
const revivePoint = (p: SeriesPoint): SeriesPoint => ({ ...p, bucketStart: new Date(p.bucketStart) });

function range(fromTo: { from?: Date | null; to?: Date | null }, defaultDays: number): { from: Date; to: Date } {
  const to = fromTo.to ?? new Date();
  const from = fromTo.from ?? new Date(to.getTime() - defaultDays * DAY);
  if (Number.isNaN(from.getTime()) || Number.isNaN(to.getTime())) throw badInput("from", "from and to must be dates");
  if (from >= to) throw badInput("from", "from must be before to");
  if (to.getTime() - from.getTime() > MAX_RANGE_DAYS * DAY) throw badInput("from", `a range may span at most ${MAX_RANGE_DAYS} days`);
  return { from, to };
}

const text = (value: string | null | undefined, field: string): string | null => {
  if (value == null) return null;
  if (typeof value !== "string" || value.length > TEXT_MAX) throw badInput(field, `${field} must be a string of at most ${TEXT_MAX} characters`);
  return value;
};

const count = (value: number | null | undefined, field: string): number | null => {
  if (value == null) return null;
  if (!Number.isInteger(value) || value < 0) throw badInput(field, `${field} must be a non-negative integer`);
  return value;
};

/** One validated event; AppError (with the field) when it is not usable. */
function toRecord(e: UsageEventInput, found: { byId: Map<string, PromptRecord>; byName: Map<string, PromptRecord> }, now: number): UsageRecord {
  const ref = e.prompt ?? {};
  const prompt = ref.id ? found.byId.get(ref.id) : ref.name ? found.byName.get(ref.name.trim()) : undefined;
  if (!ref.id === !ref.name) throw badInput("prompt", "give exactly one of prompt.id and prompt.name");
  if (!prompt) throw new AppError("NOT_FOUND", `prompt not found: ${ref.id ?? ref.name}`, { field: "prompt" });
  const version = count(e.version, "version");
  if (version !== null && (version < 1 || version > prompt.latestVersionNumber)) throw new AppError("NOT_FOUND", `prompt ${prompt.name} has no version ${version}`, { field: "version" });
  if (e.latencyMs != null && !(Number.isFinite(e.latencyMs) && e.latencyMs >= 0 && e.latencyMs <= DAY)) throw badInput("latencyMs", "latencyMs must be from 0 to 86,400,000");
  if (e.cost != null && !(Number.isFinite(e.cost) && e.cost >= 0)) throw badInput("cost", "cost must be a non-negative number");
  const at = e.timestamp == null ? new Date(now) : new Date(e.timestamp);
  if (Number.isNaN(at.getTime())) throw badInput("timestamp", "timestamp must be a date");
  if (at.getTime() > now + 5 * 60_000) throw badInput("timestamp", "timestamp is in the future");
  let metadata: string | null = null;
  if (e.metadata != null) {
    metadata = JSON.stringify(e.metadata);
    if (metadata.length > METADATA_MAX) throw badInput("metadata", `metadata must be at most ${METADATA_MAX} bytes of JSON`);
  }
  const success = e.success ?? (e.errorCode == null);
  return {
    promptId: prompt.id,
    versionNumber: version,
    label: text(e.label, "label"),
    testId: text(e.test, "test"),
    variantIndex: count(e.variant, "variant"),
    userId: text(e.user, "user"),
    sessionId: text(e.session, "session"),
    model: text(e.model, "model"),
    latencyMs: e.latencyMs ?? null,
    inputTokens: count(e.inputTokens, "inputTokens"),
    outputTokens: count(e.outputTokens, "outputTokens"),
    cost: e.cost ?? null,
    success,
    errorCode: text(e.errorCode, "errorCode"),
    occurredAt: at,
    metadata,
  };
}
