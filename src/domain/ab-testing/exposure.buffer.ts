import type { Logger } from "../../logger.js";
import { DeltaBuffer } from "../shared/delta.buffer.js";
import type { AbTestRepository, ExposureRow } from "./ab-test.repository.js";

/**
 * Exposures of the serving hot path, counted in memory and written in batches (one
 * transaction of multi-row upserts every `intervalMs`, or sooner when many are waiting), so
 * serving a prompt never writes to the database itself. stop() writes what is left: nothing is
 * lost on a graceful shutdown; a crash loses at most one interval.
 */
export class ExposureBuffer {
  private readonly buffer: DeltaBuffer<ExposureRow>;

  constructor(
    repo: AbTestRepository,
    logger: Logger,
    options: { intervalMs: number; maxPending: number },
    /** Told which tests got new exposures after each write (their results changed). */
    onFlushed: (testIds: Set<string>) => void = () => {},
  ) {
    this.buffer = new DeltaBuffer<ExposureRow>(
      {
        what: "A/B exposures",
        keyOf: (row) => `${row.testId}\u0000${row.subjectKey}`,
        merge: (into, next) => {
          into.count += next.count;
          if (next.first < into.first) into.first = next.first;
          if (next.last > into.last) into.last = next.last;
        },
        write: (rows) => repo.addExposures(rows),
        onWritten: (rows) => onFlushed(new Set(rows.map((r) => r.testId))),
        intervalMs: options.intervalMs,
        maxPending: options.maxPending,
      },
      logger,
    );
  }

  record(testId: string, subjectKey: string, variantIndex: number, at = new Date()): void {
    this.buffer.add([{ testId, subjectKey, variantIndex, count: 1, first: at, last: at }]);
  }

  /** Writes what is pending (after any write in progress); resolves when it is stored. */
  flush(): Promise<void> {
    return this.buffer.flush();
  }

  /** Exposures waiting to be written (tests, health). */
  get size(): number {
    return this.buffer.size;
  }

  stop(): Promise<void> {
    return this.buffer.stop();
  }
}
