import { describe, expect, it } from "vitest";
import { LatencySketch, RELATIVE_ACCURACY } from "../src/domain/analytics/latency-sketch.js";

// mulberry32: small seeded PRNG so every run sees the same data.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(rand: () => number): number {
  const u = 1 - rand();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

const distributions: Record<string, (rand: () => number) => number> = {
  uniform: (r) => 1 + r() * 999,
  lognormal: (r) => Math.exp(Math.log(120) + 0.9 * normal(r)),
  bimodal: (r) => (r() < 0.7 ? Math.max(0.1, 20 + 3 * normal(r)) : Math.max(0.1, 800 + 120 * normal(r))),
  // Pareto(x_m = 5 ms, alpha = 1.1): mean barely finite, p99.9 in the tens of seconds.
  heavyTail: (r) => 5 / Math.pow(1 - r(), 1 / 1.1),
};

const QS = [0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 1];

function sample(dist: (r: () => number) => number, n: number, seed: number): number[] {
  const rand = prng(seed);
  return Array.from({ length: n }, () => dist(rand));
}

function sketchOf(values: readonly number[]): LatencySketch {
  const s = LatencySketch.empty();
  for (const v of values) s.add(v);
  return s;
}

/** The quantile the sketch approximates: the value at sorted position floor(q * (n - 1)). */
function exactQuantile(sorted: readonly number[], q: number): number {
  return sorted[Math.floor(q * (sorted.length - 1))]!;
}

function expectWithinAccuracy(actual: number | null, exact: number): void {
  expect(actual).not.toBeNull();
  // 1e-9 of slack for floating-point rounding in log/pow at bucket boundaries.
  expect(Math.abs(actual! - exact)).toBeLessThanOrEqual(exact * RELATIVE_ACCURACY * (1 + 1e-9));
}

function expectSameSketch(a: LatencySketch, b: LatencySketch): void {
  expect(a.count).toBe(b.count);
  expect(a.zeroCount).toBe(b.zeroCount);
  expect(a.buckets()).toEqual(b.buckets());
  expect(a.min).toBe(b.min);
  expect(a.max).toBe(b.max);
  for (let q = 0; q <= 1; q += 0.001) expect(a.quantile(q)).toBe(b.quantile(q));
}

