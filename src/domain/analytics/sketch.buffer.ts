import type { SyncWriter } from "../../db/sync-writer.js";
import type { Logger } from "../../logger.js";
import type { SketchDelta, UsageWriteRepository } from "./usage-write.repository.js";

/**
 * Latency histogram deltas of the hourly rollups, merged in memory and written about once a
 * second (and on a graceful shutdown, and before any analytics read): a busy prompt's hour is
 * re-encoded once per interval instead of once per ingest batch. Counts, sums, tokens and cost
 * are written with each batch; a crash loses at most one interval of latency samples (the
 * percentiles of that interval), nothing else.
 */
export class SketchBuffer {
  private pending = new Map<string, SketchDelta>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly writes: UsageWriteRepository,
    private readonly writer: SyncWriter,
    private readonly logger: Logger,
    private readonly intervalMs = 1_000,
  ) {}

  add(deltas: readonly SketchDelta[]): void {
    for (const d of deltas) {
      const key = `${d.promptId}\u0000${d.hour.getTime()}\u0000${d.version}`;
      const existing = this.pending.get(key);
      if (existing) existing.sketch.merge(d.sketch);
      else this.pending.set(key, d);
    }
    if (this.pending.size > 0 && !this.timer && !this.stopped) {
      this.timer = setTimeout(() => void this.flush(), this.intervalMs);
      this.timer.unref();
    }
  }

  /** Writes what is pending; resolves when it is stored (readers call it first). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.writing = this.writing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      try {
        await this.writer.transaction((session) => this.writes.mergeSketches(session, batch.values()));
      } catch (error) {
        // Keep them for the next attempt, merged with what arrived meanwhile.
        for (const [key, d] of batch) {
          const newer = this.pending.get(key);
          if (newer) newer.sketch.merge(d.sketch);
          else this.pending.set(key, d);
        }
        this.logger.warn({ err: error, rows: batch.size }, "writing latency histograms failed; retrying");
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

  async stop(): Promise<void> {
    this.stopped = true;
    await this.flush();
  }
}
