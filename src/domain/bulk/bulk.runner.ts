import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { runAs } from "../../auth/scope.js";
import { isRole, systemPrincipal, type Principal } from "../../auth/principal.js";
import type { Db } from "../../db/client.js";
import { AppError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { BufferedPublisher, type BulkProgressPayload, type EventPublisher } from "../../subscriptions/topics.js";
import type { NotificationService } from "../notifications/notification.service.js";
import type { ImportService } from "../prompts/import.service.js";
import type { Tx } from "../prompts/label.repository.js";
import type { LabelService } from "../prompts/label.service.js";
import { HANDLERS, toCreateCommand } from "./bulk.handlers.js";
import type { PromptService } from "../prompts/prompt.service.js";
import type { BulkItemRecord, BulkOperationRecord, BulkRepository, ItemOutcome } from "./bulk.repository.js";
import { batchableCommand, outcomeOf } from "./bulk.fast-create.js";
import type { BulkWorker } from "./bulk.worker-client.js";

export interface RunnerOptions {
  /** Most items in one chunk transaction. */
  chunkSize: number;
  /** A chunk also ends when it has run this long, so other statements never wait much longer. */
  chunkMs: number;
  /** Smallest gap between two progress events of one operation (the final event is always sent). */
  progressIntervalMs: number;
  /** PROMPT_STORE_PROTECTED_LABELS: the job's items are held to them as its starter's requests are. */
  protectedLabels?: ReadonlySet<string>;
  /** Whether an API key still works (a job whose key was revoked or expired is not run). */
  keyActive?: (keyId: string) => Promise<boolean>;
}

/**
 * better-sqlite3 answers synchronously, so a chain of awaited statements never returns to the
 * event loop by itself: a chunk would hold every incoming request until it commits. The runner
 * yields after every SLICE batched items and every 10 one-by-one items, so requests interleave.
 */
const SLICE = 50;

interface Services {
  prompts: PromptService;
  labels: LabelService;
  importer: ImportService;
}

interface ChunkResult {
  op: BulkOperationRecord;
  processed: number;
  stopped: boolean;
  event: BulkProgressPayload | null;
}

/** Thrown out of a dry-run chunk's transaction so that nothing it did is kept. */
class DryRunRollback extends Error {
  constructor(readonly outcomes: ItemOutcome[], readonly stopped: boolean) {
    super("dry run");
  }
}

/**
 * Runs bulk operations in the background, one at a time, a chunk per transaction: the items'
 * changes and their outcome rows commit together, so after a crash a chunk is either wholly
 * done or wholly pending, and resuming applies every item exactly once.
 */
const BULK_RUNNER = systemPrincipal("bulk-runner");
const KEY_GONE = "the API key it runs with was revoked or has expired; retry it with a valid key";

function starterOf(op: BulkOperationRecord): Principal {
  if (!isRole(op.createdByRole)) return BULK_RUNNER;
  return { kind: op.createdByKeyId ? "key" : "bootstrap", name: op.runBy ?? op.createdBy, role: op.createdByRole, keyId: op.createdByKeyId };
}

export class BulkRunner {
  private queue: string[] = [];
  private running: Promise<void> | undefined;
  private stopping = false;
  private readonly lastProgress = new Map<string, number>();

  constructor(
    private readonly db: Db,
    private readonly repo: BulkRepository,
    private readonly services: Services,
    private readonly events: EventPublisher,
    private readonly notifications: NotificationService,
    private readonly logger: Logger,
    private readonly options: RunnerOptions,
    private readonly worker?: BulkWorker,
  ) {}

  /** Picks up operations left queued or running by a previous process. */
  async resume(): Promise<void> {
    for (const op of await this.repo.unfinished()) this.enqueue(op.id);
  }

  enqueue(id: string): void {
    if (this.stopping || this.queue.includes(id)) return;
    this.queue.push(id);
    // Not as whichever request woke the runner: each operation runs as its starter (runOperation).
    this.running ??= runAs(BULK_RUNNER, () => this.drain()).finally(() => {
      this.running = undefined;
    });
  }

  /** A job runs with the rights of a key (if any): once that key is revoked or has expired, it stops. */
  private async keyStillActive(op: BulkOperationRecord): Promise<boolean> {
    return !op.createdByKeyId || !this.options.keyActive || (await this.options.keyActive(op.createdByKeyId));
  }

  /** Finishes the chunk in flight and stops; unfinished operations resume on the next start. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.queue = [];
    await this.running;
  }

  /** Resolves once nothing is queued or running (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    for (let id = this.queue.shift(); id !== undefined && !this.stopping; id = this.queue.shift()) {
      try {
        const op = await this.repo.findById(id);
        if (!op) continue;
        // With its starter's rights, so that an item moving (or deleting) a protected label fails
        // as it would have in a request; jobs from before access control run as the server.
        await runAs(starterOf(op), () => this.runOperation(id), { protectedLabels: this.options.protectedLabels });
      } catch (error) {
        this.logger.error({ err: error, operationId: id }, "bulk operation crashed");
        const op = await this.repo.findById(id);
        // The cause is in the log (with the operation id), not in what users see.
        if (op) await this.end(op, "FAILED", `internal error: the operation stopped; see the server log for operation ${id}`);
      }
    }
  }

  private async runOperation(id: string): Promise<void> {
    let op = await this.repo.findById(id);
    if (!op || (op.status !== "QUEUED" && op.status !== "RUNNING")) return;
    await this.repo.markRunning(id);
    this.logger.info({ operationId: id, kind: op.kind, total: op.total, attempt: op.attempt }, "bulk operation running");
    for (;;) {
      if (this.stopping) return;
      op = (await this.repo.findById(id))!;
      if (op.cancelRequested) return void (await this.end(op, "CANCELLED", null));
      // Checked before every chunk: a key revoked (or expired) mid-run stops its job at the next one.
      if (!(await this.keyStillActive(op))) return void (await this.end(op, "FAILED", KEY_GONE));
      const { op: after, processed, stopped, event } = (await this.runFastChunk(op)) ?? (await this.runChunk(op));
      op = after;
      if (event) this.publishProgress(event);
      if (stopped) return void (await this.end(op, "FAILED", "stopped at the first failed item (stopOnError)"));
      if (processed === 0) return void (await this.end(op, "COMPLETED", null));
      await yieldToEventLoop();
    }
  }

  /**
   * CREATE_PROMPTS items without copyFrom or includes go to the bulk worker thread, which
   * writes a chunk with prepared statements in one transaction, the items' rows with their
   * outcome rows and the progress event (as runChunk does here, at a fraction of Prisma's
   * cost per row and off this thread). Null when the next item needs the general path.
   */
  private async runFastChunk(op: BulkOperationRecord): Promise<ChunkResult | null> {
    if (!this.worker || op.kind !== "CREATE_PROMPTS" || op.dryRun || op.stopOnError) return null;
    const progress = this.progressDue(op.id, false);
    let reply: Awaited<ReturnType<BulkWorker["runChunk"]>>;
    try {
      reply = await this.worker.runChunk({ operation: op, limit: this.options.chunkSize, progress });
    } catch (error) {
      // The chunk's transaction rolled back (a dead thread's connection goes with it): its
      // items are still pending, and the general path takes this chunk instead.
      this.logger.warn({ err: error, operationId: op.id }, "bulk worker failed; running the chunk on the general path");
      return null;
    }
    const { result, events } = reply;
    if (!result) return null;
    if (result.event) this.progressDue(op.id, true);
    for (const { topic, payload } of events) this.events.publish(topic, payload as never);
    return { ...result, stopped: false };
  }

  private async runChunk(op: BulkOperationRecord): Promise<ChunkResult> {
    const buffer = new BufferedPublisher();
    const started = Date.now();
    try {
      const result = await this.db.$transaction(
        async (tx) => {
          const items = await this.repo.pending(tx, op.id, this.options.chunkSize);
          const bound = this.bind(tx, buffer);
          const outcomes: ItemOutcome[] = [];
          let stopped = false;
          const batched = await this.runBatch(tx, op, items, bound);
          outcomes.push(...batched);
          const done = new Set(batched.map((o) => o.index));
          for (const [n, item] of items.filter((i) => !done.has(i.index)).entries()) {
            if (n > 0 && n % 10 === 0) await yieldToEventLoop();
            const outcome = await this.runItem(tx, op, item, bound);
            outcomes.push(outcome);
            if (outcome.status === "FAILED" && op.stopOnError) {
              stopped = true;
              break;
            }
            if (Date.now() - started > this.options.chunkMs) break;
          }
          outcomes.sort((a, b) => a.index - b.index);
          // A dry run keeps nothing it did: its outcomes are written after this transaction rolls back.
          if (op.dryRun && outcomes.length > 0) throw new DryRunRollback(outcomes, stopped);
          const after = await this.repo.recordOutcomes(tx, op, outcomes);
          const event = outcomes.length > 0 && this.progressDue(op.id) ? await this.repo.appendEvent(tx, after) : null;
          return { op: after, processed: outcomes.length, stopped, event };
        },
        { timeout: Math.max(60_000, this.options.chunkMs * 20), maxWait: 60_000 },
      );
      buffer.flush(this.events);
      return result;
    } catch (error) {
      buffer.discard();
      if (!(error instanceof DryRunRollback)) throw error;
      return this.db.$transaction(async (tx) => {
        const after = await this.repo.recordOutcomes(tx, op, error.outcomes);
        const event = this.progressDue(op.id) ? await this.repo.appendEvent(tx, after) : null;
        return { op: after, processed: error.outcomes.length, stopped: error.stopped, event };
      });
    }
  }

  /**
   * CREATE_PROMPTS items without copyFrom or includes go through PromptService.createMany:
   * a few multi-row statements for the whole chunk instead of several per item. Returns the
   * outcomes it produced; the other items take the one-by-one path. Not used with
   * stopOnError, whose items must stop at the first failure in order.
   */
  private async runBatch(tx: Tx, op: BulkOperationRecord, items: BulkItemRecord[], bound: ReturnType<BulkRunner["bind"]>): Promise<ItemOutcome[]> {
    if (op.kind !== "CREATE_PROMPTS" || op.stopOnError) return [];
    const batch = items.filter((item) => batchableCommand(item) !== null);
    if (batch.length < 2) return [];
    await tx.$executeRawUnsafe("SAVEPOINT bulk_batch");
    const mark = bound.events.mark();
    try {
      const results: Awaited<ReturnType<PromptService["createMany"]>> = [];
      for (let start = 0; start < batch.length; start += SLICE) {
        const slice = batch.slice(start, start + SLICE).map((item) => toCreateCommand(item.input as Record<string, unknown>));
        results.push(...(await bound.prompts.createMany(slice, op.runBy ?? op.createdBy)));
        await yieldToEventLoop();
      }
      await tx.$executeRawUnsafe(op.dryRun ? "ROLLBACK TO bulk_batch" : "RELEASE bulk_batch");
      if (op.dryRun) await tx.$executeRawUnsafe("RELEASE bulk_batch");
      if (op.dryRun) bound.events.rollbackTo(mark);
      return results.map((r, i) => outcomeOf(batch[i]!.index, r, op.dryRun));
    } catch (error) {
      // Something only the database could tell (e.g. a name taken meanwhile): let each item find out alone.
      await tx.$executeRawUnsafe("ROLLBACK TO bulk_batch");
      bound.events.rollbackTo(mark);
      await tx.$executeRawUnsafe("RELEASE bulk_batch");
      this.logger.warn({ err: error, operationId: op.id }, "batched create failed; running the chunk item by item");
      return [];
    }
  }

  /** One item in a savepoint: a failure undoes exactly its own writes, never the chunk's. */
  private async runItem(tx: Tx, op: BulkOperationRecord, item: BulkItemRecord, bound: ReturnType<BulkRunner["bind"]>): Promise<ItemOutcome> {
    const input = item.input !== null && typeof item.input === "object" ? (item.input as Record<string, unknown>) : {};
    await tx.$executeRawUnsafe("SAVEPOINT bulk_item");
    const mark = bound.events.mark();
    try {
      const { status, result } = await HANDLERS[op.kind](input, op.params, { ...bound, actor: op.runBy ?? op.createdBy });
      if (op.dryRun) {
        await tx.$executeRawUnsafe("ROLLBACK TO bulk_item");
        bound.events.rollbackTo(mark);
      }
      await tx.$executeRawUnsafe("RELEASE bulk_item");
      return { index: item.index, status, errorCode: null, errorMessage: null, result: op.dryRun ? { ...result, dryRun: true } : result };
    } catch (error) {
      await tx.$executeRawUnsafe("ROLLBACK TO bulk_item");
      await tx.$executeRawUnsafe("RELEASE bulk_item");
      bound.events.rollbackTo(mark);
      // Items are user JSON: a field of the wrong type surfaces as a TypeError in the rules.
      if (error instanceof TypeError) {
        return { index: item.index, status: "FAILED", errorCode: "BAD_USER_INPUT", errorMessage: `malformed item: ${error.message}`, result: null };
      }
      if (!(error instanceof AppError)) throw error;
      return { index: item.index, status: "FAILED", errorCode: error.code, errorMessage: error.message, result: null };
    }
  }

  private bind(tx: Tx, buffer: BufferedPublisher) {
    const prompts = this.services.prompts.withTx(tx, buffer);
    return {
      events: buffer,
      prompts,
      labels: this.services.labels.withTx(tx, buffer, prompts),
      importer: this.services.importer.withTx(tx, buffer, prompts),
    };
  }

  /** Whether a progress event is due; `take` records that one is being sent now. */
  private progressDue(id: string, take = true): boolean {
    const now = Date.now();
    if (now - (this.lastProgress.get(id) ?? 0) < this.options.progressIntervalMs) return false;
    if (take) this.lastProgress.set(id, now);
    return true;
  }

  private async end(op: BulkOperationRecord, status: "COMPLETED" | "FAILED" | "CANCELLED", error: string | null) {
    const ended = await this.repo.finish(op, status, error);
    this.lastProgress.delete(op.id);
    if (!ended) return; // another process ended it
    const { op: finished, event } = ended;
    this.publishProgress(event);
    this.logger.info({ operationId: op.id, status, succeeded: finished.succeeded, failed: finished.failed }, "bulk operation ended");
    const label = finished.dryRun ? "Dry run" : "Bulk operation";
    await this.notifications.notify({
      recipient: finished.createdBy,
      kind: status === "COMPLETED" && finished.failed === 0 ? "BULK_OPERATION_COMPLETED" : `BULK_OPERATION_${status === "COMPLETED" ? "COMPLETED_WITH_ERRORS" : status}`,
      title: `${label} ${finished.kind} ${status.toLowerCase()}`,
      body: `${finished.succeeded} succeeded, ${finished.failed} failed, ${finished.skipped} skipped of ${finished.total}${error ? `: ${error}` : ""}`,
      data: { operationId: finished.id, status },
    });
  }

  private publishProgress(event: BulkProgressPayload) {
    this.events.publish("bulk.progress", event);
  }
}