describe("LatencySketch accuracy", () => {
  for (const [name, dist] of Object.entries(distributions)) {
    it(`answers quantiles within 1% on ${name} data`, () => {
      const values = sample(dist, 50_000, name.length * 7919);
      const sketch = sketchOf(values);
      const sorted = [...values].sort((x, y) => x - y);
      for (const q of QS) expectWithinAccuracy(sketch.quantile(q), exactQuantile(sorted, q));
      expect(sketch.count).toBe(values.length);
      expect(sketch.min).toBe(sorted[0]);
      expect(sketch.max).toBe(sorted.at(-1));
      const exactSum = values.reduce((s, v) => s + v, 0);
      expect(Math.abs(sketch.sum - exactSum)).toBeLessThanOrEqual(exactSum * 1e-12);
    });
  }

  it("handles zero and values from 0.001 ms to 10 minutes", () => {
    const rand = prng(42);
    const values: number[] = [];
    for (let i = 0; i < 500; i++) values.push(0);
    // Log-uniform over 0.001 ms .. 600,000 ms, plus both ends exactly.
    for (let i = 0; i < 20_000; i++) values.push(0.001 * Math.pow(600_000 / 0.001, rand()));
    values.push(0.001, 600_000, 1, 0.98, 0.0011);
    const sketch = sketchOf(values);
    const sorted = [...values].sort((x, y) => x - y);
    for (const q of [...QS, 0.01, 0.02, 0.0245, 0.025, 0.03]) {
      const exact = exactQuantile(sorted, q);
      if (exact === 0) expect(sketch.quantile(q)).toBe(0);
      else expectWithinAccuracy(sketch.quantile(q), exact);
    }
    expect(sketch.zeroCount).toBe(500);
    expect(sketch.min).toBe(0);
    expect(sketch.max).toBe(600_000);
    expect(sketch.quantile(1)).toBe(600_000);

    for (const v of [0.001, 0.0123, 0.98, 1, 1.01, 999.9, 60_000, 600_000]) {
      const single = LatencySketch.empty().add(v);
      expect(single.quantile(0.5)).toBe(v); // clamped to [min, max]
      const twoPoints = LatencySketch.empty().add(v).add(v * 3);
      expectWithinAccuracy(twoPoints.quantile(0), v);
      expectWithinAccuracy(twoPoints.quantile(0.99), v);
      expectWithinAccuracy(twoPoints.quantile(1), v * 3);
      const round = LatencySketch.decode(twoPoints.encode());
      expectSameSketch(round, twoPoints);
    }

    const zeros = LatencySketch.empty().add(0, 10);
    expect(zeros.quantile(0)).toBe(0);
    expect(zeros.quantile(0.99)).toBe(0);
    expect(zeros.count).toBe(10);
    expect(zeros.sum).toBe(0);
    expectSameSketch(LatencySketch.decode(zeros.encode()), zeros);
  });

  it("add(value, count) equals adding the value count times", () => {
    const weighted = LatencySketch.empty().add(12.5, 1000).add(0, 3).add(480, 7).add(1, 0);
    const repeated = LatencySketch.empty();
    for (let i = 0; i < 1000; i++) repeated.add(12.5);
    for (let i = 0; i < 3; i++) repeated.add(0);
    for (let i = 0; i < 7; i++) repeated.add(480);
    expectSameSketch(weighted, repeated);
    expect(weighted.sum).toBe(repeated.sum);
  });

  it("rejects negative and non-finite latencies and bad counts with a RangeError", () => {
    const s = LatencySketch.empty();
    for (const bad of [-1, -0.001, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(() => s.add(bad)).toThrow(RangeError);
    }
    for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => s.add(10, bad)).toThrow(RangeError);
    }
    expect(s.count).toBe(0);
    s.add(5);
    for (const bad of [-0.1, 1.1, Number.NaN]) expect(() => s.quantile(bad)).toThrow(RangeError);
  });
});

describe("LatencySketch empty", () => {
  it("has no quantiles, zero count and sum, and null min/max", () => {
    const e = LatencySketch.empty();
    expect(e.count).toBe(0);
    expect(e.sum).toBe(0);
    expect(e.min).toBeNull();
    expect(e.max).toBeNull();
    expect(e.zeroCount).toBe(0);
    expect(e.buckets()).toEqual([]);
    for (const q of [0, 0.5, 0.99, 1]) expect(e.quantile(q)).toBeNull();
  });

  it("encodes to 3 bytes and merges as a no-op", () => {
    const e = LatencySketch.empty();
    const bytes = e.encode();
    expect(bytes.length).toBe(3);
    const d = LatencySketch.decode(bytes);
    expect(d.count).toBe(0);
    expect(d.quantile(0.5)).toBeNull();
    expect(d.min).toBeNull();

    const s = sketchOf(sample(distributions.lognormal!, 1000, 3));
    const before = s.encode();
    s.merge(LatencySketch.empty()).merge(d);
    expect(s.encode()).toEqual(before);
    const fromEmpty = LatencySketch.empty().merge(s);
    expectSameSketch(fromEmpty, s);
    expect(fromEmpty.sum).toBe(s.sum);
  });
});

