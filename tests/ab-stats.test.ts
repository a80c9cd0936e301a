// Reference values: computed independently with python3 + scipy 1.17 (scipy.stats norm/t/chi2,
// ttest_ind(equal_var=False) and its confidence_interval, chisquare; Wilson bounds by brentq on
// (p̂ - p)² = z²p(1-p)/n; mSPRT likelihood ratios by scipy.integrate.quad over the normal
// mixture; the τ² ratio by brentq on the derivative of the threshold), pasted as literals.
import { describe, expect, it } from "vitest";
import {
  lnGamma,
  regularizedBeta,
  regularizedGammaP,
  tPdf,
  tTwoSidedP,
} from "../src/domain/ab-testing/ab-stats.distributions.js";
import {
  chiSquareCdf,
  chiSquareSf,
  meanInterval,
  mergeScoreSummaries,
  normalCdf,
  normalQuantile,
  normalSf,
  scoreSummaryFromSums,
  tCdf,
  tQuantile,
  twoProportionZTest,
  welchTTest,
  wilsonInterval,
  type ConversionStats,
  type ScoreSummary,
} from "../src/domain/ab-testing/ab-stats.logic.js";
import {
  alwaysValidPValue,
  holmAdjust,
  msprtLikelihoodRatio,
  msprtOptimalTau2Ratio,
  msprtPValue,
  recommendedTau2,
  sampleRatioMismatch,
  verdict,
} from "../src/domain/ab-testing/ab-verdict.logic.js";

/** |actual - expected| ≤ rel·|expected| (or ≤ rel when expected is 0). */
function close(actual: number | null | undefined, expected: number, rel = 1e-9): void {
  expect(actual).toBeTypeOf("number");
  const a = actual as number;
  const tolerance = expected === 0 ? rel : rel * Math.abs(expected);
  if (!(Math.abs(a - expected) <= tolerance)) {
    throw new Error(`expected ${expected}, got ${a} (relative error ${Math.abs(a - expected) / Math.abs(expected || 1)}, allowed ${rel})`);
  }
}

describe("distributions", () => {
  it.each([
    [1.96, 0.9750021048517795],
    [-8, 6.22096057427174e-16],
    [-20, 2.7536241186061556e-89],
    [-37.5, 4.605353009581954e-308],
    [0, 0.5],
  ])("Φ(%d) = %d", (z, p) => close(normalCdf(z), p, 1e-12));

  it("normal upper tail and quantile", () => {
    close(normalSf(8), 6.22096057427174e-16, 1e-12);
    close(normalQuantile(0.975), 1.959963984540054, 1e-14);
    close(normalQuantile(1e-12), -7.034483825301131, 1e-13);
    close(normalQuantile(0.3), -0.5244005127080409, 1e-13);
    expect(normalQuantile(0)).toBe(-Infinity);
    expect(normalQuantile(1)).toBe(Infinity);
    for (const p of [1e-200, 1e-9, 0.01, 0.5 - 1e-9, 0.77, 0.999999]) close(normalCdf(normalQuantile(p)), p, 1e-13);
  });

  it.each([
    [2.228138851986, 10, 0.9749999999999883],
    [-7.5, 3, 0.002455487462994151],
    [-4.2, 2.5, 0.017482154362840667],
    [1.3, 1e6, 0.9031993655954373],
    [0, 7, 0.5],
  ])("t CDF at %d with df %d = %d", (t, df, p) => close(tCdf(t, df), p, 1e-11));

  it("t tails, density and quantiles", () => {
    close(tCdf(-12, 40), 3.91208565212799e-15, 1e-10);
    close(tTwoSidedP(-12, 40), 2 * 3.91208565212799e-15, 1e-10);
    close(tPdf(0, 1), 1 / Math.PI, 1e-14);
    close(tQuantile(0.975, 5), 2.570581835636, 1e-12);
    close(tQuantile(0.975, 5), 2.5705818356363146, 1e-13);
    close(tQuantile(1e-9, 4), -234.02761040611892, 1e-12);
    close(tQuantile(0.9, 17.35), 1.332292725088782, 1e-12);
    close(tQuantile(0.995, 1), 63.656741162871526, 1e-12);
  });

  it("chi-square and the special functions behind it", () => {
    close(chiSquareSf(3.841458820694124, 1), 0.05, 1e-12);
    close(chiSquareSf(7.814727903251178, 3), 0.05, 1e-12);
    close(chiSquareSf(60, 2), 9.357622968840163e-14, 1e-12);
    close(chiSquareSf(150, 9), 8.819629954805395e-28, 1e-11);
    close(chiSquareCdf(0.5, 4), 0.026499021160743912, 1e-12);
    close(lnGamma(0.5), 0.5 * Math.log(Math.PI), 1e-15);
    close(lnGamma(10), Math.log(362880), 1e-15);
    close(regularizedGammaP(1, 2), 1 - Math.exp(-2), 1e-14);
    close(regularizedBeta(0.3, 1, 1), 0.3, 1e-14);
    close(regularizedBeta(0.3, 2, 3), 0.3483, 1e-13); // 1 - (1-x)^3 (1+3x) for a=2, b=3
  });
});

