import { newId } from "../shared/ids.js";
import { assertMayMoveLabels } from "../../auth/scope.js";
import type { Principal } from "../../auth/principal.js";
import { AppError, badInput, notFound } from "../../errors.js";
import { validateLabel } from "../prompts/label.service.js";
import type { ConflictMode } from "../prompts/import.service.js";
import { validateTags } from "../prompts/prompt.logic.js";
import type { ListPromptsQuery } from "../prompts/prompt.commands.js";
import type { PromptService } from "../prompts/prompt.service.js";
import { decodeCursor, encodeCursor, newestFirstPage, pageSize, toPage } from "../shared/pagination.js";
import type { EventBus } from "../../subscriptions/pubsub.js";
import type { BulkOperationStatus, BulkProgressPayload } from "../../subscriptions/topics.js";
import type { BulkKind, BulkOperationRecord, BulkRepository, ItemStatus } from "./bulk.repository.js";
import type { BulkRunner } from "./bulk.runner.js";
import { replayThenLive } from "../../subscriptions/replay.js";

export interface StartBulkCommand {
  kind: BulkKind;
  items?: Record<string, unknown>[] | null;
  filter?: Omit<ListPromptsQuery, "first" | "after" | "orderBy" | "direction"> | null;
  tags?: string[] | null;
  label?: string | null;
  version?: number | null;
  reason?: string | null;
  document?: Record<string, unknown> | null;
  onConflict?: ConflictMode | null;
  dryRun?: boolean | null;
  stopOnError?: boolean | null;
  idempotencyKey?: string | null;
}

export interface BulkLimits {
  maxItems: number;
}

/** Kinds that act on existing prompts, so their items may come from a filter. */
const SELECTABLE: BulkKind[] = ["DELETE_PROMPTS", "ARCHIVE_PROMPTS", "ADD_TAGS", "REMOVE_TAGS", "SET_LABEL"];

export class BulkService {
  constructor(
    private readonly repo: BulkRepository,
    private readonly prompts: PromptService,
    private readonly runner: BulkRunner,
    private readonly bus: EventBus,
    private readonly limits: BulkLimits,
    /** How long a progress stream waits for a live event before it checks the database. */
    private readonly pollMs = 5_000,
  ) {}

  /**
   * Progress of one operation: first what came after `afterSequence` (replayed from the
   * database), then live events, with no gap and no duplicate; ends after the final event of
   * the latest run. Without afterSequence it starts with the latest event, so a client always
   * gets the current state at once.
   */
  async progress(id: string, afterSequence: number | null | undefined): Promise<AsyncIterable<BulkProgressPayload>> {
    if (afterSequence != null && (!Number.isInteger(afterSequence) || afterSequence < 0)) {
      throw badInput("afterSequence", "afterSequence must be a non-negative integer");
    }
    await this.get(id);
    // Subscribe before reading the database: whatever is published meanwhile waits in the buffer.
    const live = this.bus.subscribe("bulk.progress", (event) => event.operationId === id);
    let op: BulkOperationRecord;
    try {
      op = await this.get(id);
      if (afterSequence != null && afterSequence > op.lastSequence) {
        throw badInput("afterSequence", `afterSequence is past the operation's last event (${op.lastSequence})`);
      }
    } catch (error) {
      await live.return();
      throw error;
    }
    const after = afterSequence ?? Math.max(0, op.lastSequence - 1);
    const repo = this.repo;
    return replayThenLive({
      live,
      async *replay() {
        let last = after;
        const missed = await repo.eventsAfter(id, after);
        // Nothing recorded yet (still queued): the current state, as sequence 0, so a client always starts with one.
        if (missed.length === 0 && op.lastSequence === 0 && afterSequence == null) yield snapshot(op);
        for (const event of missed) {
          yield event;
          last = event.sequence;
          if (event.final && event.sequence >= op.lastSequence && op.status !== "QUEUED" && op.status !== "RUNNING") return { after: last, ended: true };
        }
        return { after: last, ended: false };
      },
      recorded: (seq) => repo.eventsAfter(id, seq),
      state: async () => {
        const current = await repo.findById(id);
        return { exists: current !== null, lastSequence: current?.lastSequence ?? 0, open: current?.status === "QUEUED" || current?.status === "RUNNING" };
      },
      pollMs: this.pollMs,
    });
  }