describe("LatencySketch merge", () => {
  it("merging many sketches equals the sketch of the concatenated data", () => {
    const rand = prng(7);
    const all: number[] = [];
    const parts: LatencySketch[] = [];
    const dists = Object.values(distributions);
    for (let i = 0; i < 200; i++) {
      const n = Math.floor(rand() * 400); // some parts are empty
      const chunk = sample(dists[i % dists.length]!, n, 1000 + i);
      if (i % 10 === 0) chunk.push(0, 0, 1); // zeros and the 1 ms bucket (index 0)
      all.push(...chunk);
      parts.push(sketchOf(chunk));
    }
    const whole = sketchOf(all);

    const sequential = LatencySketch.empty();
    for (const p of parts) sequential.merge(p);
    expectSameSketch(sequential, whole);
    expect(Math.abs(sequential.sum - whole.sum)).toBeLessThanOrEqual(whole.sum * 1e-12);

    // Order and grouping do not matter: pairwise tree merge, reversed order, via encode/decode.
    let level = parts.map((p) => p.clone());
    while (level.length > 1) {
      const next: LatencySketch[] = [];
      for (let i = 0; i < level.length; i += 2) next.push(i + 1 < level.length ? level[i]!.merge(level[i + 1]!) : level[i]!);
      level = next;
    }
    expectSameSketch(level[0]!, whole);
    const reversed = LatencySketch.empty();
    for (const p of [...parts].reverse()) reversed.merge(LatencySketch.decode(p.encode()));
    expectSameSketch(reversed, whole);
    const fromBlobs = LatencySketch.empty();
    for (const p of parts) fromBlobs.mergeEncoded(p.encode());
    expectSameSketch(fromBlobs, whole);
    expect(fromBlobs.sum).toBe(sequential.sum);

    const sorted = [...all].sort((x, y) => x - y);
    for (const q of QS) {
      const exact = exactQuantile(sorted, q);
      if (exact === 0) expect(sequential.quantile(q)).toBe(0);
      else expectWithinAccuracy(sequential.quantile(q), exact);
    }
  });

  it("does not change the merged-in sketch, and self-merge doubles counts", () => {
    const a = sketchOf([1, 2, 3]);
    const b = sketchOf([0.5, 1, 700]);
    const bBytes = b.encode();
    a.merge(b);
    expect(b.encode()).toEqual(bBytes);
    b.add(10_000);
    expect(a.max).toBe(700);

    const c = sketchOf([0, 4, 4, 90]);
    c.merge(c);
    expectSameSketch(c, sketchOf([0, 4, 4, 90, 0, 4, 4, 90]));
  });

  // @datadog/sketches-js DDSketch.merge corrupts the target when the other sketch's top bucket
  // is index 0 (values in (0.98, 1] ms); LatencySketch merges around it.
  it("merges a sketch whose largest value is 1 ms into one with smaller values", () => {
    const small = sketchOf([0.01, 0.02]);
    const aroundOne = sketchOf([0.005, 1]);
    small.merge(aroundOne);
    expect(small.count).toBe(4);
    expect(small.buckets().reduce((s, [, c]) => s + c, 0)).toBe(4);
    expect(small.quantile(1)).toBe(1);
    expectWithinAccuracy(small.quantile(0.7), 0.02);
    expectSameSketch(small, sketchOf([0.01, 0.02, 0.005, 1]));
  });
});

describe("LatencySketch encoding", () => {
  it("round-trips exactly (buckets, quantiles, count, sum, min, max, bytes)", () => {
    for (const [name, dist] of Object.entries(distributions)) {
      const values = sample(dist, 5_000, name.length);
      values.push(0, 0);
      const s = sketchOf(values);
      const bytes = s.encode();
      expect(Buffer.isBuffer(bytes)).toBe(true);
      const d = LatencySketch.decode(bytes);
      expectSameSketch(d, s);
      expect(d.sum).toBe(s.sum);
      expect(d.encode()).toEqual(bytes);
      // Accepts a plain Uint8Array view at an offset (as a BLOB may come back).
      const padded = new Uint8Array(bytes.length + 5);
      padded.set(bytes, 5);
      expectSameSketch(LatencySketch.decode(padded.subarray(5)), s);
    }
  });

  it("round-trips large counts", () => {
    const s = LatencySketch.empty().add(3, 2 ** 40).add(0, 2 ** 33).add(250, 1);
    const d = LatencySketch.decode(s.encode());
    expect(d.count).toBe(2 ** 40 + 2 ** 33 + 1);
    expectSameSketch(d, s);
  });

  it("rejects malformed input, leaving a mergeEncoded target unchanged", () => {
    const good = sketchOf([1, 5, 10, 0]).encode();
    const target = sketchOf([3, 4]);
    const before = target.encode();
    expect(() => target.mergeEncoded(good.subarray(0, good.length - 1))).toThrow(/truncated/);
    expect(target.encode()).toEqual(before);
    expect(() => LatencySketch.decode(new Uint8Array())).toThrow(RangeError);
    expect(() => LatencySketch.decode(Buffer.from([2, 0, 0]))).toThrow(/version/);
    expect(() => LatencySketch.decode(good.subarray(0, good.length - 1))).toThrow(/truncated/);
    expect(() => LatencySketch.decode(Buffer.concat([good, Buffer.from([0])]))).toThrow(/trailing/);
    expect(() => LatencySketch.decode(Buffer.from([1, 0, 1, 0, 0]))).toThrow(/empty bucket/);
  });

  it("is compact", () => {
    const rand = prng(99);
    const sizes: number[] = [];
    for (let h = 0; h < 50; h++) {
      const s = LatencySketch.empty();
      for (let i = 0; i < 1000; i++) s.add(distributions.lognormal!(rand));
      sizes.push(s.encode().length);
    }
    const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length;
    console.log(`[latency-sketch] encoded size, 1,000 lognormal values: mean ${mean.toFixed(0)} B, min ${Math.min(...sizes)} B, max ${Math.max(...sizes)} B`);
    expect(mean).toBeLessThan(1000);
  });
});