describe("per-variant intervals", () => {
  it.each([
    [81, 263, 0.95, 0.2552885198782743, 0.3662095769828004],
    [3, 7, 0.99, 0.11637368051613811, 0.8102850959116125],
    [1, 1000, 0.95, 0.00017654637062607803, 0.0056425585979579355],
    [0, 20, 0.95, 0, 0.16112515805281935],
    [20, 20, 0.9, 0.8808421626390355, 1],
  ])("Wilson %d/%d at %d", (successes, n, confidence, low, high) => {
    const interval = wilsonInterval(successes, n, confidence);
    close(interval.low, low, 1e-9);
    close(interval.high, high, 1e-9);
  });

  it("Wilson with no data is [0, 1]; bad input throws", () => {
    expect(wilsonInterval(0, 0)).toEqual({ low: 0, high: 1 });
    expect(() => wilsonInterval(5, 4)).toThrow(RangeError);
    expect(() => wilsonInterval(1, 4, 1)).toThrow(RangeError);
  });

  it("t interval for a mean", () => {
    const i = meanInterval(15, 20.82, 7.867428571428571, 0.95)!;
    close(i.low, 19.26670165245124, 1e-12);
    close(i.high, 22.373298347548754, 1e-12);
    const j = meanInterval(5, 10, 2.5, 0.99)!;
    close(j.low, 6.744413295242215, 1e-12);
    close(j.high, 13.255586704757786, 1e-12);
    expect(meanInterval(1, 3, 0)).toBeNull();
  });

  it("score summaries from sums, merged, and with a shift", () => {
    const a = scoreSummaryFromSums({ n: 15, sum: 312.29999999999995, sumSquares: 6612.2300000000005 });
    close(a.mean, 20.819999999999997, 1e-14);
    close(a.variance, 7.867428571428571, 1e-11);
    const xs = [3, 4, 4, 5, 9, 1, 2];
    const part = (v: number[]) => scoreSummaryFromSums({ n: v.length, sum: v.reduce((s, x) => s + x, 0), sumSquares: v.reduce((s, x) => s + x * x, 0) });
    const merged = mergeScoreSummaries(part(xs.slice(0, 3)), part(xs.slice(3)));
    const whole = part(xs);
    close(merged.mean, whole.mean, 1e-14);
    close(merged.variance, whole.variance, 1e-13);
    close(whole.variance, 20 / 3, 1e-13); // mean 4, Σ(x-4)² = 40, / 6
    // Scores around 1e9 with unit spread: plain sums lose every digit, shifted sums keep them.
    const big = [1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4];
    const shifted = big.map((x) => x - 1e9);
    const s = scoreSummaryFromSums({ n: 4, sum: shifted.reduce((p, x) => p + x, 0), sumSquares: shifted.reduce((p, x) => p + x * x, 0), shift: 1e9 });
    close(s.mean, 1e9 + 2.5, 1e-15);
    close(s.variance, 5 / 3, 1e-14);
    expect(scoreSummaryFromSums({ n: 1, sum: 4, sumSquares: 16 })).toEqual({ n: 1, mean: 4, variance: 0 });
  });
});