  /**
   * Validates the request, stores the operation with all its items (QUEUED) and returns at
   * once; the runner does the work. A retried request with the same idempotencyKey gets the
   * same operation back. Nothing is written when the request is invalid or too large.
   */
  async start(command: StartBulkCommand, starter: Principal): Promise<BulkOperationRecord> {
    const key = command.idempotencyKey?.trim() || null;
    if (key && key.length > 200) throw badInput("idempotencyKey", "idempotencyKey must be at most 200 characters");
    if (key) {
      const existing = await this.repo.findByIdempotencyKey(key);
      if (existing) return this.sameRequest(existing, command);
    }
    const params = this.params(command);
    const inputs = await this.inputs(command);
    // Known now for these kinds: refused whole rather than item by item (the job runs with its starter's rights).
    assertMayMoveLabels(labelsSetBy(command.kind, params, inputs));
    const now = new Date();
    const op = {
      id: newId(),
      kind: command.kind,
      status: "QUEUED" as const,
      dryRun: command.dryRun ?? false,
      stopOnError: command.stopOnError ?? false,
      idempotencyKey: key,
      params,
      total: inputs.length,
      createdBy: starter.name,
      runBy: starter.name,
      createdByRole: starter.role,
      createdByKeyId: starter.keyId,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.repo.create(op, inputs);
    } catch (error) {
      // Two concurrent requests with one key: the loser returns the winner's operation.
      const winner = key ? await this.repo.findByIdempotencyKey(key) : null;
      if (winner) return this.sameRequest(winner, command);
      throw error;
    }
    // Read before handing it over: the answer is the operation as stored (QUEUED), whatever the runner does next.
    const queued = (await this.repo.findById(op.id))!;
    this.runner.enqueue(op.id);
    return queued;
  }

  async get(id: string): Promise<BulkOperationRecord> {
    const op = await this.repo.findById(id);
    if (!op) throw notFound("bulk operation", "id", id);
    return op;
  }

  /** Asks the runner to stop at the next chunk boundary; items done so far stay done. */
  async cancel(id: string): Promise<BulkOperationRecord> {
    const op = await this.get(id);
    if (op.status !== "QUEUED" && op.status !== "RUNNING") {
      throw new AppError("FAILED_PRECONDITION", `operation ${id} is ${op.status} and cannot be cancelled`, { field: "id", status: op.status });
    }
    await this.repo.requestCancel(id);
    this.runner.enqueue(id);
    return this.get(id);
  }

  /** Runs only the failed items again, as a new attempt of the same operation. */
  /** Runs the failed items again, with the rights of whoever retries (not of the first starter). */
  async retry(id: string, retrier: Principal): Promise<BulkOperationRecord> {
    const op = await this.get(id);
    if (op.status === "QUEUED" || op.status === "RUNNING") {
      throw new AppError("FAILED_PRECONDITION", `operation ${id} is still ${op.status}`, { field: "id", status: op.status });
    }
    if (op.failed === 0) throw new AppError("FAILED_PRECONDITION", `operation ${id} has no failed items to retry`, { field: "id" });
    assertMayMoveLabels(labelsSetBy(op.kind, op.params, op.kind === "IMPORT" ? await this.repo.failedInputs(id) : []));
    await this.repo.resetFailed(id, { name: retrier.name, role: retrier.role, keyId: retrier.keyId });
    const queued = await this.get(id);
    this.runner.enqueue(id);
    return queued;
  }

  /** Operations waiting or running (system health). */
  async queueDepth(): Promise<number> {
    return (await this.repo.count("QUEUED")) + (await this.repo.count("RUNNING"));
  }

  list(status: BulkOperationStatus | null, first: number | null | undefined, after: string | null | undefined) {
    return newestFirstPage(first, after, "bulk operation", (limit, before) => this.repo.list(status, limit, before), () => this.repo.count(status));
  }