describe("LatencySketch 30 days of hourly rollups", () => {
  it("decodes and merges 720 sketches of ~1,000 values (timings printed, not asserted)", () => {
    const rand = prng(2024);
    const blobs: Buffer[] = [];
    const all: number[] = [];
    for (let h = 0; h < 720; h++) {
      // Each hour has its own level (daily cycle) and a 2% slow tail.
      const median = 80 * (1 + 0.5 * Math.sin((2 * Math.PI * h) / 24)) * (0.8 + 0.4 * rand());
      const n = 900 + Math.floor(rand() * 200);
      const s = LatencySketch.empty();
      for (let i = 0; i < n; i++) {
        const v = rand() < 0.02 ? 2000 * Math.exp(normal(rand)) : median * Math.exp(0.7 * normal(rand));
        s.add(v);
        all.push(v);
      }
      blobs.push(s.encode());
    }
    const sizes = blobs.map((b) => b.length);
    const totalBytes = sizes.reduce((a, b) => a + b, 0);

    const runs: Array<{ decode: number; merge: number; query: number; total: number; mergeEncoded: number }> = [];
    let merged = LatencySketch.empty();
    let p: Array<number | null> = [];
    for (let run = 0; run < 7; run++) {
      const t0 = performance.now();
      const decoded = blobs.map((b) => LatencySketch.decode(b));
      const t1 = performance.now();
      merged = LatencySketch.empty();
      for (const d of decoded) merged.merge(d);
      const t2 = performance.now();
      p = [merged.quantile(0.5), merged.quantile(0.95), merged.quantile(0.99)];
      const t3 = performance.now();
      const folded = LatencySketch.empty();
      for (const b of blobs) folded.mergeEncoded(b);
      const t4 = performance.now();
      expect(folded.buckets()).toEqual(merged.buckets());
      runs.push({ decode: t1 - t0, merge: t2 - t1, query: t3 - t2, total: t3 - t0, mergeEncoded: t4 - t3 });
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const fmt = (key: keyof (typeof runs)[number]) => `${median(runs.map((r) => r[key])).toFixed(2)} ms`;
    console.log(
      `[latency-sketch] 720 sketches, ${all.length} values, ${totalBytes} B total ` +
        `(per sketch mean ${(totalBytes / blobs.length).toFixed(0)} B, min ${Math.min(...sizes)} B, max ${Math.max(...sizes)} B); ` +
        `median of 7 runs (first run ${runs[0]!.total.toFixed(2)} ms): decode ${fmt("decode")}, merge ${fmt("merge")}, ` +
        `p50+p95+p99 ${fmt("query")}, total ${fmt("total")}; mergeEncoded of all 720 ${fmt("mergeEncoded")}; ` +
        `merged sketch ${merged.encode().length} B`,
    );

    const sorted = all.sort((a, b) => a - b);
    expect(merged.count).toBe(sorted.length);
    [0.5, 0.95, 0.99].forEach((q, i) => expectWithinAccuracy(p[i]!, exactQuantile(sorted, q)));
    console.log(`[latency-sketch] p50 ${p[0]!.toFixed(2)} ms, p95 ${p[1]!.toFixed(2)} ms, p99 ${p[2]!.toFixed(2)} ms`);
  });
});