describe("two-proportion z-test", () => {
  it.each([
    // control, treatment, confidence, z, p, interval, relative interval
    [[1000, 100], [1000, 130], 0.95, 2.102740605622114, 0.03548845046647471, [0.0020679344393763656, 0.057932065560623636], [-0.019179397713587065, 0.6191793977135871]],
    [[5000, 480], [5200, 560], 0.9, 1.9508442100691732, 0.051075580929469545, [0.001845616368236368, 0.021538999016379026], [0.012995394310979333, 0.23059434927876432]],
    [[400, 12], [380, 9], 0.99, -0.5447110746384036, 0.585952246844013, [-0.036088711356376285, 0.02345713240900787], [-1.0953256807468033, 0.6742730491678559]],
  ])("%j vs %j", (c, t, confidence, z, p, interval, relative) => {
    const r = twoProportionZTest({ exposures: c[0], conversions: c[1] }, { exposures: t[0], conversions: t[1] }, confidence);
    close(r.absoluteLift, t[1] / t[0] - c[1] / c[0], 1e-14);
    close(r.relativeLift, (t[1] / t[0] - c[1] / c[0]) / (c[1] / c[0]), 1e-13);
    close(r.z, z, 1e-12);
    close(r.pValue, p, 1e-10);
    close(r.interval!.low, interval[0], 1e-10);
    close(r.interval!.high, interval[1], 1e-10);
    close(r.relativeInterval!.low, relative[0], 1e-10);
    close(r.relativeInterval!.high, relative[1], 1e-10);
  });

  it("degenerate data gives nulls and p = 1, not invented numbers", () => {
    const empty = twoProportionZTest({ exposures: 0, conversions: 0 }, { exposures: 10, conversions: 2 });
    expect(empty).toMatchObject({ absoluteLift: null, relativeLift: null, interval: null, z: null, pValue: 1 });
    const none = twoProportionZTest({ exposures: 50, conversions: 0 }, { exposures: 60, conversions: 0 });
    expect(none).toMatchObject({ absoluteLift: 0, relativeLift: null, relativeInterval: null, z: null, pValue: 1 });
  });
});

describe("Welch t-test", () => {
  // Two samples of 15 (the classic unequal-variance illustration), treatment = B, control = A.
  const A = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4];
  const B = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4];
  const summarize = (v: number[]): ScoreSummary => scoreSummaryFromSums({ n: v.length, sum: v.reduce((s, x) => s + x, 0), sumSquares: v.reduce((s, x) => s + x * x, 0) });

  it("matches scipy.stats.ttest_ind(equal_var=False)", () => {
    const r = welchTTest(summarize(A), summarize(B), 0.95);
    close(r.t, 2.455356398286006, 1e-10);
    close(r.df, 24.988529290231416, 1e-10);
    close(r.pValue, 0.021378001462866992, 1e-9);
    close(r.interval!.low, 0.3492370661924069, 1e-9);
    close(r.interval!.high, 3.984096267140929, 1e-9);
    close(r.relativeLift, 0.10406660262568046, 1e-12);
    close(r.relativeInterval!.low, 0.010558124962792403, 1e-9);
    close(r.relativeInterval!.high, 0.19757508028856852, 1e-9);
  });

  it("from summaries with unequal n, at 90%", () => {
    const r = welchTTest({ n: 25, mean: 4.6, variance: 0.64 }, { n: 40, mean: 3.9, variance: 2.25 }, 0.9);
    close(r.t, -2.4467449360156315, 1e-12);
    close(r.pValue, 0.017274269916936282, 1e-10);
    close(r.df, 61.7820022239182, 1e-12);
    close(r.interval!.low, -1.1777471732312699, 1e-10);
    close(r.interval!.high, -0.22225282676872948, 1e-10);
  });

  it("too few subjects or no variance", () => {
    expect(welchTTest({ n: 1, mean: 2, variance: 0 }, { n: 10, mean: 3, variance: 1 })).toMatchObject({ t: null, df: null, interval: null, pValue: 1, absoluteLift: 1 });
    expect(welchTTest({ n: 5, mean: 2, variance: 0 }, { n: 5, mean: 2, variance: 0 })).toMatchObject({ t: null, pValue: 1, absoluteLift: 0 });
    expect(welchTTest({ n: 5, mean: 0, variance: 1 }, { n: 5, mean: 2, variance: 1 }).relativeLift).toBeNull();
  });
});

