// The decision side of A/B statistics: an always-valid (sequential) p-value that may be looked at
// after every new observation, sample ratio mismatch, Holm's multiple-comparison adjustment, and
// the verdict shown by abTestResults. Pure; the estimates it builds on are in ab-stats.logic.ts.
// Table and simulation tests: tests/ab-stats.test.ts.
import { chiSquareSf } from "./ab-stats.distributions.js";
import {
  alphaOf,
  checkCount,
  twoProportionZTest,
  welchTTest,
  type ConversionStats,
  type MeanComparison,
  type ProportionComparison,
  type ScoreSummary,
} from "./ab-stats.logic.js";

// ---------------------------------------------------------------------------------------------
// Always-valid p-values: the mixture sequential probability ratio test (mSPRT)
//
// Let D be the observed difference treatment - control and V its variance (≈ known once a few
// hundred subjects are in). Write information I = 1/V and S = D·I: as subjects arrive, S moves
// like a Brownian motion with drift θ (the true difference) in information time, S ~ N(θI, I).
// For one fixed θ, L_θ = exp(θS - θ²I/2) is the likelihood ratio of "difference θ" against
// "difference 0", a martingale with mean 1 under the null. Averaging it over a normal mixing
// distribution θ ~ N(0, τ²) keeps it a mean-1 martingale and integrates in closed form:
//   Λ = ∫ exp(θS - θ²I/2) N(θ; 0, τ²) dθ = (1 + τ²I)^(-1/2) · exp(τ²S² / (2(1 + τ²I)))
//     = √(V/(V+τ²)) · exp(τ²D² / (2V(V+τ²))).
// Ville's inequality bounds the chance that a mean-1 non-negative martingale EVER reaches 1/α
// by α, so p_n = min over looks k ≤ n of 1/Λ_k is a p-value valid at any (data-dependent)
// stopping time: looking after every batch does not inflate false positives (Johari, Pekelis &
// Walsh, "Always valid inference", 2017/2022). Because this function only sees the current
// snapshot, the running minimum is carried by the caller (AbTest.sequentialState).
// Plug-in variances make the guarantee approximate (as in the paper's two-sample setting); the
// minimum sample per variant before any look counts keeps the normal approximation sound.

/** Λ = √(V/(V+τ²))·exp(τ²D²/(2V(V+τ²))) for an observed difference D with variance V; 1 when V or τ² is 0 and D is 0. */
export function msprtLikelihoodRatio(diff: number, variance: number, tau2: number): number {
  if (!Number.isFinite(diff)) throw new RangeError(`diff must be finite (got ${diff})`);
  if (!(variance >= 0) || !(tau2 >= 0)) throw new RangeError(`variance and tau2 must be ≥ 0 (got ${variance}, ${tau2})`);
  if (tau2 === 0) return 1;
  if (variance === 0) return diff === 0 ? 1 : Infinity;
  const ratio = tau2 / variance;
  // ln Λ = -½ln(1 + τ²/V) + (D²/2V)·τ²/(V + τ²)
  return Math.exp(-0.5 * Math.log1p(ratio) + ((diff * diff) / (2 * variance)) * (ratio / (1 + ratio)));
}

/** The running always-valid p-value: min(previousP ?? 1, 1/Λ). It never increases. */
export function alwaysValidPValue(previousP: number | null, likelihoodRatio: number): number {
  if (!(likelihoodRatio >= 0)) throw new RangeError(`likelihoodRatio must be ≥ 0 (got ${likelihoodRatio})`);
  if (previousP !== null && !(previousP >= 0 && previousP <= 1)) throw new RangeError(`previousP must be in [0, 1] (got ${previousP})`);
  return Math.min(previousP ?? 1, 1 / likelihoodRatio);
}

/** alwaysValidPValue(previousP, msprtLikelihoodRatio(diff, variance, tau2)). */
export function msprtPValue(diff: number, variance: number, tau2: number, previousP: number | null = null): number {
  return alwaysValidPValue(previousP, msprtLikelihoodRatio(diff, variance, tau2));
}

