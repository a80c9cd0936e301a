// A mergeable latency histogram for usage analytics. Each hourly rollup stores one encoded
// sketch (a SQLite BLOB); p50/p95/p99 over any range come from decoding and merging the stored
// sketches instead of scanning raw events.
//
// It is a DDSketch (Masson, Rim & Lee, VLDB 2019) built on @datadog/sketches-js: a value x > 0
// goes to the bucket with index ceil(log_gamma(x)), gamma = (1 + a) / (1 - a), and the bucket is
// represented by 2 * gamma^index / (1 + gamma), which is within a relative error of `a` of every
// value in it. With RELATIVE_ACCURACY a = 1%, any quantile is within 1% of the exact one: for
// q in [0, 1] the sketch answers the value at sorted position floor(q * (count - 1)) (the
// "lower" quantile of the data seen) to within +/-1% of that value. Answers are clamped to
// [min, max], and quantile(0) and quantile(1) are the exact min and max. Zero has its own
// bucket and is answered exactly. Merging adds bucket counts, so a merge of sketches equals the
// sketch of the concatenated data (bucket for bucket); only `sum` may differ in the last bits,
// being a float sum taken in another order. Sketches are ~400 bytes for 1,000 values, and a
// merged one stays around 1-2 KB whatever the count: size grows with the log of max/min only.
//
// What we take from the library and what we don't:
// - We use its LogarithmicMapping (value <-> bucket index), its DenseStore and its rank walk.
// - We do not use DDSketch.merge: DenseStore.merge mis-sizes the target (`secondKey || key`
//   treats key 0 as "absent") when the other sketch's highest bucket is index 0, i.e. values in
//   (0.98, 1] ms, writing NaN counts and losing the top of the distribution. We merge bucket by
//   bucket through DenseStore.add, which is not affected.
// - We do not use toProto/fromProto: they need `protobufjs`, which the package does not declare
//   as a dependency, and fromProto drops min, max and sum. We encode the buckets ourselves (see
//   FORMAT_VERSION), keeping the library's mapping so decode + merge is exact; it is also smaller
//   than the protobuf form (sparse varints instead of a dense run of float64 counts).
// To fold many stored rollups, prefer `acc.mergeEncoded(blob)` to `acc.merge(decode(blob))`.
//
// Inputs: latencies in milliseconds, finite and >= 0. Negative, NaN or infinite values throw a
// RangeError (a caller bug should not silently skew percentiles); so do counts that are not
// non-negative safe integers.
import { DDSketch } from "@datadog/sketches-js";

/** Relative accuracy of every quantile the sketch answers (1%). Fixed by the encoding's version. */
export const RELATIVE_ACCURACY = 0.01;

/**
 * Encoding version 1: LogarithmicMapping with relative accuracy 0.01 and index offset 0.
 *
 *   u8       version (1)
 *   varint   zero count
 *   varint   number of non-empty buckets n
 *   n times  varint key (the first one zigzag-encoded, each next one as key - previousKey - 1),
 *            varint count (>= 1)
 *   only when the total count > 0: f64 LE min, f64 LE max, f64 LE sum
 *
 * Varints are unsigned LEB128 for integers up to 2^53 - 1. An empty sketch is 3 bytes.
 */
const FORMAT_VERSION = 1;
/** Bucket indices a value in [minPossible, maxPossible] can get at 1% are within about +/-35,500. */
const MAX_ABS_KEY = 1 << 20;

export class LatencySketch {
  private readonly inner: DDSketch;

  private constructor(inner: DDSketch) {
    this.inner = inner;
  }

  static empty(): LatencySketch {
    return new LatencySketch(new DDSketch({ relativeAccuracy: RELATIVE_ACCURACY }));
  }

  /** Counts `count` occurrences of a latency of `valueMs` milliseconds. A count of 0 does nothing. */
  add(valueMs: number, count = 1): this {
    if (typeof valueMs !== "number" || !Number.isFinite(valueMs) || valueMs < 0) {
      throw new RangeError(`latency must be a finite number >= 0 ms, got ${String(valueMs)}`);
    }
    assertCount(count);
    if (count > 0) this.inner.accept(valueMs, count);
    return this;
  }

