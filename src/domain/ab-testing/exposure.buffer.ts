import type { Logger } from "../../logger.js";
import type { AbTestRepository, ExposureRow } from "./ab-test.repository.js";

/**
 * Exposures of the serving hot path, counted in memory and written in batches (one
 * transaction of multi-row upserts every `intervalMs`, or sooner when many are waiting), so
 * serving a prompt never writes to the database itself. stop() writes what is left: nothing is
 * lost on a graceful shutdown; a crash loses at most one interval.
 */
export class ExposureBuffer {
  private pending = new Map<string, ExposureRow>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly repo: AbTestRepository,
    private readonly logger: Logger,
    private readonly options: { intervalMs: number; maxPending: number },
    /** Told which tests got new exposures after each write (their results changed). */
    private readonly onFlushed: (testIds: Set<string>) => void = () => {},
  ) {}

  record(testId: string, subjectKey: string, variantIndex: number, at = new Date()): void {
    const key = `${testId}\u0000${subjectKey}`;
    const row = this.pending.get(key);
    if (row) {
      row.count++;
      row.last = at;
    } else {
      this.pending.set(key, { testId, subjectKey, variantIndex, count: 1, first: at, last: at });
    }
    if (this.pending.size >= this.options.maxPending) void this.flush();
    else if (!this.timer && !this.stopped) {
      this.timer = setTimeout(() => void this.flush(), this.options.intervalMs);
      this.timer.unref();
    }
  }

  /** Writes what is pending (after any write in progress); resolves when it is stored. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = this.flushing.then(async () => {
      if (this.pending.size === 0) return;
      const batch = this.pending;
      this.pending = new Map();
      try {
        await this.repo.addExposures([...batch.values()]);
        this.onFlushed(new Set([...batch.values()].map((r) => r.testId)));
      } catch (error) {
        // Keep them for the next attempt, merged with what arrived meanwhile.
        for (const [key, row] of batch) {
          const newer = this.pending.get(key);
          if (newer) {
            newer.count += row.count;
            newer.first = row.first;
          } else {
            this.pending.set(key, row);
          }
        }
        this.logger.warn({ err: error, exposures: batch.size }, "writing A/B exposures failed; retrying with the next batch");
        if (!this.stopped && !this.timer) {
          this.timer = setTimeout(() => void this.flush(), this.options.intervalMs);
          this.timer.unref();
        }
      }
    });
    return this.flushing;
  }

  /** Exposures waiting to be written (tests, health). */
  get size(): number {
    return this.pending.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.flush();
  }
}
