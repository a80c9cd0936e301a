// From per-variant sums to what abTestResults shows: rates or means with intervals, each
// treatment against control (fixed-horizon and always-valid p-values, Holm-adjusted), the
// sample-ratio check, the guardrail, and the verdict. Pure: the service feeds it rows.
import {
  meanInterval,
  scoreSummaryFromSums,
  twoProportionZTest,
  welchTTest,
  wilsonInterval,
  type ConversionStats,
  type Interval,
  type ScoreSummary,
} from "./ab-stats.logic.js";
import { sampleRatioMismatch, verdict, type SampleRatioCheck, type VariantComparison, type VerdictStatus } from "./ab-verdict.logic.js";
import type { AbTestRecord, MetricKind, Direction, VariantTotals } from "./ab-test.repository.js";

export interface VariantResult {
  index: number;
  name: string;
  weight: number;
  /** Subjects exposed. */
  subjects: number;
  /** CONVERSION: subjects who converted, their share and its Wilson interval. */
  conversions: number | null;
  rate: number | null;
  /** SCORE: subjects with a value, the mean of their values and its t interval. */
  scored: number | null;
  mean: number | null;
  standardDeviation: number | null;
  interval: Interval | null;
}

export interface ComparisonResult {
  variant: number;
  absoluteLift: number | null;
  relativeLift: number | null;
  interval: Interval | null;
  relativeInterval: Interval | null;
  /** Fixed-horizon two-sided p-value (z-test or Welch t-test): valid for one look at a planned size only. */
  pValue: number;
  /** Always-valid p-value (mSPRT): stays valid however often the results are watched. */
  sequentialPValue: number;
  /** sequentialPValue after Holm's correction over all treatments. */
  adjustedPValue: number;
  significant: boolean;
  better: "TREATMENT" | "CONTROL" | null;
}

export interface GuardrailResult {
  variant: number;
  metric: MetricKind;
  direction: Direction;
  absoluteLift: number | null;
  pValue: number;
  /** The treatment is significantly worse than control on the guardrail (fixed-horizon test at the test's level). */
  harmed: boolean;
}

export interface AbResults {
  testId: string;
  metric: MetricKind;
  direction: Direction;
  confidence: number;
  minSamplePerVariant: number;
  variants: VariantResult[];
  comparisons: ComparisonResult[];
  sampleRatio: SampleRatioCheck;
  guardrail: GuardrailResult[];
  status: VerdictStatus;
  /** The winning variant's index (WINNER only). */
  winner: number | null;
  /** Why a verdict is held back (sample ratio mismatch, a harmed guardrail). */
  notes: string[];
  /** Always-valid p-values to keep for the next look (by variant index). */
  sequentialPValues: (number | null)[];
  computedAt: string;
}

const conversionOf = (t: VariantTotals): ConversionStats => ({ exposures: t.subjects, conversions: t.conversions });
const scoreOf = (t: VariantTotals): ScoreSummary => scoreSummaryFromSums({ n: t.scored, sum: t.scoreSum, sumSquares: t.scoreSumSquares });
const guardrailScoreOf = (t: VariantTotals): ScoreSummary => scoreSummaryFromSums({ n: t.guardrailScored, sum: t.guardrailSum, sumSquares: t.guardrailSumSquares });