describe("mSPRT always-valid p-values", () => {
  it.each([
    [0.02, 1e-4, 4e-4, 2.2150634391416135],
    [0, 2e-3, 1e-2, 0.408248290463863],
    [-1.5, 0.25, 2, 18.199383344381417],
    [0.03, 4e-5, 3.3e-4, 7491.1080889711375],
  ])("Λ(D=%d, V=%d, τ²=%d) equals the mixture integral", (d, v, tau2, expected) => {
    close(msprtLikelihoodRatio(d, v, tau2), expected, 1e-10);
  });

  it("running minimum and degenerate inputs", () => {
    expect(alwaysValidPValue(null, 4)).toBe(0.25);
    expect(alwaysValidPValue(0.1, 4)).toBe(0.1);
    expect(alwaysValidPValue(0.5, 0.5)).toBe(0.5); // 1/Λ > 1 never raises p above the previous
    expect(alwaysValidPValue(null, 0.5)).toBe(1);
    close(msprtPValue(0.02, 1e-4, 4e-4, null), 1 / 2.2150634391416135, 1e-10);
    expect(msprtLikelihoodRatio(0, 0, 1)).toBe(1);
    expect(msprtLikelihoodRatio(0.1, 0, 1)).toBe(Infinity);
    expect(msprtLikelihoodRatio(0.1, 0.01, 0)).toBe(1);
    expect(() => msprtLikelihoodRatio(0.1, -1, 1)).toThrow(RangeError);
  });

  it("τ² ratio minimises the rejection threshold at the horizon", () => {
    close(msprtOptimalTau2Ratio(0.05), 8.211968062068253, 1e-12);
    close(msprtOptimalTau2Ratio(0.01), 11.756371222495419, 1e-12);
    close(msprtOptimalTau2Ratio(0.1), 6.638352067993813, 1e-12);
    close(recommendedTau2(2e-4, 0.05), 8.211968062068253 * 2e-4, 1e-8);
    // at the horizon (V = V_H) the test rejects from |z| ≈ 3.0351 on
    const v = 1e-4;
    const tau2 = recommendedTau2(v, 0.05);
    expect(msprtPValue(3.03 * Math.sqrt(v), v, tau2)).toBeGreaterThan(0.05);
    expect(msprtPValue(3.04 * Math.sqrt(v), v, tau2)).toBeLessThan(0.05);
  });
});

describe("sample ratio mismatch", () => {
  it.each([
    [[5000, 5400], [1, 1], 15.384615384615385, 8.769942375590228e-5, true],
    [[5000, 5050], [1, 1], 0.24875621890547264, 0.6179522266795625, false],
    [[1010, 1980, 3050], [1, 2, 3], 0.8609271523178785, 0.6502076041031607, false],
    [[2480, 7520], [0.25, 0.75], 0.21333333333333335, 0.6441672226837103, false],
  ])("%j with weights %j", (counts, weights, statistic, p, mismatch) => {
    const r = sampleRatioMismatch(counts, weights);
    close(r.statistic, statistic, 1e-12);
    close(r.pValue, p, 1e-10);
    expect(r.df).toBe(counts.length - 1);
    expect(r.reliable).toBe(true);
    expect(r.mismatch).toBe(mismatch);
  });

  it("does not flag small totals", () => {
    const r = sampleRatioMismatch([0, 9], [1, 1]);
    expect(r.pValue).toBeLessThan(0.01);
    expect(r).toMatchObject({ reliable: false, mismatch: false });
    expect(sampleRatioMismatch([0, 0], [1, 1])).toMatchObject({ statistic: 0, pValue: 1, mismatch: false });
    expect(() => sampleRatioMismatch([1, 2], [1])).toThrow(RangeError);
  });
});

describe("Holm adjustment", () => {
  it.each([
    [[0.01, 0.04, 0.03, 0.005], [0.03, 0.06, 0.06, 0.02]],
    [[0.5], [0.5]],
    [[0.02, 0.02], [0.04, 0.04]],
    [[0.04, 0.6, 0.3], [0.12, 0.6, 0.6]],
    [[0.4, 0.3, 0.001], [0.6, 0.6, 0.003]],
    [[], []],
  ])("%j → %j", (raw, adjusted) => {
    const got = holmAdjust(raw);
    expect(got).toHaveLength(adjusted.length);
    got.forEach((p, i) => close(p, adjusted[i], 1e-12));
  });

  it("clamps at 1", () => {
    expect(holmAdjust([0.6, 0.9])).toEqual([1, 1]);
    expect(() => holmAdjust([1.2])).toThrow(RangeError);
  });
});