  /** Adds every value counted by `other` into this sketch; `other` is not changed. */
  merge(other: LatencySketch): this {
    const src = other === this ? this.clone().inner : other.inner;
    if (src.count === 0) return this;
    const dst = this.inner;
    const bins = src.store.bins;
    const offset = src.store.offset;
    for (let i = 0; i < bins.length; i++) {
      const c = bins[i]!;
      if (c > 0) dst.store.add(i + offset, c);
    }
    dst.zeroCount += src.zeroCount;
    dst.count += src.count;
    dst.sum += src.sum;
    if (src.min < dst.min) dst.min = src.min;
    if (src.max > dst.max) dst.max = src.max;
    return this;
  }

  /**
   * The value at quantile q (0 <= q <= 1) within 1% relative error, or null when the sketch is
   * empty. q = 0.5 is the median, 0.99 the p99.
   */
  quantile(q: number): number | null {
    if (typeof q !== "number" || !(q >= 0 && q <= 1)) {
      throw new RangeError(`quantile must be within [0, 1], got ${String(q)}`);
    }
    const s = this.inner;
    if (s.count === 0) return null;
    // The exact answers at both ends; in between, the bucket's value, kept within [min, max].
    if (q === 0) return s.min;
    if (q === 1) return s.max;
    return Math.min(Math.max(s.getValueAtQuantile(q), s.min), s.max);
  }

  /** Number of values counted. */
  get count(): number {
    return this.inner.count;
  }

  /** Sum of the values counted, in ms (0 when empty); sum / count is the mean. */
  get sum(): number {
    return this.inner.sum;
  }

  /** Smallest value counted (exact), or null when empty. */
  get min(): number | null {
    return this.inner.count === 0 ? null : this.inner.min;
  }

  /** Largest value counted (exact), or null when empty. */
  get max(): number | null {
    return this.inner.count === 0 ? null : this.inner.max;
  }

  /** The number of zero-latency values, which have their own bucket. */
  get zeroCount(): number {
    return this.inner.zeroCount;
  }

  /** Non-empty buckets in ascending index order, as [index, count] (zeros excluded; see zeroCount). */
  buckets(): Array<[index: number, count: number]> {
    const out: Array<[number, number]> = [];
    const { bins, offset } = this.inner.store;
    for (let i = 0; i < bins.length; i++) {
      const c = bins[i]!;
      if (c > 0) out.push([i + offset, c]);
    }
    return out;
  }

  clone(): LatencySketch {
    return LatencySketch.empty().merge(this);
  }

  /** Compact binary form for a BLOB column; see FORMAT_VERSION for the layout. */
  encode(): Buffer {
    const s = this.inner;
    const buckets = this.buckets();
    let size = 1 + varintLength(s.zeroCount) + varintLength(buckets.length);
    let prev = 0;
    for (let i = 0; i < buckets.length; i++) {
      const [key, count] = buckets[i]!;
      size += varintLength(i === 0 ? zigzag(key) : key - prev - 1) + varintLength(count);
      prev = key;
    }
    if (s.count > 0) size += 24;

    const buf = Buffer.allocUnsafe(size);
    let pos = 0;
    buf[pos++] = FORMAT_VERSION;
    pos = writeVarint(buf, pos, s.zeroCount);
    pos = writeVarint(buf, pos, buckets.length);
    for (let i = 0; i < buckets.length; i++) {
      const [key, count] = buckets[i]!;
      pos = writeVarint(buf, pos, i === 0 ? zigzag(key) : key - prev - 1);
      pos = writeVarint(buf, pos, count);
      prev = key;
    }
    if (s.count > 0) {
      pos = buf.writeDoubleLE(s.min, pos);
      pos = buf.writeDoubleLE(s.max, pos);
      pos = buf.writeDoubleLE(s.sum, pos);
    }
    return buf;
  }

