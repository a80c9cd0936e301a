import { describe, expect, it } from "vitest";
import { assignVariant, assignmentHash, randomVariant, variantForUnit } from "../src/domain/ab-testing/ab-assignment.logic.js";
import { sampleRatioMismatch } from "../src/domain/ab-testing/ab-verdict.logic.js";

const SUBJECTS = 100_000;

function shares(testId: string, weights: number[]): number[] {
  const counts = weights.map(() => 0);
  for (let i = 0; i < SUBJECTS; i++) counts[assignVariant(testId, `subject-${i}`, weights)]++;
  return counts.map((c) => c / SUBJECTS);
}

describe("assignmentHash", () => {
  // Reference: python3 hashlib: (int.from_bytes(sha256(f"{t}:{s}").digest()[:8], "big") >> 11) / 2**53
  it.each([
    ["t1", "user-42", 0.6210890281635844],
    ["checkout-test", "alice", 0.02772484438956091],
    ["checkout-test", "bob", 0.43135265492462205],
  ])("%s / %s → %d", (testId, subject, expected) => {
    expect(assignmentHash(testId, subject)).toBe(expected);
  });

  it("is uniform on [0, 1)", () => {
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < SUBJECTS; i++) {
      const u = assignmentHash("uniformity", String(i));
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
    }
    expect(outside).toBe(0);
    // mean of U(0,1) has sd 1/√(12·10⁵) ≈ 0.0009
    expect(Math.abs(sum / SUBJECTS - 0.5)).toBeLessThan(0.004);
  });
});

describe("assignVariant", () => {
  it("is deterministic and follows the hash", () => {
    expect(assignVariant("t1", "user-42", [1, 1])).toBe(1); // u = 0.62
    expect(assignVariant("t1", "user-42", [2, 1])).toBe(0); // 0.62 < 2/3
    expect(assignVariant("checkout-test", "alice", [1, 1, 1])).toBe(0);
    expect(assignVariant("checkout-test", "bob", [1, 1, 1])).toBe(1);
    for (let i = 0; i < 1000; i++) {
      const weights = [1, 2, 3];
      if (assignVariant("repeat", `s${i}`, weights) !== assignVariant("repeat", `s${i}`, [...weights])) throw new Error(`s${i} moved`);
    }
  });

  it.each([
    [[1, 1], [0.5, 0.5]],
    [[1, 3], [0.25, 0.75]],
    [[0.2, 0.3, 0.5], [0.2, 0.3, 0.5]],
    [[2, 1, 1], [0.5, 0.25, 0.25]],
  ])("weights %j give shares %j within 0.01", (weights, expected) => {
    const got = shares(`weights-${weights.join("-")}`, weights);
    got.forEach((share, i) => expect(Math.abs(share - expected[i])).toBeLessThan(0.01));
  });

  it("is independent across tests", () => {
    // Same subjects in two 50/50 tests: the four (variant in A, variant in B) cells should be
    // 25% each; correlation within ~4 standard errors (1/√n) of 0.
    const cells = [0, 0, 0, 0];
    let sa = 0;
    let sb = 0;
    let sab = 0;
    for (let i = 0; i < SUBJECTS; i++) {
      const a = assignVariant("test-A", `user-${i}`, [1, 1]);
      const b = assignVariant("test-B", `user-${i}`, [1, 1]);
      cells[a * 2 + b]++;
      sa += a;
      sb += b;
      sab += a * b;
    }
    const ma = sa / SUBJECTS;
    const mb = sb / SUBJECTS;
    const correlation = (sab / SUBJECTS - ma * mb) / Math.sqrt(ma * (1 - ma) * mb * (1 - mb));
    expect(Math.abs(correlation)).toBeLessThan(4 / Math.sqrt(SUBJECTS));
    cells.forEach((c) => expect(Math.abs(c / SUBJECTS - 0.25)).toBeLessThan(0.01));
    expect(sampleRatioMismatch(cells, [1, 1, 1, 1]).pValue).toBeGreaterThan(0.001);
  });

  it("rejects bad weights", () => {
    for (const weights of [[], [0, 1], [-1, 2], [Number.NaN, 1], [1, Infinity]]) {
      expect(() => assignVariant("t", "s", weights)).toThrow(RangeError);
    }
  });
});

describe("variantForUnit and randomVariant", () => {
  it("cuts [0, 1) into slices proportional to the weights", () => {
    expect(variantForUnit(0, [1, 3])).toBe(0);
    expect(variantForUnit(0.2499999, [1, 3])).toBe(0);
    expect(variantForUnit(0.25, [1, 3])).toBe(1);
    expect(variantForUnit(1 - 2 ** -53, [1, 3])).toBe(1);
    expect(variantForUnit(0.5, [1, 1, 2])).toBe(2);
    expect(variantForUnit(0.49, [1, 1, 2])).toBe(1);
    expect(() => variantForUnit(1, [1, 1])).toThrow(RangeError);
  });

  it("uses the given random source", () => {
    expect(randomVariant([1, 1], () => 0.6)).toBe(1);
    expect(randomVariant([1, 1], () => 0.4)).toBe(0);
    expect(randomVariant([3, 1], () => 0.74)).toBe(0);
    const counts = [0, 0];
    for (let i = 0; i < 20_000; i++) counts[randomVariant([1, 3])]++;
    expect(Math.abs(counts[0] / 20_000 - 0.25)).toBeLessThan(0.03);
  });
});
