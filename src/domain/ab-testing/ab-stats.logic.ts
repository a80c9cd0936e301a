// Pure statistics of A/B tests: per-variant intervals, fixed-horizon comparisons of each
// treatment with the control, an always-valid (sequential) p-value that may be looked at after
// every new observation, sample ratio mismatch, Holm's multiple-comparison adjustment, and the
// verdict shown by abTestResults. No I/O; distributions live in ab-stats.distributions.ts.
// Table and simulation tests: tests/ab-stats.test.ts.
//
// Conventions: variant 0 is the control; "lift" is treatment minus control (absolute) or
// (treatment - control) / control (relative); `confidence` is in (0, 1), default 0.95, and
// α = 1 - confidence. Values that cannot be estimated from the data (no subjects, a zero
// control for a relative lift, fewer than 2 observations for a variance) are null, never a
// made-up number, so every field maps onto a nullable GraphQL Float.
import { normalQuantile, normalTwoSidedP, chiSquareSf, tQuantile, tTwoSidedP } from "./ab-stats.distributions.js";

export {
  normalCdf,
  normalQuantile,
  normalSf,
  tCdf,
  tQuantile,
  chiSquareCdf,
  chiSquareSf,
} from "./ab-stats.distributions.js";

/** A two-sided interval estimate. */
export interface Interval {
  low: number;
  high: number;
}

/** CONVERSION data of one variant: subjects exposed, and how many of them converted (once each). */
export interface ConversionStats {
  exposures: number;
  conversions: number;
}

/** SCORE data of one variant: subjects, the mean of their scores and the sample variance (divisor n - 1; 0 when n < 2). */
export interface ScoreSummary {
  n: number;
  mean: number;
  variance: number;
}

/** Sufficient statistics of a variant's scores: n, Σx and Σx² (of x - shift when a shift was used). */
export interface ScoreSums {
  n: number;
  sum: number;
  sumSquares: number;
  /** The constant K subtracted from every score before summing; 0 (the default) when none was. */
  shift?: number;
}

function alphaOf(confidence: number): number {
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1) (got ${confidence})`);
  return 1 - confidence;
}

function checkCount(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${what} must be a non-negative integer (got ${value})`);
}

function checkConversion(s: ConversionStats): void {
  checkCount(s.exposures, "exposures");
  checkCount(s.conversions, "conversions");
  if (s.conversions > s.exposures) throw new RangeError(`conversions (${s.conversions}) exceed exposures (${s.exposures})`);
}

function checkScore(s: ScoreSummary): void {
  checkCount(s.n, "n");
  if (!Number.isFinite(s.mean)) throw new RangeError(`mean must be finite (got ${s.mean})`);
  if (!(s.variance >= 0) || !Number.isFinite(s.variance)) throw new RangeError(`variance must be finite and ≥ 0 (got ${s.variance})`);
}

/**
 * Mean and sample variance from sufficient statistics. With m = Σ(x-K)/n the variance is
 *   (Σ(x-K)² - m·Σ(x-K)) / (n - 1),
 * which never forms n·Σx² (no overflow) and is clamped at 0 (rounding can push it below).
 * The subtraction still loses about log10(Σ(x-K)² / ((n-1)·variance)) digits, so when scores
 * sit far from 0 relative to their spread (e.g. latencies around 10⁶ ± 1), accumulate x - K
 * with K near the typical score and pass it as `shift`; for scores of a few units there is
 * nothing to gain. Summaries of parts can be combined exactly with mergeScoreSummaries.
 */
export function scoreSummaryFromSums(sums: ScoreSums): ScoreSummary {
  const { n, sum, sumSquares } = sums;
  const shift = sums.shift ?? 0;
  checkCount(n, "n");
  if (!Number.isFinite(sum) || !(sumSquares >= 0) || !Number.isFinite(sumSquares)) {
    throw new RangeError(`sum and sumSquares must be finite, sumSquares ≥ 0 (got ${sum}, ${sumSquares})`);
  }
  if (n === 0) return { n: 0, mean: shift, variance: 0 };
  const centered = sum / n;
  const variance = n < 2 ? 0 : Math.max(0, (sumSquares - centered * sum) / (n - 1));
  return { n, mean: shift + centered, variance };
}

