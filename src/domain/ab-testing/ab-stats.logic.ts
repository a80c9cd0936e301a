// Pure statistics of A/B tests: per-variant intervals and fixed-horizon comparisons of each
// treatment with the control. The sequential p-value, sample ratio mismatch, Holm's adjustment
// and the verdict are in ab-verdict.logic.ts. No I/O; distributions live in ab-stats.distributions.ts.
// Table and simulation tests: tests/ab-stats.test.ts.
//
// Conventions: variant 0 is the control; "lift" is treatment minus control (absolute) or
// (treatment - control) / control (relative); `confidence` is in (0, 1), default 0.95, and
// α = 1 - confidence. Values that cannot be estimated from the data (no subjects, a zero
// control for a relative lift, fewer than 2 observations for a variance) are null, never a
// made-up number, so every field maps onto a nullable GraphQL Float.
import { normalQuantile, normalTwoSidedP, tQuantile, tTwoSidedP } from "./ab-stats.distributions.js";

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

export function alphaOf(confidence: number): number {
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1) (got ${confidence})`);
  return 1 - confidence;
}

export function checkCount(value: number, what: string): void {
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