export function computeResults(test: AbTestRecord, rows: VariantTotals[], now = new Date()): AbResults {
  const byIndex = new Map(rows.map((r) => [r.index, r]));
  const totals = test.variants.map(
    (v): VariantTotals =>
      byIndex.get(v.index) ?? { index: v.index, subjects: 0, conversions: 0, scored: 0, scoreSum: 0, scoreSumSquares: 0, guardrailConversions: 0, guardrailScored: 0, guardrailSum: 0, guardrailSumSquares: 0 },
  );
  const direction: Direction = test.metric === "CONVERSION" ? "HIGHER" : test.metricDirection;
  const previous = test.variants.map((v) => (v.index === 0 ? null : (test.sequentialState[String(v.index)] ?? null)));
  const options = { minSamplePerVariant: test.minSamplePerVariant, confidence: test.confidence, direction, previousSequentialPValues: previous };
  const decided =
    test.metric === "CONVERSION"
      ? verdict({ metric: "CONVERSION", variants: totals.map(conversionOf) }, options)
      : verdict({ metric: "SCORE", variants: totals.map(scoreOf) }, options);

  const variants = test.variants.map((v, i): VariantResult => {
    const t = totals[i]!;
    if (test.metric === "CONVERSION") {
      return { index: v.index, name: v.name, weight: v.weight, subjects: t.subjects, conversions: t.conversions, rate: t.subjects ? t.conversions / t.subjects : null, scored: null, mean: null, standardDeviation: null, interval: wilsonInterval(t.conversions, t.subjects, test.confidence) };
    }
    const s = scoreOf(t);
    return {
      index: v.index,
      name: v.name,
      weight: v.weight,
      subjects: t.subjects,
      conversions: null,
      rate: null,
      scored: s.n,
      mean: s.n ? s.mean : null,
      standardDeviation: s.n > 1 ? Math.sqrt(s.variance) : null,
      interval: meanInterval(s.n, s.mean, s.variance, test.confidence),
    };
  });

  const comparisons = decided.comparisons.map((c: VariantComparison): ComparisonResult => ({
    variant: c.variant,
    absoluteLift: c.comparison.absoluteLift,
    relativeLift: c.comparison.relativeLift,
    interval: c.comparison.interval,
    relativeInterval: c.comparison.relativeInterval,
    pValue: c.comparison.pValue,
    sequentialPValue: c.sequentialPValue,
    adjustedPValue: c.adjustedPValue,
    significant: c.significant,
    better: c.better,
  }));

  const sampleRatio = sampleRatioMismatch(
    totals.map((t) => t.subjects),
    test.variants.map((v) => v.weight),
  );
  const guardrail = guardrailResults(test, totals);
  const notes: string[] = [];
  let status = decided.status;
  let winner = decided.winner;
  if (sampleRatio.mismatch) {
    notes.push(`sample ratio mismatch (p = ${sampleRatio.pValue.toExponential(2)}): subjects are not split as the weights say, so no winner is declared until assignment or logging is fixed`);
  }
  const harmed = winner !== null && winner !== 0 ? guardrail.find((g) => g.variant === winner && g.harmed) : undefined;
  if (harmed) notes.push(`${test.variants[winner!]!.name} would win but is significantly worse on the guardrail metric`);
  if (status === "WINNER" && (sampleRatio.mismatch || harmed)) {
    status = "NO_DIFFERENCE_YET";
    winner = null;
  }
  return {
    testId: test.id,
    metric: test.metric,
    direction,
    confidence: test.confidence,
    minSamplePerVariant: test.minSamplePerVariant,
    variants,
    comparisons,
    sampleRatio,
    guardrail,
    status,
    winner,
    notes,
    sequentialPValues: decided.sequentialPValues,
    computedAt: now.toISOString(),
  };
}

function guardrailResults(test: AbTestRecord, totals: VariantTotals[]): GuardrailResult[] {
  if (!test.guardrailMetric) return [];
  const metric = test.guardrailMetric;
  const direction: Direction = test.guardrailDirection ?? "HIGHER";
  const control = totals[0]!;
  return totals.slice(1).map((t) => {
    const c =
      metric === "CONVERSION"
        ? twoProportionZTest({ exposures: control.subjects, conversions: control.guardrailConversions }, { exposures: t.subjects, conversions: t.guardrailConversions }, test.confidence)
        : welchTTest(guardrailScoreOf(control), guardrailScoreOf(t), test.confidence);
    const worse = c.absoluteLift !== null && (direction === "HIGHER" ? c.absoluteLift < 0 : c.absoluteLift > 0);
    return { variant: t.index, metric, direction, absoluteLift: c.absoluteLift, pValue: c.pValue, harmed: worse && c.pValue < 1 - test.confidence };
  });
}
