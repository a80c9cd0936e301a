import { GraphQLDateTimeISO } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import type { AbTestStatus, Direction, MetricKind } from "../../domain/ab-testing/ab-test.repository.js";
import { RenderedPrompt } from "../prompts/label.types.js";
import { PromptRef } from "../prompts/prompt.inputs.js";
import { ConnectionType } from "../shared/connection.js";

export const AbTestStatusValues: { [K in AbTestStatus]: K } = { DRAFT: "DRAFT", RUNNING: "RUNNING", PAUSED: "PAUSED", COMPLETED: "COMPLETED" };
registerEnumType(AbTestStatusValues, {
  name: "AbTestStatus",
  description: "Where a test is: DRAFT -> RUNNING <-> PAUSED -> COMPLETED.",
  valuesConfig: {
    DRAFT: { description: "Defined, not serving yet." },
    RUNNING: { description: "resolvePrompt on its label splits traffic between the variants." },
    PAUSED: { description: "The label serves its own version again; outcomes are still taken." },
    COMPLETED: { description: "Over, with or without a winner." },
  },
});

export const MetricValues: { [K in MetricKind]: K } = { CONVERSION: "CONVERSION", SCORE: "SCORE" };
registerEnumType(MetricValues, {
  name: "AbMetric",
  description: "What a test measures.",
  valuesConfig: {
    CONVERSION: { description: "Whether a subject converted (once per subject): rates, Wilson intervals, two-proportion z-test." },
    SCORE: { description: "A number per subject (the mean of its values): means, t intervals, Welch's t-test." },
  },
});

export const DirectionValues: { [K in Direction]: K } = { HIGHER: "HIGHER", LOWER: "LOWER" };
registerEnumType(DirectionValues, {
  name: "AbDirection",
  description: "Which way a metric is better.",
  valuesConfig: { HIGHER: { description: "More is better." }, LOWER: { description: "Less is better (e.g. latency, cost)." } },
});

export const VerdictValues = { INSUFFICIENT_DATA: "INSUFFICIENT_DATA", NO_DIFFERENCE_YET: "NO_DIFFERENCE_YET", WINNER: "WINNER" } as const;
registerEnumType(VerdictValues, {
  name: "AbVerdict",
  description: "What the statistics say so far.",
  valuesConfig: {
    INSUFFICIENT_DATA: { description: "A variant has fewer subjects than minSamplePerVariant." },
    NO_DIFFERENCE_YET: { description: "No variant is better with the required confidence (or a sample ratio mismatch or a harmed guardrail holds the verdict back: see notes)." },
    WINNER: { description: "One variant is better, by an always-valid p-value corrected for several comparisons." },
  },
});

@InputType("AbVariantInput", { description: "One arm of a test: a version number or a label (one of them), and its share of traffic." })
export class AbVariantInput {
  @Field(() => String, { nullable: true, description: "A name (default control, treatment-1, ...)." })
  name?: string | null;

  @Field(() => Int, { nullable: true, description: "A fixed version." })
  version?: number | null;

  @Field(() => String, { nullable: true, description: "Whatever version this label points at when served." })
  label?: string | null;

  @Field(() => Float, { description: "Relative share of traffic (positive; need not sum to 1)." })
  weight!: number;
}

@InputType("AbGuardrailInput", { description: "A metric that must not get worse while the primary one improves." })
export class AbGuardrailInput {
  @Field(() => MetricValues, { description: "CONVERSION or SCORE." })
  metric!: MetricKind;

  @Field(() => DirectionValues, { nullable: true, description: "Which way is better (default HIGHER)." })
  direction?: Direction | null;
}

@InputType("CreateAbTestInput", { description: "A new A/B test (DRAFT until startAbTest)." })
export class CreateAbTestInput {
  @Field({ description: "A name for people (1-200 characters)." })
  name!: string;

  @Field(() => PromptRef, { description: "The prompt." })
  prompt!: PromptRef;

  @Field(() => String, { nullable: true, description: "The label the test governs (default production)." })
  label?: string | null;

  @Field(() => [AbVariantInput], { description: "2 to 10 variants; the first is the control." })
  variants!: AbVariantInput[];

  @Field(() => MetricValues, { description: "The primary metric." })
  metric!: MetricKind;

  @Field(() => DirectionValues, { nullable: true, description: "SCORE: which way is better (default HIGHER)." })
  metricDirection?: Direction | null;

  @Field(() => AbGuardrailInput, { nullable: true, description: "Optional guardrail: a winner must not be significantly worse on it." })
  guardrail?: AbGuardrailInput | null;

  @Field(() => Int, { nullable: true, description: "Subjects every variant needs before a verdict (default 100)." })
  minSamplePerVariant?: number | null;

  @Field(() => Float, { nullable: true, description: "Confidence level, 0.8 to 0.999 (default 0.95)." })
  confidence?: number | null;

  @Field(() => Boolean, { nullable: true, description: "When a winner is certain, move the label to it and complete the test." })
  autoPromote?: boolean | null;
}

@InputType("AbOutcomeInput", { description: "What happened to one subject of a test." })
export class AbOutcomeInput {
  @Field(() => ID, { description: "The test." })
  test!: string;