describe("verdict", () => {
  const conv = (exposures: number, conversions: number): ConversionStats => ({ exposures, conversions });

  it("INSUFFICIENT_DATA below the minimum, without moving the sequential p-values", () => {
    const r = verdict({ metric: "CONVERSION", variants: [conv(1000, 100), conv(999, 200)] }, { minSamplePerVariant: 1000, previousSequentialPValues: [null, 0.5] });
    expect(r.status).toBe("INSUFFICIENT_DATA");
    expect(r.winner).toBeNull();
    expect(r.sequentialPValues).toEqual([null, 0.5]);
    expect(r.comparisons[0]).toMatchObject({ variant: 1, likelihoodRatio: 1, significant: false, better: "TREATMENT" });
    expect(r.comparisons[0].comparison.pValue).toBeLessThan(1e-6); // fixed-horizon stats are still shown
  });

  it("WINNER for a clearly better treatment; Λ uses the pooled variance and the recommended τ²", () => {
    const r = verdict({ metric: "CONVERSION", variants: [conv(10_000, 1000), conv(10_000, 1200)] }, { minSamplePerVariant: 1000 });
    expect(r).toMatchObject({ status: "WINNER", winner: 1 });
    const pooled = 2200 / 20_000;
    const v = pooled * (1 - pooled) * (2 / 10_000);
    const tau2 = 8.211968062068253 * (2 * pooled * (1 - pooled)) / 1000; // horizon = minSamplePerVariant
    close(r.comparisons[0].tau2, tau2, 1e-8);
    close(r.comparisons[0].likelihoodRatio, msprtLikelihoodRatio(0.02, v, tau2), 1e-6);
    close(r.sequentialPValues[1]!, 1 / r.comparisons[0].likelihoodRatio, 1e-12);
    expect(r.comparisons[0]).toMatchObject({ significant: true, better: "TREATMENT" });
  });

  it("the sequential p-value is carried from earlier looks", () => {
    const variants = [conv(2000, 200), conv(2000, 205)];
    const fresh = verdict({ metric: "CONVERSION", variants }, { minSamplePerVariant: 100 });
    expect(fresh.status).toBe("NO_DIFFERENCE_YET");
    const carried = verdict({ metric: "CONVERSION", variants }, { minSamplePerVariant: 100, previousSequentialPValues: [null, 0.001] });
    expect(carried).toMatchObject({ status: "WINNER", winner: 1, sequentialPValues: [null, 0.001] });
  });

  it("several treatments: Holm-adjusted, the best significant one wins", () => {
    const r = verdict(
      { metric: "CONVERSION", variants: [conv(10_000, 1000), conv(10_000, 1150), conv(10_000, 1300), conv(10_000, 1010)] },
      { minSamplePerVariant: 1000 },
    );
    expect(r).toMatchObject({ status: "WINNER", winner: 2 });
    const [t1, t2, t3] = r.comparisons;
    // T1 alone would pass (sequential p ≈ 0.03 < 0.05) but not after Holm (×2).
    expect(t1.sequentialPValue).toBeLessThan(0.05);
    expect(t1.adjustedPValue).toBeGreaterThan(0.05);
    close(t1.adjustedPValue, 2 * t1.sequentialPValue, 1e-12);
    close(t2.adjustedPValue, 3 * t2.sequentialPValue, 1e-12);
    expect([t1.significant, t2.significant, t3.significant]).toEqual([false, true, false]);
  });

  it("the control wins only when it beats every treatment", () => {
    const worse = verdict({ metric: "CONVERSION", variants: [conv(10_000, 1300), conv(10_000, 1000)] }, { minSamplePerVariant: 1000 });
    expect(worse).toMatchObject({ status: "WINNER", winner: 0 });
    expect(worse.comparisons[0]).toMatchObject({ significant: true, better: "CONTROL" });
    const mixed = verdict({ metric: "CONVERSION", variants: [conv(10_000, 1300), conv(10_000, 1000), conv(10_000, 1290)] }, { minSamplePerVariant: 1000 });
    expect(mixed).toMatchObject({ status: "NO_DIFFERENCE_YET", winner: null });
  });

  it("SCORE with a direction", () => {
    const variants: ScoreSummary[] = [{ n: 2000, mean: 5, variance: 4 }, { n: 2000, mean: 4.6, variance: 4 }];
    expect(verdict({ metric: "SCORE", variants }, { minSamplePerVariant: 500, direction: "LOWER" })).toMatchObject({ status: "WINNER", winner: 1 });
    expect(verdict({ metric: "SCORE", variants }, { minSamplePerVariant: 500, direction: "HIGHER" })).toMatchObject({ status: "WINNER", winner: 0 });
    const r = verdict({ metric: "SCORE", variants }, { minSamplePerVariant: 500, tau2: 0.01 });
    close(r.comparisons[0].likelihoodRatio, msprtLikelihoodRatio(-0.4, 4 / 2000 + 4 / 2000, 0.01), 1e-12);
  });

  it("rejects malformed input", () => {
    expect(() => verdict({ metric: "CONVERSION", variants: [conv(1, 0)] }, { minSamplePerVariant: 1 })).toThrow(RangeError);
    expect(() => verdict({ metric: "CONVERSION", variants: [conv(1, 0), conv(1, 2)] }, { minSamplePerVariant: 1 })).toThrow(RangeError);
    expect(() => verdict({ metric: "CONVERSION", variants: [conv(1, 0), conv(1, 0)] }, { minSamplePerVariant: 1, confidence: 95 })).toThrow(RangeError);
  });
});

