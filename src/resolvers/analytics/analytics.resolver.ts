import { GraphQLDateTimeISO } from "graphql-scalars";
import { Arg, Field, Float, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription } from "type-graphql";
import type { AppContext } from "../../context.js";
import type { Interval, RankMetric } from "../../domain/analytics/analytics.logic.js";
import type { SystemHealthService } from "../../domain/analytics/system-health.service.js";
import type { LiveCounters, UsageService } from "../../domain/analytics/usage.service.js";
import { PromptRef } from "../prompts/prompt.inputs.js";
import {
  IntervalValues,
  LiveUsage,
  PromptAnalytics,
  RankedPrompt,
  RankMetricValues,
  RecordUsagePayload,
  TrendIntervalValues,
  TrendPoint,
  UsageEventInput,
  UserActivity,
  VersionComparison,
} from "./analytics.types.js";

@ObjectType("MemoryUsage", { description: "Memory of the server process." })
export class MemoryUsage {
  @Field(() => Float, { description: "Resident set size, bytes." })
  rssBytes!: number;

  @Field(() => Float, { description: "V8 heap in use, bytes." })
  heapUsedBytes!: number;

  @Field(() => Float, { description: "V8 heap reserved, bytes." })
  heapTotalBytes!: number;

  @Field(() => Float, { description: "Memory outside the V8 heap (buffers), bytes." })
  externalBytes!: number;
}

@ObjectType("RedisHealth", { description: "The Redis connection's state." })
export class RedisHealth {
  @Field({ description: "Connected and answering." })
  ok!: boolean;

  @Field(() => String, { nullable: true, description: "What is wrong, if anything." })
  detail!: string | null;
}

@ObjectType("SystemHealth", { description: "How the server is doing." })
export class SystemHealth {
  @Field(() => Int, { description: "Seconds since start." })
  uptimeSeconds!: number;

  @Field(() => Float, { description: "Size of the SQLite database, bytes." })
  databaseBytes!: number;

  @Field(() => Int, { description: "Usage events stored (within the retention period)." })
  usageEventsStored!: number;

  @Field(() => Int, { description: "Usage events of the last hour." })
  usageEventsLastHour!: number;

  @Field(() => Float, { nullable: true, description: "Share of failed uses in the last hour." })
  errorRateLastHour!: number | null;

  @Field(() => Int, { description: "Bulk operations queued or running." })
  bulkQueueDepth!: number;

  @Field(() => Float, { description: "Cache hits since start." })
  cacheHits!: number;

  @Field(() => Float, { description: "Cache misses since start." })
  cacheMisses!: number;

  @Field(() => Float, { nullable: true, description: "hits / (hits + misses)." })
  cacheHitRate!: number | null;

  @Field(() => Int, { description: "Live subscriptions open on this instance." })
  openSubscriptions!: number;

  @Field(() => MemoryUsage, { description: "Process memory." })
  memory!: MemoryUsage;

  @Field(() => RedisHealth, { nullable: true, description: "Redis, when configured." })
  redis!: RedisHealth | null;

  @Field(() => GraphQLDateTimeISO, { description: "When this was measured." })
  checkedAt!: Date;
}

const period = (from?: Date | null, to?: Date | null) => ({ from: from ?? null, to: to ?? null });

@Resolver()
export class AnalyticsResolver {
  constructor(
    readonly usage: UsageService,
    private readonly health: SystemHealthService,
  ) {}

  @Mutation(() => RecordUsagePayload, { description: "Stores usage events (up to PROMPT_STORE_USAGE_MAX_BATCH per call); bad ones are reported by index, the good ones kept." })
  recordUsage(@Arg("events", () => [UsageEventInput], { description: "The events." }) events: UsageEventInput[]) {
    return this.usage.record(events);
  }

  @Query(() => PromptAnalytics, { complexity: 1000, description: "A prompt's usage over time: count, success rate, latency p50/p95/p99, tokens and cost per bucket (default: the last 30 days by day)." })
  promptAnalytics(
    @Arg("prompt", () => PromptRef, { description: "The prompt." }) prompt: PromptRef,
    @Arg("from", () => GraphQLDateTimeISO, { nullable: true, description: "Start (default: 30 days before `to`)." }) from?: Date | null,
    @Arg("to", () => GraphQLDateTimeISO, { nullable: true, description: "End, exclusive (default now)." }) to?: Date | null,
    @Arg("interval", () => IntervalValues, { nullable: true, description: "Bucket size (default DAY)." }) interval?: Interval | null,
    @Arg("version", () => Int, { nullable: true, description: "Only this version." }) version?: number | null,
  ) {
    return this.usage.promptAnalytics(prompt, period(from, to), interval ?? "DAY", version ?? null);
  }

