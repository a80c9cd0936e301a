import type { SyncSession, SyncWriter } from "../../db/sync-writer.js";
import type { Logger } from "../../logger.js";

/**
 * Rollup deltas merged in memory and written about once an interval (and on a graceful
 * shutdown, and before a read that needs them), for rollup rows that every ingest batch would
 * otherwise rewrite: a busy row is written once per interval instead of once per batch. A crash
 * loses at most one interval of these deltas. A failed write keeps them for the next attempt
 * (the writer must not change the values it is given).
 */
export class DeltaBuffer<V> {
  private pending = new Map<string, V>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly what: string,
    private readonly keyOf: (value: V) => string,
    /** Folds `next` into `into` (which the buffer owns). */
    private readonly merge: (into: V, next: V) => void,
    private readonly write: (session: SyncSession, values: Iterable<V>) => void,
    private readonly writer: SyncWriter,
    private readonly logger: Logger,
    private readonly intervalMs = 1_000,
  ) {}

  add(values: Iterable<V>): void {
    for (const value of values) {
      const key = this.keyOf(value);
      const existing = this.pending.get(key);
      if (existing) this.merge(existing, value);
      else this.pending.set(key, value);
    }
    if (this.pending.size > 0 && !this.timer && !this.stopped) {
      this.timer = setTimeout(() => void this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Writes what is pending; resolves when it is stored. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      try {
        await this.writer.transaction((session) => this.write(session, batch.values()));
      } catch (error) {
        for (const [key, value] of batch) {
          const newer = this.pending.get(key);
          if (newer) this.merge(value, newer);
          this.pending.set(key, value);
        }
        this.logger.warn({ err: error, rows: batch.size }, `writing ${this.what} failed; retrying`);
        if (!this.stopped && !this.timer) {
          this.timer = setTimeout(() => void this.flush(), this.intervalMs);
          this.timer.unref();
        }
      }
    });
    return this.writing;
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
    if (this.pending.size > 0) this.logger.error({ rows: this.pending.size }, `${this.what} could not be written at shutdown and are lost`);
  }
}
