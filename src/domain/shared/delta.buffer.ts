import type { Logger } from "../../logger.js";
import { detached } from "../../auth/scope.js";

export interface DeltaBufferOptions<V> {
  /** What the values are, for log lines. */
  what: string;
  keyOf: (value: V) => string;
  /** Folds `next` into `into` (which the buffer owns). */
  merge: (into: V, next: V) => void;
  /** Stores values, all or nothing; must not change them (a failed write is retried with them). */
  write: (values: V[]) => Promise<void>;
  /** Told what was written. */
  onWritten?: (values: V[]) => void;
  intervalMs?: number;
  /** Written at once when this many keys wait. */
  maxPending?: number;
}

/**
 * Counts merged in memory and written about once an interval (and when many wait, on a
 * graceful shutdown, and before a read that needs them), for rows that every request or batch
 * would otherwise rewrite: A/B exposures, and the busiest analytics rollups. A crash loses at
 * most one interval of them. A failed write keeps them, merged with what arrived meanwhile.
 */
export class DeltaBuffer<V> {
  private pending = new Map<string, V>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;

  private readonly intervalMs: number;

  constructor(
    private readonly options: DeltaBufferOptions<V>,
    private readonly logger: Logger,
  ) {
    this.intervalMs = options.intervalMs ?? 1_000;
  }

  add(values: Iterable<V>): void {
    for (const value of values) {
      const key = this.options.keyOf(value);
      const existing = this.pending.get(key);
      if (existing) this.options.merge(existing, value);
      else this.pending.set(key, value);
    }
    if (this.pending.size >= (this.options.maxPending ?? Infinity)) void this.flush();
    else if (this.pending.size > 0 && !this.timer && !this.stopped) {
      this.timer = detached(() => setTimeout(() => void this.flush(), this.intervalMs));
      this.timer.unref();
    }
  }

  /**
   * Writes what is pending; resolves when it is stored. The write belongs to no request, also when
   * a request asks for it (recordAbTestOutcomes flushes exposures first): it must not carry that
   * request's audit entry, which belongs with the request's own change.
   */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.then(() => detached(() => this.writePending()));
    return this.writing;
  }

  private async writePending(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = this.pending;
    this.pending = new Map();
    const values = [...batch.values()];
    try {
      await this.options.write(values);
    } catch (error) {
      for (const [key, value] of batch) {
        const newer = this.pending.get(key);
        if (newer) this.options.merge(value, newer);
        this.pending.set(key, value);
      }
      this.logger.warn({ err: error, rows: batch.size }, `writing ${this.options.what} failed; retrying`);
      if (!this.stopped && !this.timer) {
        this.timer = detached(() => setTimeout(() => void this.flush(), this.intervalMs));
        this.timer.unref();
      }
      return;
    }
    this.options.onWritten?.(values);
  }

  get size(): number {
    return this.pending.size;
  }

  /** Writes what is left, trying a few times (the database may be busy); what still fails is logged as lost. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (let attempt = 1; attempt <= 3; attempt++) {
      await this.flush();
      if (this.pending.size === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
    }
    if (this.pending.size > 0) this.logger.error({ rows: this.pending.size }, `${this.options.what} could not be written at shutdown and are lost`);
  }
}