  @Query(() => VersionComparison, { complexity: 1000, description: "A prompt's versions side by side over a range (default the last 30 days)." })
  async versionComparison(
    @Arg("prompt", () => PromptRef, { description: "The prompt." }) prompt: PromptRef,
    @Arg("from", () => GraphQLDateTimeISO, { nullable: true, description: "Start." }) from?: Date | null,
    @Arg("to", () => GraphQLDateTimeISO, { nullable: true, description: "End, exclusive." }) to?: Date | null,
  ) {
    const result = await this.usage.versionComparison(prompt, period(from, to));
    return { ...result, versions: result.versions.map((v) => ({ ...v, usage: v.point })) };
  }

  @Query(() => [RankedPrompt], { complexity: 2000, description: "Prompts ranked by a metric over a range (default the last 7 days), with rank and change against the previous period." })
  async topPrompts(
    @Arg("metric", () => RankMetricValues, { description: "What to rank by." }) metric: RankMetric,
    @Arg("from", () => GraphQLDateTimeISO, { nullable: true, description: "Start." }) from?: Date | null,
    @Arg("to", () => GraphQLDateTimeISO, { nullable: true, description: "End, exclusive." }) to?: Date | null,
    @Arg("first", () => Int, { nullable: true, description: "How many, 1 to 200 (default 10)." }) first?: number | null,
  ) {
    return (await this.usage.topPrompts(metric, period(from, to), first ?? 10)).entries;
  }

  @Query(() => [TrendPoint], { complexity: 1000, description: "Usage across all prompts per bucket (default the last 30 days by day)." })
  async usageTrends(
    @Arg("from", () => GraphQLDateTimeISO, { nullable: true, description: "Start." }) from?: Date | null,
    @Arg("to", () => GraphQLDateTimeISO, { nullable: true, description: "End, exclusive." }) to?: Date | null,
    @Arg("interval", () => TrendIntervalValues, { nullable: true, description: "Bucket size (default DAY)." }) interval?: "HOUR" | "DAY" | null,
  ) {
    return (await this.usage.usageTrends(period(from, to), interval ?? "DAY")).series;
  }

  @Query(() => UserActivity, { complexity: 2000, description: "Active users per bucket, the most active users, and uses by weekday and hour (default the last 30 days by day)." })
  userActivity(
    @Arg("from", () => GraphQLDateTimeISO, { nullable: true, description: "Start." }) from?: Date | null,
    @Arg("to", () => GraphQLDateTimeISO, { nullable: true, description: "End, exclusive." }) to?: Date | null,
    @Arg("interval", () => IntervalValues, { nullable: true, description: "Bucket size of activeUsers (default DAY)." }) interval?: Interval | null,
    @Arg("top", () => Int, { nullable: true, description: "How many top users, 0 to 200 (default 10)." }) top?: number | null,
  ) {
    return this.usage.userActivity(period(from, to), interval ?? "DAY", top ?? 10);
  }

  @Query(() => SystemHealth, { complexity: 200, description: "Uptime, database size, usage events, error rate, bulk queue, cache, subscriptions, memory, Redis." })
  systemHealth() {
    return this.health.check();
  }

  @Query(() => LiveUsage, { complexity: 50, description: "A prompt's counters for the last minute and hour, from the raw events." })
  liveUsage(@Arg("prompt", () => PromptRef, { description: "The prompt." }) prompt: PromptRef) {
    return this.usage.live(prompt);
  }

  @Subscription(() => LiveUsage, {
    subscribe: ({ args, context }) => (context as AppContext).container.get(AnalyticsResolver).usage.liveUpdates(args.prompt as PromptRef),
    description: "A prompt's last-minute and last-hour counters: now, then after new usage, at most four times a second.",
  })
  promptAnalyticsUpdates(@Root() counters: LiveCounters, @Arg("prompt", () => PromptRef, { description: "The prompt." }) _prompt: PromptRef) {
    return counters;
  }
}
