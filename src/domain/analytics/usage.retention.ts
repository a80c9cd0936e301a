import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { SyncWriter } from "../../db/sync-writer.js";
import type { Logger } from "../../logger.js";
import type { UsageWriteRepository } from "./usage-write.repository.js";

const STEP = 5_000;

/**
 * Deletes raw usage events past the retention period, a few thousand per transaction with the
 * event loop free in between; the rollups (what analytics read) are kept.
 */
export class UsageRetention {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;

  constructor(
    private readonly writes: UsageWriteRepository,
    private readonly writer: SyncWriter,
    private readonly retentionDays: number,
    private readonly logger: Logger,
    private readonly intervalMs = 10 * 60_000,
  ) {}

  start(): void {
    if (this.timer) return;
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.intervalMs);
    this.timer.unref();
  }

  /** One pass; resolves to the number of events deleted. */
  runOnce(now = new Date()): Promise<number> {
    this.running ??= this.purge(now).finally(() => (this.running = undefined));
    return this.running;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private async purge(now: Date): Promise<number> {
    const before = new Date(now.getTime() - this.retentionDays * 86_400_000);
    let total = 0;
    try {
      for (;;) {
        const deleted = await this.writer.transaction((session) => this.writes.deleteOlderThan(session, before, STEP));
        total += deleted;
        if (deleted < STEP || !this.timer) break;
        await yieldToEventLoop();
      }
      if (total > 0) this.logger.info({ deleted: total, before: before.toISOString() }, "usage events past retention deleted");
    } catch (error) {
      this.logger.error({ err: error }, "usage retention failed");
    }
    return total;
  }
}