  @Field({ description: "The subject, as given to (or returned by) resolvePrompt." })
  subjectKey!: string;

  @Field(() => Boolean, { nullable: true, description: "CONVERSION tests: whether it converted (counted once per subject)." })
  converted?: boolean | null;

  @Field(() => Float, { nullable: true, description: "SCORE tests: an observed value." })
  value?: number | null;

  @Field(() => Boolean, { nullable: true, description: "A CONVERSION guardrail's outcome." })
  guardrailConverted?: boolean | null;

  @Field(() => Float, { nullable: true, description: "A SCORE guardrail's value." })
  guardrailValue?: number | null;
}

@ObjectType("AbVariant", { description: "One arm of a test." })
export class AbVariant {
  @Field(() => Int, { description: "Its position; 0 is the control." })
  index!: number;

  @Field({ description: "Its name." })
  name!: string;

  @Field(() => Int, {
    nullable: true,
    description: "The fixed version, if it has one (a test on a protected label fixes label-named variants to their versions when it starts).",
  })
  versionNumber!: number | null;

  @Field(() => String, { nullable: true, description: "The label it was named by, if any; it follows that label unless versionNumber is set." })
  versionLabel!: string | null;

  @Field(() => Float, { description: "Its relative share of traffic." })
  weight!: number;
}

@ObjectType("AbTest", { description: "A test of versions of a prompt against each other on one label." })
export class AbTest {
  @Field(() => ID, { description: "Stable identifier." })
  id!: string;

  @Field({ description: "Its name." })
  name!: string;

  @Field({ description: "The label it governs while RUNNING." })
  label!: string;

  @Field(() => AbTestStatusValues, { description: "Where it is." })
  status!: AbTestStatus;

  @Field(() => MetricValues, { description: "The primary metric." })
  metric!: MetricKind;

  @Field(() => DirectionValues, { description: "Which way the primary metric is better." })
  metricDirection!: Direction;

  @Field(() => MetricValues, { nullable: true, description: "The guardrail metric, if any." })
  guardrailMetric!: MetricKind | null;

  @Field(() => DirectionValues, { nullable: true, description: "Which way the guardrail is better." })
  guardrailDirection!: Direction | null;

  @Field(() => Int, { description: "Subjects every variant needs before a verdict." })
  minSamplePerVariant!: number;

  @Field(() => Float, { description: "Confidence level." })
  confidence!: number;

  @Field({ description: "Promote the winner and complete when the statistics are certain." })
  autoPromote!: boolean;

  @Field(() => [AbVariant], { description: "Its variants, control first." })
  variants!: AbVariant[];

  @Field(() => Int, { nullable: true, description: "The winner's index once decided." })
  winnerIndex!: number | null;

  @Field(() => String, { nullable: true, description: "STATISTICS or MANUAL (completeAbTest)." })
  winnerDecidedBy!: string | null;

  @Field(() => String, { nullable: true, description: "Who created it." })
  createdBy!: string | null;

  @Field(() => GraphQLDateTimeISO, { description: "When it was created." })
  createdAt!: Date;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When it started." })
  startedAt!: Date | null;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When it completed." })
  completedAt!: Date | null;
}

@ObjectType("AbTestConnection", { description: "A page of A/B tests, newest first." })
export class AbTestConnection extends ConnectionType("AbTest", AbTest) {}

@ObjectType("ResolvedPrompt", { description: "A prompt as an application gets it: the label's version, or a test's variant for this subject, rendered." })
export class ResolvedPrompt extends RenderedPrompt {
  @Field(() => AbTest, { nullable: true, description: "The running test that chose the version, if any." })
  test!: object | null;

  @Field(() => AbVariant, { nullable: true, description: "The variant this subject gets." })
  variant!: AbVariant | null;

  @Field(() => String, { nullable: true, description: "The subject (made up for an anonymous caller inside a test): report outcomes with it." })
  subjectKey!: string | null;
}

@ObjectType("AbOutcomeResult", { description: "What became of one outcome of a recordAbTestOutcomes call." })
export class AbOutcomeResult {
  @Field(() => Int, { description: "Its position in the input." })
  index!: number;

  @Field({ description: "Stored." })
  ok!: boolean;

  @Field(() => Int, { nullable: true, description: "The subject's variant." })
  variantIndex!: number | null;

  @Field(() => String, { nullable: true, description: "Why not, as an error code (BAD_USER_INPUT, NOT_FOUND, FAILED_PRECONDITION)." })
  errorCode!: string | null;

  @Field(() => String, { nullable: true, description: "Why not, for people." })
  errorMessage!: string | null;
}

@ObjectType("AbInterval", { description: "A confidence interval." })
export class AbInterval {
  @Field(() => Float, { description: "Lower bound." })
  low!: number;

  @Field(() => Float, { description: "Upper bound." })
  high!: number;
}

@ObjectType("AbVariantResult", { description: "One variant's numbers." })
export class AbVariantResult {
  @Field(() => Int, { description: "The variant (0 is the control)." })
  index!: number;

  @Field({ description: "Its name." })
  name!: string;