// ---------------------------------------------------------------------------------------------
// Simulation: peeking after every batch

/** Seeded uniform [0, 1): a Weyl sequence scrambled by the murmur3 32-bit finalizer. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    z ^= z >>> 16;
    return (z >>> 0) / 4294967296;
  };
}

interface SimulationOutcome {
  /** Tests where the sequential verdict declared any winner at some look. */
  sequentialWinner: number;
  /** Tests where it declared the treatment (variant 1). */
  sequentialTreatment: number;
  /** Tests where the naive z-test had p < 0.05 at some look. */
  naiveWinner: number;
}

function simulate(rates: [number, number], tests: number, seed: number): SimulationOutcome {
  const random = seededRandom(seed);
  const outcome: SimulationOutcome = { sequentialWinner: 0, sequentialTreatment: 0, naiveWinner: 0 };
  for (let test = 0; test < tests; test++) {
    const counts = [conversion(0, 0), conversion(0, 0)];
    let previous: (number | null)[] = [null, null];
    let decided = false;
    let naive = false;
    for (let batch = 0; batch < 50; batch++) {
      for (const [i, rate] of rates.entries()) {
        let converted = 0;
        for (let k = 0; k < 100; k++) if (random() < rate) converted++;
        counts[i] = conversion(counts[i].exposures + 100, counts[i].conversions + converted);
      }
      const r = verdict({ metric: "CONVERSION", variants: counts }, { minSamplePerVariant: 100, confidence: 0.95, previousSequentialPValues: previous });
      previous = r.sequentialPValues;
      if (!decided && r.status === "WINNER") {
        decided = true;
        outcome.sequentialWinner++;
        if (r.winner === 1) outcome.sequentialTreatment++;
      }
      if (twoProportionZTest(counts[0], counts[1]).pValue < 0.05) naive = true;
    }
    if (naive) outcome.naiveWinner++;
  }
  return outcome;
}

function conversion(exposures: number, conversions: number): ConversionStats {
  return { exposures, conversions };
}

describe("simulation: 400 tests, 50 looks of 100 subjects per variant", () => {
  it("A/A at 10%: sequential false positives ≤ 5%, naive peeking far above", () => {
    const r = simulate([0.1, 0.1], 400, 20261201);
    const sequential = r.sequentialWinner / 400;
    const naive = r.naiveWinner / 400;
    expect(sequential).toBeLessThanOrEqual(0.05);
    expect(naive).toBeGreaterThan(0.05);
    expect(naive).toBeGreaterThan(0.2); // ~30% in theory for 50 looks at α = 0.05
  });

  it("10% vs 13%: the sequential verdict finds the treatment in most tests", () => {
    const r = simulate([0.1, 0.13], 400, 424242);
    expect(r.sequentialTreatment / 400).toBeGreaterThan(0.8);
    expect(r.sequentialWinner).toBe(r.sequentialTreatment); // never the control
  });
});
