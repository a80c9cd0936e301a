// Pure rules of assigning subjects to the variants of an A/B test. Assignment is a function of
// (test id, subject key) alone, so a subject sees the same variant on every request, on every
// server, with nothing stored; different tests hash differently, so a subject's variant in one
// test says nothing about its variant in another. Tests: tests/ab-assignment.test.ts.
import { createHash } from "node:crypto";

const TWO_POW_53 = 2 ** 53;

function checkWeights(weights: readonly number[]): number {
  if (weights.length === 0) throw new RangeError("a test needs at least one variant weight");
  let total = 0;
  for (const w of weights) {
    if (!(w > 0) || !Number.isFinite(w)) throw new RangeError(`variant weights must be positive finite numbers (got ${w})`);
    total += w;
  }
  return total;
}

/**
 * The subject's uniform number in [0, 1) for a test: the first 8 bytes of
 * SHA-256(`${testId}:${subjectKey}`) read big-endian, of which the top 53 bits (all a double
 * holds exactly) are divided by 2⁵³. Ids are expected not to contain ":" themselves, which
 * would let ("a:b", "c") and ("a", "b:c") meet.
 */
export function assignmentHash(testId: string, subjectKey: string): number {
  const digest = createHash("sha256").update(`${testId}:${subjectKey}`, "utf8").digest();
  return Number(digest.readBigUInt64BE(0) >> 11n) / TWO_POW_53;
}

/**
 * The variant index owning `u` ∈ [0, 1) when [0, 1) is cut into consecutive slices
 * proportional to the weights: the first i with u·Σw < w₀ + … + wᵢ.
 */
export function variantForUnit(u: number, weights: readonly number[]): number {
  const total = checkWeights(weights);
  if (!(u >= 0 && u < 1)) throw new RangeError(`u must be in [0, 1) (got ${u})`);
  const target = u * total;
  let cumulative = 0;
  for (let i = 0; i < weights.length; i++) {
    cumulative += weights[i];
    if (target < cumulative) return i;
  }
  return weights.length - 1; // rounding in the running sum: u is in the last slice
}

/**
 * Deterministic assignment: the same (testId, subjectKey, weights) always gives the same
 * variant index. Weights are positive and need not sum to 1 ([1, 3] sends a quarter of the
 * subjects to variant 0). Changing the weights of a running test moves some subjects.
 */
export function assignVariant(testId: string, subjectKey: string, weights: readonly number[]): number {
  checkWeights(weights);
  return variantForUnit(assignmentHash(testId, subjectKey), weights);
}

/** A random variant index with probabilities proportional to the weights, for anonymous traffic. */
export function randomVariant(weights: readonly number[], random: () => number = Math.random): number {
  return variantForUnit(random(), weights);
}
