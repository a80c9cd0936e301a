import { GraphQLDateTimeISO } from "graphql-scalars";
import { GraphQLJSONObject } from "../json-scalars.js";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { PromptRef } from "../prompts/prompt.inputs.js";
import { Prompt } from "../prompts/prompt.types.js";

export const IntervalValues = { HOUR: "HOUR", DAY: "DAY", WEEK: "WEEK" } as const;
registerEnumType(IntervalValues, {
  name: "AnalyticsInterval",
  description: "Bucket size of a time series (UTC; weeks start on Monday).",
  valuesConfig: { HOUR: { description: "One hour." }, DAY: { description: "One day." }, WEEK: { description: "One week." } },
});

export const TrendIntervalValues = { HOUR: "HOUR", DAY: "DAY" } as const;
registerEnumType(TrendIntervalValues, {
  name: "TrendInterval",
  description: "Bucket size of usage trends across prompts.",
  valuesConfig: { HOUR: { description: "One hour." }, DAY: { description: "One day." } },
});

export const RankMetricValues = { USAGE: "USAGE", SUCCESS_RATE: "SUCCESS_RATE", LATENCY: "LATENCY", COST: "COST", TRENDING: "TRENDING" } as const;
registerEnumType(RankMetricValues, {
  name: "PromptRankMetric",
  description: "What topPrompts ranks by.",
  valuesConfig: {
    USAGE: { description: "Most uses." },
    SUCCESS_RATE: { description: "Highest share of successful uses." },
    LATENCY: { description: "Slowest average latency first." },
    COST: { description: "Most cost." },
    TRENDING: { description: "Fastest growth in uses against the previous period (damped for small counts)." },
  },
});

@InputType("UsageEventInput", { description: "One use of a prompt, as an application reports it." })
export class UsageEventInput {
  @Field(() => PromptRef, { description: "The prompt, by id or name." })
  prompt!: PromptRef;

  @Field(() => Int, { nullable: true, description: "The version used." })
  version?: number | null;

  @Field(() => String, { nullable: true, description: "The label it was served under." })
  label?: string | null;

  @Field(() => ID, { nullable: true, description: "The A/B test that chose it." })
  test?: string | null;

  @Field(() => Int, { nullable: true, description: "The test's variant index." })
  variant?: number | null;

  @Field(() => String, { nullable: true, description: "Who used it (an end user's id)." })
  user?: string | null;

  @Field(() => String, { nullable: true, description: "A session or conversation id." })
  session?: string | null;

  @Field(() => String, { nullable: true, description: "The model that ran it." })
  model?: string | null;

  @Field(() => Float, { nullable: true, description: "Latency of the LLM call in milliseconds." })
  latencyMs?: number | null;

  @Field(() => Int, { nullable: true, description: "Input tokens." })
  inputTokens?: number | null;

  @Field(() => Int, { nullable: true, description: "Output tokens." })
  outputTokens?: number | null;

  @Field(() => Float, { nullable: true, description: "Cost in your currency unit." })
  cost?: number | null;

  @Field(() => Boolean, { nullable: true, description: "Whether it succeeded (default: true unless errorCode is given)." })
  success?: boolean | null;

  @Field(() => String, { nullable: true, description: "The error, when it failed." })
  errorCode?: string | null;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When it happened (default now; not in the future)." })
  timestamp?: Date | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Anything else (at most 4 KB of JSON)." })
  metadata?: Record<string, unknown> | null;
}

@ObjectType("UsageEventError", { description: "An event recordUsage did not store." })
export class UsageEventError {
  @Field(() => Int, { description: "Its position in the input." })
  index!: number;

  @Field({ description: "BAD_USER_INPUT or NOT_FOUND." })
  code!: string;

  @Field({ description: "The input field at fault." })
  field!: string;

  @Field({ description: "What is wrong." })
  message!: string;
}

@ObjectType("RecordUsagePayload", { description: "What recordUsage stored." })
export class RecordUsagePayload {
  @Field(() => Int, { description: "Events stored." })
  accepted!: number;

  @Field(() => [UsageEventError], { description: "The events not stored, each with its reason." })
  errors!: UsageEventError[];
}

@ObjectType("UsagePoint", { description: "Usage in one time bucket (or over a whole range)." })
export class UsagePoint {
  @Field(() => GraphQLDateTimeISO, { description: "Start of the bucket." })
  bucketStart!: Date;

  @Field(() => Int, { description: "Uses." })
  count!: number;

  @Field(() => Float, { nullable: true, description: "Share of successful uses." })
  successRate!: number | null;

  @Field(() => Float, { nullable: true, description: "Median latency (ms), from merged sketches (1% relative accuracy)." })
  latencyP50!: number | null;

  @Field(() => Float, { nullable: true, description: "95th percentile latency (ms)." })
  latencyP95!: number | null;

  @Field(() => Float, { nullable: true, description: "99th percentile latency (ms)." })
  latencyP99!: number | null;

  @Field(() => Float, { nullable: true, description: "Mean latency (ms)." })
  latencyMean!: number | null;