  async items(id: string, status: ItemStatus | null, first: number | null | undefined, after: string | null | undefined) {
    const limit = pageSize(first);
    let afterIndex = -1;
    if (after) {
      const c = decodeCursor(after);
      if (typeof c.x !== "number") throw badInput("after", "after is not a bulk item cursor");
      afterIndex = c.x;
    }
    const rows = await this.repo.items(id, status, limit + 1, afterIndex);
    return {
      ...toPage(rows, limit, after != null),
      cursor: (item: { index: number }) => encodeCursor({ x: item.index }),
      totalCount: () => this.repo.countItems(id, status),
    };
  }

  private sameRequest(existing: BulkOperationRecord, command: StartBulkCommand): BulkOperationRecord {
    if (existing.kind !== command.kind) {
      throw new AppError("CONFLICT", `idempotencyKey was used for a ${existing.kind} operation`, { field: "idempotencyKey", operationId: existing.id });
    }
    return existing;
  }

  private params(command: StartBulkCommand): Record<string, unknown> {
    switch (command.kind) {
      case "ADD_TAGS":
      case "REMOVE_TAGS":
        if (!command.tags?.length) throw badInput("tags", `${command.kind} needs tags`);
        return { tags: validateTags(command.tags) };
      case "SET_LABEL":
        if (!command.label) throw badInput("label", "SET_LABEL needs a label");
        if (command.version != null && (!Number.isInteger(command.version) || command.version < 1)) throw badInput("version", "version must be a positive integer");
        return { label: validateLabel(command.label), version: command.version ?? null, reason: command.reason ?? null };
      case "IMPORT":
        return { onConflict: command.onConflict ?? "SKIP" };
      default:
        return {};
    }
  }

  private async inputs(command: StartBulkCommand): Promise<Record<string, unknown>[]> {
    const sources = [command.items != null, command.filter != null, command.document != null].filter(Boolean).length;
    if (sources !== 1) throw badInput("items", "give exactly one of items, filter (prompt kinds) or document (IMPORT)");
    if (command.document != null) {
      if (command.kind !== "IMPORT") throw badInput("document", "document goes with kind IMPORT");
      const prompts = command.document.prompts;
      if (command.document.format !== "prompt-store.export" || !Array.isArray(prompts)) {
        throw badInput("document", "document is not a Prompt Store export document");
      }
      return this.bounded(prompts as Record<string, unknown>[], "document.prompts");
    }
    if (command.items != null) {
      if (command.kind === "IMPORT") throw badInput("items", "IMPORT takes a document");
      return this.bounded(command.items, "items");
    }
    if (!SELECTABLE.includes(command.kind)) throw badInput("filter", `${command.kind} takes items, not a filter`);
    const ids: Record<string, unknown>[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await this.prompts.list({ ...command.filter, first: 200, after, orderBy: "NAME", direction: "ASC" });
      ids.push(...page.items.map((p) => ({ prompt: { id: p.id } })));
      this.bounded(ids, "filter");
      if (!page.hasNextPage) return ids;
      after = page.cursor(page.items.at(-1)!);
    }
  }

  private bounded<T>(items: T[], field: string): T[] {
    if (items.length === 0) throw badInput(field, "the operation has no items");
    if (items.length > this.limits.maxItems) {
      throw badInput(field, `an operation takes at most ${this.limits.maxItems} items (got ${items.length})`, { limit: this.limits.maxItems });
    }
    return items;
  }
}

function snapshot(op: BulkOperationRecord): BulkProgressPayload {
  return {
    operationId: op.id,
    sequence: 0,
    status: op.status,
    total: op.total,
    processed: op.processed,
    succeeded: op.succeeded,
    failed: op.failed,
    skipped: op.skipped,
    final: false,
    occurredAt: op.updatedAt.toISOString(),
  };
}

/** The labels a job of this kind would set: SET_LABEL's label, IMPORT's documents' labels. */
function labelsSetBy(kind: string, params: Record<string, unknown>, inputs: Record<string, unknown>[]): string[] {
  if (kind === "SET_LABEL") return [String(params.label)];
  if (kind !== "IMPORT") return [];
  return inputs.flatMap((item) => (Array.isArray(item.labels) ? item.labels : []).map((l: { name?: unknown }) => String(l?.name)));
}