/** Combines two disjoint groups' summaries (Chan et al.'s pairwise update; stable, no Σx²). */
export function mergeScoreSummaries(a: ScoreSummary, b: ScoreSummary): ScoreSummary {
  if (a.n === 0) return b;
  if (b.n === 0) return a;
  const n = a.n + b.n;
  const delta = b.mean - a.mean;
  const m2 = a.variance * (a.n - 1) + b.variance * (b.n - 1) + ((delta * delta * a.n) / n) * b.n;
  return { n, mean: a.mean + (delta * b.n) / n, variance: n < 2 ? 0 : m2 / (n - 1) };
}

// ---------------------------------------------------------------------------------------------
// Per-variant intervals

/**
 * Wilson score interval for a proportion: the p with |p̂ - p| ≤ z·√(p(1-p)/n), i.e.
 *   (p̂ + z²/2n ± z·√(p̂(1-p̂)/n + z²/4n²)) / (1 + z²/n),  z = Φ⁻¹(1 - α/2).
 * Stays inside [0, 1] and behaves at 0 or n successes; n = 0 gives {0, 1}.
 */
export function wilsonInterval(successes: number, n: number, confidence = 0.95): Interval {
  const alpha = alphaOf(confidence);
  checkConversion({ exposures: n, conversions: successes });
  if (n === 0) return { low: 0, high: 1 };
  const z = normalQuantile(1 - alpha / 2);
  const p = successes / n;
  const z2n = (z * z) / n;
  const center = (p + z2n / 2) / (1 + z2n);
  const half = (z * Math.sqrt(p * (1 - p) / n + z2n / (4 * n))) / (1 + z2n);
  return {
    low: successes === 0 ? 0 : Math.max(0, center - half),
    high: successes === n ? 1 : Math.min(1, center + half),
  };
}

/** Student t interval for a mean: mean ± t(1-α/2, n-1)·√(variance/n); null when n < 2. */
export function meanInterval(n: number, mean: number, variance: number, confidence = 0.95): Interval | null {
  const alpha = alphaOf(confidence);
  checkScore({ n, mean, variance });
  if (n < 2) return null;
  const half = tQuantile(1 - alpha / 2, n - 1) * Math.sqrt(variance / n);
  return { low: mean - half, high: mean + half };
}

// ---------------------------------------------------------------------------------------------
// Fixed-horizon comparisons (valid when looked at once, at a sample size fixed in advance)

/** A treatment compared with the control. */
export interface Comparison {
  confidence: number;
  /** Control's rate or mean. */
  control: number;
  /** Treatment's rate or mean. */
  treatment: number;
  /** treatment - control; null when an arm has no subjects. */
  absoluteLift: number | null;
  /** (treatment - control) / control; null when control is 0 or an arm has no subjects. */
  relativeLift: number | null;
  /** Interval for absoluteLift at `confidence`; null when it cannot be estimated. */
  interval: Interval | null;
  /**
   * Interval for relativeLift at `confidence` by the delta method on the ratio R = T/C:
   * Var(R) ≈ (Var T + R²·Var C) / C², interval (R - 1) ± crit·√Var(R) with the same critical
   * value as `interval`. Asymptotic: trust it when control is several standard errors from 0.
   */
  relativeInterval: Interval | null;
  /** Standard error of absoluteLift without pooling (the one behind `interval`). */
  standardError: number | null;
  /** Two-sided fixed-horizon p-value for "no difference"; 1 when nothing can be tested. */
  pValue: number;
}

/** Two-proportion comparison; z uses the pooled standard error (the null hypothesis' one). */
export interface ProportionComparison extends Comparison {
  z: number | null;
}

/** Welch comparison of means. */
export interface MeanComparison extends Comparison {
  t: number | null;
  /** Welch–Satterthwaite degrees of freedom; null when an arm has fewer than 2 subjects. */
  df: number | null;
}

function relativeInterval(c: number, t: number, varC: number, varT: number, crit: number): Interval | null {
  if (c === 0) return null;
  const ratio = t / c;
  const se = Math.sqrt(varT + ratio * ratio * varC) / Math.abs(c);
  return { low: ratio - 1 - crit * se, high: ratio - 1 + crit * se };
}

/**
 * Two-proportion z-test of the treatment's conversion rate against the control's.
 *   absolute lift  pT - pC, interval ± z(1-α/2)·√(pC(1-pC)/nC + pT(1-pT)/nT)  (unpooled Wald)
 *   test           z = (pT - pC) / √(p̄(1-p̄)(1/nC + 1/nT)), p̄ pooled rate; p = 2(1 - Φ(|z|))
 *   relative lift  (pT - pC)/pC, delta-method interval (see Comparison.relativeInterval)
 */