  @Field(() => Float, { description: "Its configured weight." })
  weight!: number;

  @Field(() => Int, { description: "Subjects exposed." })
  subjects!: number;

  @Field(() => Int, { nullable: true, description: "CONVERSION: subjects who converted." })
  conversions!: number | null;

  @Field(() => Float, { nullable: true, description: "CONVERSION: conversions / subjects." })
  rate!: number | null;

  @Field(() => Int, { nullable: true, description: "SCORE: subjects with at least one value." })
  scored!: number | null;

  @Field(() => Float, { nullable: true, description: "SCORE: mean of the subjects' scores." })
  mean!: number | null;

  @Field(() => Float, { nullable: true, description: "SCORE: standard deviation of the subjects' scores." })
  standardDeviation!: number | null;

  @Field(() => AbInterval, { nullable: true, description: "Wilson interval of the rate, or t interval of the mean, at the test's confidence." })
  interval!: AbInterval | null;
}

@ObjectType("AbComparison", { description: "One treatment against the control." })
export class AbComparison {
  @Field(() => Int, { description: "The treatment's variant index." })
  variant!: number;

  @Field(() => Float, { nullable: true, description: "treatment - control (rate or mean)." })
  absoluteLift!: number | null;

  @Field(() => Float, { nullable: true, description: "(treatment - control) / control." })
  relativeLift!: number | null;

  @Field(() => AbInterval, { nullable: true, description: "Interval of the absolute lift." })
  interval!: AbInterval | null;

  @Field(() => AbInterval, { nullable: true, description: "Interval of the relative lift (delta method)." })
  relativeInterval!: AbInterval | null;

  @Field(() => Float, { description: "Fixed-horizon two-sided p-value (two-proportion z-test or Welch t-test): valid for a single look only." })
  pValue!: number;

  @Field(() => Float, { description: "Always-valid p-value (mixture SPRT): watching it continuously does not inflate false positives." })
  sequentialPValue!: number;

  @Field(() => Float, { description: "sequentialPValue after Holm's correction over all treatments." })
  adjustedPValue!: number;

  @Field({ description: "adjustedPValue is below 1 - confidence (with enough subjects)." })
  significant!: boolean;

  @Field(() => String, { nullable: true, description: "TREATMENT or CONTROL: the side the estimate favours." })
  better!: string | null;
}

@ObjectType("AbSampleRatio", { description: "Sample ratio mismatch check: are subjects split as the weights say?" })
export class AbSampleRatio {
  @Field(() => Float, { description: "Pearson's chi-square statistic." })
  statistic!: number;

  @Field(() => Int, { description: "Degrees of freedom." })
  df!: number;

  @Field(() => Float, { description: "p-value of the split." })
  pValue!: number;

  @Field({ description: "False while some expected count is below 5 (too few subjects to judge)." })
  reliable!: boolean;

  @Field({ description: "p < 0.001: assignment or logging is broken, and no winner is declared." })
  mismatch!: boolean;
}

@ObjectType("AbGuardrailResult", { description: "The guardrail metric of one treatment against control." })
export class AbGuardrailResult {
  @Field(() => Int, { description: "The treatment's variant index." })
  variant!: number;

  @Field(() => MetricValues, { description: "The guardrail's kind." })
  metric!: MetricKind;

  @Field(() => DirectionValues, { description: "Which way it is better." })
  direction!: Direction;

  @Field(() => Float, { nullable: true, description: "treatment - control." })
  absoluteLift!: number | null;

  @Field(() => Float, { description: "Fixed-horizon p-value." })
  pValue!: number;

  @Field({ description: "Significantly worse than control: the treatment cannot win." })
  harmed!: boolean;
}

@ObjectType("AbTestResults", { description: "A test's results: per variant, each treatment against control, checks and the verdict." })
export class AbTestResults {
  @Field(() => ID, { description: "The test." })
  testId!: string;

  @Field(() => VerdictValues, { description: "What the statistics say so far." })
  status!: string;

  @Field(() => Int, { nullable: true, description: "The winning variant's index (WINNER only)." })
  winner!: number | null;

  @Field(() => [String], { description: "Why a verdict is held back, if it is." })
  notes!: string[];

  @Field(() => MetricValues, { description: "The primary metric." })
  metric!: MetricKind;

  @Field(() => DirectionValues, { description: "Which way it is better." })
  direction!: Direction;

  @Field(() => Float, { description: "The confidence level." })
  confidence!: number;

  @Field(() => Int, { description: "Subjects every variant needs before a verdict." })
  minSamplePerVariant!: number;

  @Field(() => [AbVariantResult], { description: "Per variant, control first." })
  variants!: AbVariantResult[];

  @Field(() => [AbComparison], { description: "Each treatment against the control." })
  comparisons!: AbComparison[];

  @Field(() => AbSampleRatio, { description: "The sample ratio mismatch check." })
  sampleRatio!: AbSampleRatio;

  @Field(() => [AbGuardrailResult], { description: "The guardrail per treatment (empty without one)." })
  guardrail!: AbGuardrailResult[];

  @Field(() => GraphQLDateTimeISO, { description: "When they were computed." })
  computedAt!: Date;
}