/**
 * The r = τ²/V_H that makes the mSPRT most sensitive at a planned horizon H with variance V_H.
 * It rejects at H when Λ ≥ 1/α, i.e. when z² = D²/V_H ≥ (1 + 1/r)(2 ln(1/α) + ln(1 + r)).
 * Minimising that threshold over r gives r = 2 ln(1/α) + ln(1 + r), solved by fixed-point
 * iteration (a contraction: the derivative is 1/(1+r) < 1). For α = 0.05, r ≈ 8.2 and the
 * threshold is |z| ≈ 3.04 at the horizon (vs 1.96 for a single look): the price of peeking.
 */
export function msprtOptimalTau2Ratio(alpha: number): number {
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be in (0, 1) (got ${alpha})`);
  const twoLn = 2 * Math.log(1 / alpha);
  let r = twoLn;
  for (let i = 0; i < 200; i++) {
    const next = twoLn + Math.log1p(r);
    if (Math.abs(next - r) < 1e-14 * next) return next;
    r = next;
  }
  return r;
}

/**
 * Recommended mixing variance τ² = r(α)·V_H (msprtOptimalTau2Ratio), V_H being the variance of
 * the difference expected at the sample size where detection matters most, e.g. for equal
 * arms of H subjects (σC² + σT²)/H. Smaller effects are still detected later; the cost of a
 * mis-chosen horizon grows only like ½ln(V_H/V) in ln Λ.
 */
export function recommendedTau2(varianceAtHorizon: number, alpha: number): number {
  if (!(varianceAtHorizon >= 0)) throw new RangeError(`varianceAtHorizon must be ≥ 0 (got ${varianceAtHorizon})`);
  return msprtOptimalTau2Ratio(alpha) * varianceAtHorizon;
}

// ---------------------------------------------------------------------------------------------
// Sample ratio mismatch

/** Result of the sample ratio mismatch check. */
export interface SampleRatioCheck {
  /** Pearson's χ² = Σ (observed - expected)² / expected. */
  statistic: number;
  df: number;
  pValue: number;
  /** False when some expected count is below 5: χ² is then unreliable and no mismatch is flagged. */
  reliable: boolean;
  /** reliable && pValue < threshold. */
  mismatch: boolean;
}

/**
 * Chi-square goodness-of-fit of the subjects per variant against the configured weights (which
 * need not sum to 1). A mismatch means assignment or logging is broken, so the results cannot
 * be trusted. The usual threshold is p < 0.001: the check runs continuously, so a strict level
 * keeps false alarms rare.
 */
export function sampleRatioMismatch(observedCounts: readonly number[], expectedWeights: readonly number[], threshold = 0.001): SampleRatioCheck {
  if (observedCounts.length !== expectedWeights.length || observedCounts.length < 2) {
    throw new RangeError("sampleRatioMismatch needs one count per weight, and at least 2 variants");
  }
  observedCounts.forEach((c) => checkCount(c, "observed count"));
  if (expectedWeights.some((w) => !(w > 0) || !Number.isFinite(w))) throw new RangeError("weights must be positive and finite");
  const total = observedCounts.reduce((a, b) => a + b, 0);
  const weightSum = expectedWeights.reduce((a, b) => a + b, 0);
  const df = observedCounts.length - 1;
  if (total === 0) return { statistic: 0, df, pValue: 1, reliable: false, mismatch: false };
  let statistic = 0;
  let reliable = true;
  observedCounts.forEach((observed, i) => {
    const expected = (total * expectedWeights[i]) / weightSum;
    if (expected < 5) reliable = false;
    statistic += ((observed - expected) * (observed - expected)) / expected;
  });
  const pValue = chiSquareSf(statistic, df);
  return { statistic, df, pValue, reliable, mismatch: reliable && pValue < threshold };
}

// ---------------------------------------------------------------------------------------------
// Multiple comparisons

/**
 * Holm–Bonferroni adjusted p-values, in the input order: sorted ascending p(1) ≤ … ≤ p(m),
 *   adj(i) = min(1, max over j ≤ i of (m - j + 1)·p(j)).
 * Rejecting where adj < α controls the family-wise error rate at α; the max makes the
 * adjusted values monotone in the raw ones. Valid for any dependence between the tests.
 */
export function holmAdjust(pValues: readonly number[]): number[] {
  if (pValues.some((p) => !(p >= 0 && p <= 1))) throw new RangeError("p-values must be in [0, 1]");
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((a, b) => a.p - b.p || a.i - b.i);
  const adjusted = new Array<number>(m);
  let running = 0;
  order.forEach(({ p, i }, rank) => {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  });
  return adjusted;
}

// ---------------------------------------------------------------------------------------------
// Verdict

/** The primary metric's data, one entry per variant (index 0 is the control). */
export type VerdictInput = { metric: "CONVERSION"; variants: readonly ConversionStats[] } | { metric: "SCORE"; variants: readonly ScoreSummary[] };

export type MetricDirection = "HIGHER" | "LOWER";

export interface VerdictOptions {
  /** Subjects every variant needs before anything is decided (and before sequential p-values move). */
  minSamplePerVariant: number;
  /** Default 0.95; α = 1 - confidence. */
  confidence?: number;
  /** Which way is better; default HIGHER (conversions are always HIGHER). */
  direction?: MetricDirection;
  /**
   * The always-valid p-values so far, indexed like `variants` (index 0 ignored); missing or
   * null means no look yet. Pass back `Verdict.sequentialPValues` of the previous look.
   */
  previousSequentialPValues?: readonly (number | null | undefined)[];
  /** Fixed mixing variance τ² for every comparison; when absent, see `horizonPerVariant`. */
  tau2?: number;
  /**
   * Subjects per variant where sensitivity matters most, for recommendedTau2 with the current
   * per-subject variance estimate. Default max(minSamplePerVariant, 100).
   */
  horizonPerVariant?: number;
}

export type VerdictStatus = "INSUFFICIENT_DATA" | "NO_DIFFERENCE_YET" | "WINNER";

/** One treatment against the control. */
export interface VariantComparison {
  /** The treatment's variant index (≥ 1). */
  variant: number;
  /** Fixed-horizon statistics, for display (their p-value is NOT used for the verdict). */
  comparison: ProportionComparison | MeanComparison;
  /** The mixing variance used for this comparison. */
  tau2: number;
  /** The mSPRT likelihood ratio at this look (1 while data are insufficient). */
  likelihoodRatio: number;
  /** Always-valid p-value: running minimum of 1/Λ over the looks with sufficient data. */
  sequentialPValue: number;
  /** sequentialPValue after Holm's adjustment over all treatments. */
  adjustedPValue: number;
  /** adjustedPValue < α (with sufficient data). */
  significant: boolean;
  /** The side the point estimate favours under the metric direction; null on an exact tie. */
  better: "TREATMENT" | "CONTROL" | null;
}

export interface Verdict {
  status: VerdictStatus;
  /** The winning variant index when status is WINNER (0 = control), else null. */
  winner: number | null;
  /** One entry per treatment, in variant order. */
  comparisons: VariantComparison[];
  /** Always-valid p-values to store for the next look, indexed like the variants (null at 0). */
  sequentialPValues: (number | null)[];
}

/** D, V and the summed per-subject variance (σC² + σT²) the mSPRT needs; null when not estimable. */
function sequentialInputs(input: VerdictInput, i: number): { diff: number; variance: number; perSubject: number } | null {
  if (input.metric === "CONVERSION") {
    const c = input.variants[0];
    const t = input.variants[i];
    if (c.exposures === 0 || t.exposures === 0) return null;
    // Under the null both arms share one rate: the pooled estimate is the efficient variance.
    const pooled = (c.conversions + t.conversions) / (c.exposures + t.exposures);
    const perSubject = pooled * (1 - pooled);
    return {
      diff: t.conversions / t.exposures - c.conversions / c.exposures,
      variance: perSubject * (1 / c.exposures + 1 / t.exposures),
      perSubject: 2 * perSubject,
    };
  }
  const c = input.variants[0];
  const t = input.variants[i];
  if (c.n < 2 || t.n < 2) return null;
  return { diff: t.mean - c.mean, variance: c.variance / c.n + t.variance / t.n, perSubject: c.variance + t.variance };
}

/**
 * The verdict of a test at this look:
 *   - INSUFFICIENT_DATA when any variant has fewer than minSamplePerVariant subjects (exposures
 *     for CONVERSION, n for SCORE). Sequential p-values are not updated then (a minimum over
 *     fewer looks stays valid), so a noisy start cannot lock in a small p-value.
 *   - Otherwise each treatment i is compared with the control: Λ_i by the mSPRT, its running
 *     always-valid p-value p_i = min(previous_i, 1/Λ_i), and Holm's adjustment over all
 *     treatments. Comparison i is significant when adjusted p_i < α = 1 - confidence.
 *   - WINNER i ≥ 1: among significant comparisons whose observed difference favours the
 *     treatment (per direction), the one with the largest observed improvement.
 *   - WINNER 0 (control): no treatment wins, and every comparison is significant in the
 *     control's favour.
 *   - NO_DIFFERENCE_YET otherwise.
 * The family-wise chance of a false WINNER is at most α however often this is called, up to
 * the normal approximation. The side is read from the current estimate.
 */
export function verdict(input: VerdictInput, options: VerdictOptions): Verdict {
  const confidence = options.confidence ?? 0.95;
  const alpha = alphaOf(confidence);
  const direction = options.direction ?? "HIGHER";
  const { variants } = input;
  if (variants.length < 2) throw new RangeError("a test needs a control and at least one treatment");
  if (!(options.minSamplePerVariant >= 0)) throw new RangeError(`minSamplePerVariant must be ≥ 0 (got ${options.minSamplePerVariant})`);
  if (options.tau2 !== undefined && !(options.tau2 > 0)) throw new RangeError(`tau2 must be positive (got ${options.tau2})`);
  const horizon = options.horizonPerVariant ?? Math.max(options.minSamplePerVariant, 100);
  if (!(horizon > 0)) throw new RangeError(`horizonPerVariant must be positive (got ${horizon})`);

  const sizes = input.metric === "CONVERSION" ? input.variants.map((v) => v.exposures) : input.variants.map((v) => v.n);
  const sufficient = sizes.every((n) => n >= options.minSamplePerVariant);
  const sign = direction === "HIGHER" ? 1 : -1;

  const partial = variants.slice(1).map((_, k) => {
    const i = k + 1;
    const comparison =
      input.metric === "CONVERSION"
        ? twoProportionZTest(input.variants[0], input.variants[i], confidence)
        : welchTTest(input.variants[0], input.variants[i], confidence);
    const previous = options.previousSequentialPValues?.[i] ?? null;
    const seq = sequentialInputs(input, i);
    const tau2 = options.tau2 ?? (seq ? recommendedTau2(seq.perSubject / horizon, alpha) : 0);
    const likelihoodRatio = sufficient && seq ? msprtLikelihoodRatio(seq.diff, seq.variance, tau2) : 1;
    const sequentialPValue = alwaysValidPValue(previous, likelihoodRatio);
    const lift = comparison.absoluteLift ?? 0;
    const better: VariantComparison["better"] = lift * sign > 0 ? "TREATMENT" : lift * sign < 0 ? "CONTROL" : null;
    return { variant: i, comparison, tau2, likelihoodRatio, sequentialPValue, better };
  });

  const adjusted = holmAdjust(partial.map((c) => c.sequentialPValue));
  const comparisons: VariantComparison[] = partial.map((c, k) => ({
    ...c,
    adjustedPValue: adjusted[k],
    significant: sufficient && adjusted[k] < alpha,
  }));
  const sequentialPValues: (number | null)[] = [null, ...comparisons.map((c) => c.sequentialPValue)];

  if (!sufficient) return { status: "INSUFFICIENT_DATA", winner: null, comparisons, sequentialPValues };
  let best: VariantComparison | null = null;
  for (const c of comparisons) {
    if (!c.significant || c.better !== "TREATMENT") continue;
    if (best === null || (c.comparison.absoluteLift ?? 0) * sign > (best.comparison.absoluteLift ?? 0) * sign) best = c;
  }
  if (best) return { status: "WINNER", winner: best.variant, comparisons, sequentialPValues };
  if (comparisons.every((c) => c.significant && c.better === "CONTROL")) {
    return { status: "WINNER", winner: 0, comparisons, sequentialPValues };
  }
  return { status: "NO_DIFFERENCE_YET", winner: null, comparisons, sequentialPValues };
}