export function twoProportionZTest(control: ConversionStats, treatment: ConversionStats, confidence = 0.95): ProportionComparison {
  const alpha = alphaOf(confidence);
  checkConversion(control);
  checkConversion(treatment);
  const nC = control.exposures;
  const nT = treatment.exposures;
  const pC = nC > 0 ? control.conversions / nC : 0;
  const pT = nT > 0 ? treatment.conversions / nT : 0;
  if (nC === 0 || nT === 0) {
    return { confidence, control: pC, treatment: pT, absoluteLift: null, relativeLift: null, interval: null, relativeInterval: null, standardError: null, pValue: 1, z: null };
  }
  const diff = pT - pC;
  const varC = (pC * (1 - pC)) / nC;
  const varT = (pT * (1 - pT)) / nT;
  const se = Math.sqrt(varC + varT);
  const crit = normalQuantile(1 - alpha / 2);
  const pooled = (control.conversions + treatment.conversions) / (nC + nT);
  const pooledSe = Math.sqrt(pooled * (1 - pooled) * (1 / nC + 1 / nT));
  // pooledSe = 0 only when nobody or everybody converted in both arms, so diff = 0 too.
  const z = pooledSe > 0 ? diff / pooledSe : null;
  return {
    confidence,
    control: pC,
    treatment: pT,
    absoluteLift: diff,
    relativeLift: pC > 0 ? diff / pC : null,
    interval: { low: diff - crit * se, high: diff + crit * se },
    relativeInterval: relativeInterval(pC, pT, varC, varT, crit),
    standardError: se,
    pValue: z === null ? 1 : normalTwoSidedP(z),
    z,
  };
}

/**
 * Welch's t-test of the treatment's mean score against the control's (unequal variances).
 *   SE² = sC²/nC + sT²/nT,  t = (mT - mC)/SE,
 *   df = SE⁴ / ((sC²/nC)²/(nC-1) + (sT²/nT)²/(nT-1))   (Welch–Satterthwaite)
 *   interval (mT - mC) ± t(1-α/2, df)·SE,  p = 2·P(T_df ≥ |t|)
 * Needs 2 subjects per arm. When both variances are 0 (SE = 0) the data cannot be tested by t:
 * t is null, df = nC + nT - 2, the interval is the point, and p is 1 if the means are equal,
 * else 0 (identical scores within each arm, different between arms).
 */
export function welchTTest(control: ScoreSummary, treatment: ScoreSummary, confidence = 0.95): MeanComparison {
  const alpha = alphaOf(confidence);
  checkScore(control);
  checkScore(treatment);
  const nC = control.n;
  const nT = treatment.n;
  const empty = nC === 0 || nT === 0;
  const diff = treatment.mean - control.mean;
  const base = {
    confidence,
    control: control.mean,
    treatment: treatment.mean,
    absoluteLift: empty ? null : diff,
    relativeLift: empty || control.mean === 0 ? null : diff / control.mean,
  };
  if (nC < 2 || nT < 2) {
    return { ...base, interval: null, relativeInterval: null, standardError: null, pValue: 1, t: null, df: null };
  }
  const varC = control.variance / nC;
  const varT = treatment.variance / nT;
  const se2 = varC + varT;
  const se = Math.sqrt(se2);
  if (se === 0) {
    const point = { low: diff, high: diff };
    return {
      ...base,
      interval: point,
      relativeInterval: base.relativeLift === null ? null : { low: base.relativeLift, high: base.relativeLift },
      standardError: 0,
      pValue: diff === 0 ? 1 : 0,
      t: null,
      df: nC + nT - 2,
    };
  }
  const df = (se2 * se2) / ((varC * varC) / (nC - 1) + (varT * varT) / (nT - 1));
  const t = diff / se;
  const crit = tQuantile(1 - alpha / 2, df);
  return {
    ...base,
    interval: { low: diff - crit * se, high: diff + crit * se },
    relativeInterval: relativeInterval(control.mean, treatment.mean, varC, varT, crit),
    standardError: se,
    pValue: tTwoSidedP(t, df),
    t,
    df,
  };
}

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