  /** Rebuilds a sketch from `encode()` output. Throws a RangeError on malformed input. */
  static decode(bytes: Uint8Array | Buffer): LatencySketch {
    return LatencySketch.empty().absorb(parse(bytes));
  }

  /**
   * Same as `merge(LatencySketch.decode(bytes))`, without building the intermediate sketch:
   * the fast way to fold stored rollups into one. On malformed input it throws a RangeError
   * and leaves this sketch unchanged.
   */
  mergeEncoded(bytes: Uint8Array | Buffer): this {
    return this.absorb(parse(bytes));
  }

  private absorb(p: Decoded): this {
    const s = this.inner;
    const { keys, counts } = p;
    const n = keys.length;
    if (n > 0) {
      // Lowest and highest first, so the dense store grows at most twice.
      s.store.add(keys[0]!, counts[0]!);
      if (n > 1) s.store.add(keys[n - 1]!, counts[n - 1]!);
      for (let i = 1; i < n - 1; i++) s.store.add(keys[i]!, counts[i]!);
    }
    if (p.count === 0) return this;
    s.zeroCount += p.zeroCount;
    s.count += p.count;
    s.sum += p.sum;
    if (p.min < s.min) s.min = p.min;
    if (p.max > s.max) s.max = p.max;
    return this;
  }
}

interface Decoded {
  zeroCount: number;
  keys: number[];
  counts: number[];
  count: number;
  min: number;
  max: number;
  sum: number;
}

function parse(bytes: Uint8Array): Decoded {
  const reader = new Reader(bytes);
  const version = reader.byte();
  if (version !== FORMAT_VERSION) throw new RangeError(`unknown latency sketch version ${version}`);
  const zeroCount = reader.varint();
  const n = reader.varint();
  const keys: number[] = [];
  const counts: number[] = [];
  let count = zeroCount;
  let key = 0;
  for (let i = 0; i < n; i++) {
    key = i === 0 ? unzigzag(reader.varint()) : key + reader.varint() + 1;
    if (Math.abs(key) > MAX_ABS_KEY) throw new RangeError("latency sketch bucket index out of range");
    const c = reader.varint();
    if (c === 0) throw new RangeError("latency sketch has an empty bucket");
    keys.push(key);
    counts.push(c);
    count += c;
  }
  if (!Number.isSafeInteger(count)) throw new RangeError("latency sketch count overflows");
  let min = 0;
  let max = 0;
  let sum = 0;
  if (count > 0) {
    min = reader.float64();
    max = reader.float64();
    sum = reader.float64();
    if (!(min >= 0 && min <= max && Number.isFinite(max) && sum >= 0)) {
      throw new RangeError("latency sketch has invalid min/max/sum");
    }
  }
  reader.end();
  return { zeroCount, keys, counts, count, min, max, sum };
}

function assertCount(count: number): void {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new RangeError(`count must be a non-negative integer, got ${String(count)}`);
  }
}

function zigzag(n: number): number {
  return n >= 0 ? 2 * n : -2 * n - 1;
}

function unzigzag(n: number): number {
  return n % 2 === 0 ? n / 2 : -(n + 1) / 2;
}

function varintLength(n: number): number {
  let len = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

class Reader {
  private pos = 0;
  private readonly bytes: Uint8Array;
  private readonly view: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  byte(): number {
    if (this.pos >= this.bytes.length) throw truncated();
    return this.bytes[this.pos++]!;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      result += (b & 127) * scale;
      if (b < 128) {
        if (!Number.isSafeInteger(result)) break;
        return result;
      }
      scale *= 128;
    }
    throw new RangeError("latency sketch varint out of range");
  }

  float64(): number {
    if (this.pos + 8 > this.bytes.length) throw truncated();
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  end(): void {
    if (this.pos !== this.bytes.length) throw new RangeError("latency sketch has trailing bytes");
  }
}

function truncated(): RangeError {
  return new RangeError("latency sketch is truncated");
}