  @Field(() => Int, { description: "Input tokens." })
  inputTokens!: number;

  @Field(() => Int, { description: "Output tokens." })
  outputTokens!: number;

  @Field(() => Float, { description: "Cost." })
  cost!: number;
}

@ObjectType("PromptAnalytics", { description: "How a prompt was used over time." })
export class PromptAnalytics {
  @Field(() => Prompt, { description: "The prompt." })
  prompt!: object;

  @Field(() => GraphQLDateTimeISO, { description: "Start of the range." })
  from!: Date;

  @Field(() => GraphQLDateTimeISO, { description: "End of the range (exclusive)." })
  to!: Date;

  @Field(() => [UsagePoint], { description: "Buckets with usage, oldest first." })
  series!: UsagePoint[];

  @Field(() => UsagePoint, { description: "The whole range at once." })
  total!: UsagePoint;
}

@ObjectType("VersionUsage", { description: "One version's usage." })
export class VersionUsage {
  @Field(() => Int, { description: "The version (0: events that did not say)." })
  versionNumber!: number;

  @Field(() => UsagePoint, { description: "Its usage over the range." })
  usage!: UsagePoint;

  @Field(() => GraphQLDateTimeISO, { description: "First hour with a use." })
  firstSeen!: Date;

  @Field(() => GraphQLDateTimeISO, { description: "Last hour with a use." })
  lastSeen!: Date;
}

@ObjectType("VersionComparison", { description: "A prompt's versions side by side." })
export class VersionComparison {
  @Field(() => Prompt, { description: "The prompt." })
  prompt!: object;

  @Field(() => [VersionUsage], { description: "Versions with usage, newest first." })
  versions!: VersionUsage[];
}

@ObjectType("RankedPrompt", { description: "A prompt's place in a ranking." })
export class RankedPrompt {
  @Field(() => Int, { description: "1 is first." })
  rank!: number;

  @Field(() => Prompt, { description: "The prompt." })
  prompt!: object;

  @Field(() => Float, { description: "Its value of the metric." })
  value!: number;

  @Field(() => Int, { description: "Its uses in the period." })
  count!: number;

  @Field(() => Float, { nullable: true, description: "Its value in the previous period of the same length." })
  previousValue!: number | null;

  @Field(() => Int, { nullable: true, description: "Its rank in the previous period." })
  previousRank!: number | null;

  @Field(() => Float, { nullable: true, description: "value - previousValue." })
  change!: number | null;

  @Field(() => Float, { nullable: true, description: "(value - previousValue) / previousValue." })
  changeRatio!: number | null;
}

@ObjectType("TrendPoint", { description: "Usage across all prompts in one bucket." })
export class TrendPoint {
  @Field(() => GraphQLDateTimeISO, { description: "Start of the bucket." })
  bucketStart!: Date;

  @Field(() => Int, { description: "Uses." })
  count!: number;

  @Field(() => Int, { description: "Prompts used." })
  activePrompts!: number;

  @Field(() => Float, { nullable: true, description: "Share of successful uses." })
  successRate!: number | null;

  @Field(() => Float, { nullable: true, description: "Mean latency (ms)." })
  latencyMean!: number | null;

  @Field(() => Int, { description: "Input tokens." })
  inputTokens!: number;

  @Field(() => Int, { description: "Output tokens." })
  outputTokens!: number;

  @Field(() => Float, { description: "Cost." })
  cost!: number;
}

@ObjectType("ActiveUsersPoint", { description: "Users active in one bucket." })
export class ActiveUsersPoint {
  @Field(() => GraphQLDateTimeISO, { description: "Start of the bucket." })
  bucketStart!: Date;

  @Field(() => Int, { description: "Distinct users." })
  users!: number;
}

@ObjectType("UserUsage", { description: "A user and their uses." })
export class UserUsage {
  @Field({ description: "The user." })
  userId!: string;

  @Field(() => Int, { description: "Uses." })
  count!: number;
}

@ObjectType("UserActivity", { description: "Who uses prompts, and when." })
export class UserActivity {
  @Field(() => [ActiveUsersPoint], { description: "Distinct active users per bucket." })
  activeUsers!: ActiveUsersPoint[];

  @Field(() => [UserUsage], { description: "The most active users." })
  topUsers!: UserUsage[];

  @Field(() => [[Int]], { description: "Uses by weekday (0 = Monday) and hour of day (UTC): 7 rows of 24." })
  hourOfWeek!: number[][];

  @Field(() => Int, { description: "Distinct users in the range." })
  totalUsers!: number;
}

@ObjectType("LiveUsage", { description: "Live counters of one prompt." })
export class LiveUsage {
  @Field(() => ID, { description: "The prompt." })
  promptId!: string;

  @Field(() => UsagePoint, { description: "The last minute." })
  lastMinute!: object;

  @Field(() => UsagePoint, { description: "The last hour." })
  lastHour!: object;

  @Field(() => GraphQLDateTimeISO, { description: "When they were computed." })
  computedAt!: Date;
}
