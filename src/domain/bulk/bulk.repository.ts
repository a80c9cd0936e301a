import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { Prisma } from "../../generated/prisma/client.js";
import { sqlDate, type SyncWriter } from "../../db/sync-writer.js";
import type { Db } from "../../db/client.js";
import type { SyncReader } from "../../db/sync-reader.js";
import type { Tx } from "../prompts/label.repository.js";
import type { BulkOperationStatus, BulkProgressPayload } from "../../subscriptions/topics.js";
import { BulkSyncRepository, opFromRow, type RawOp } from "./bulk.sync-repository.js";

export type BulkKind =
  | "CREATE_PROMPTS"
  | "UPDATE_PROMPTS"
  | "DELETE_PROMPTS"
  | "ARCHIVE_PROMPTS"
  | "ADD_TAGS"
  | "REMOVE_TAGS"
  | "SET_LABEL"
  | "IMPORT";

export type ItemStatus = "PENDING" | "SUCCEEDED" | "FAILED" | "SKIPPED";

export interface BulkOperationRecord {
  id: string;
  kind: BulkKind;
  status: BulkOperationStatus;
  dryRun: boolean;
  stopOnError: boolean;
  idempotencyKey: string | null;
  params: Record<string, unknown>;
  attempt: number;
  total: number;
  processed: number;
  succeeded: number;
  failed: number;
  skipped: number;
  cancelRequested: boolean;
  error: string | null;
  createdBy: string | null;
  /** Who the job runs as: its starter, or whoever retried it last (histories name them). */
  runBy: string | null;
  /** The starter's role and key (null for jobs started before access control): the job runs with these rights. */
  createdByRole: string | null;
  createdByKeyId: string | null;
  lastSequence: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  updatedAt: Date;
}

export interface BulkItemRecord {
  operationId: string;
  index: number;
  input: unknown;
  status: ItemStatus;
  errorCode: string | null;
  errorMessage: string | null;
  result: unknown;
  attempt: number;
}

export interface ItemOutcome {
  index: number;
  status: Exclude<ItemStatus, "PENDING">;
  errorCode: string | null;
  errorMessage: string | null;
  result: unknown;
}

type OpRow = Omit<BulkOperationRecord, "params" | "kind" | "status"> & { params: string; kind: string; status: string };

const toOp = (row: OpRow): BulkOperationRecord => ({
  ...row,
  kind: row.kind as BulkKind,
  status: row.status as BulkOperationStatus,
  params: JSON.parse(row.params) as Record<string, unknown>,
});

const toItem = (row: { operationId: string; index: number; input: string; status: string; errorCode: string | null; errorMessage: string | null; result: string | null; attempt: number }): BulkItemRecord => ({
  ...row,
  input: JSON.parse(row.input) as unknown,
  status: row.status as ItemStatus,
  result: row.result === null ? null : (JSON.parse(row.result) as unknown),
});

/** Items stored per turn of the event loop while a job is accepted (see create). */
const INSERT_STEP = 1_000;
const INSERT_OP = `INSERT INTO BulkOperation (id, kind, status, dryRun, stopOnError, idempotencyKey, params, total, createdBy, runBy, createdByRole, createdByKeyId, createdAt, updatedAt)
  VALUES (@id, @kind, @status, @dryRun, @stopOnError, @idempotencyKey, @params, @total, @createdBy, @runBy, @createdByRole, @createdByKeyId, @createdAt, @updatedAt)`;
const INSERT_ITEM = `INSERT INTO BulkOperationItem (operationId, "index", input, status, attempt) VALUES (?, ?, ?, 'PENDING', 0)`;

// Reads on the prepared-statement reader (see findById).
const OP_COLUMNS = `id, kind, status, dryRun, stopOnError, idempotencyKey, params, attempt, total, processed, succeeded,
  failed, skipped, cancelRequested, error, createdBy, runBy, createdByRole, createdByKeyId, lastSequence, createdAt, startedAt,
  finishedAt, updatedAt`;
const OP_BY_ID = `SELECT ${OP_COLUMNS} FROM BulkOperation WHERE id = ?`;
const UNFINISHED = `SELECT ${OP_COLUMNS} FROM BulkOperation WHERE status IN ('QUEUED', 'RUNNING') ORDER BY createdAt, id`;
const COUNT_BY_STATUS = "SELECT count(*) AS n FROM BulkOperation WHERE status = ?";
const COUNT_ALL = "SELECT count(*) AS n FROM BulkOperation";

export class BulkRepository {
  private readonly sync = new BulkSyncRepository();

  constructor(
    private readonly db: Db,
    /** The prepared-statement writer: a job's items are stored through it (see create). */
    private readonly writer: SyncWriter,
    /** The prepared-statement reader, for findById (read before every chunk and by every status query). */
    private readonly reader?: SyncReader,
  ) {}

  /**
   * Read outside any transaction: before each chunk of a running job, and by every status
   * query a client polls with. Through Prisma each read compiled its query in wasm again (1-2 ms
   * of the server's thread); on the reader it is one prepared statement.
   */
  async findById(id: string): Promise<BulkOperationRecord | null> {
    if (this.reader) {
      const raw = this.reader.get<RawOp>(OP_BY_ID, id);
      return raw ? opFromRow(raw) : null;
    }
    const row = await this.db.bulkOperation.findUnique({ where: { id } });
    return row && toOp(row);
  }

  async findByIdempotencyKey(key: string): Promise<BulkOperationRecord | null> {
    const row = await this.db.bulkOperation.findUnique({ where: { idempotencyKey: key } });
    return row && toOp(row);
  }

  /**
   * The operation and all its items, in one transaction: it exists whole or not at all. On
   * prepared statements, a thousand items per turn of the event loop: through Prisma, storing
   * 10,000 items cost the server's thread about 200 ms of CPU (a statement of 500 rows built
   * and compiled per batch), and serving waited behind it; now about 20 ms, in steps.
   */
  async create(op: Omit<BulkOperationRecord, "processed" | "succeeded" | "failed" | "skipped" | "cancelRequested" | "lastSequence" | "attempt" | "error" | "startedAt" | "finishedAt">, inputs: unknown[]) {
    await this.writer.transaction(async (session) => {
      session.statement(INSERT_OP).run({
        ...op,
        idempotencyKey: op.idempotencyKey ?? null,
        createdBy: op.createdBy ?? null,
        runBy: op.runBy ?? null,
        createdByRole: op.createdByRole ?? null,
        createdByKeyId: op.createdByKeyId ?? null,
        dryRun: op.dryRun ? 1 : 0,
        stopOnError: op.stopOnError ? 1 : 0,
        params: JSON.stringify(op.params),
        createdAt: sqlDate(op.createdAt),
        updatedAt: sqlDate(op.updatedAt),
      });
      const insert = session.statement(INSERT_ITEM);
      for (let start = 0; start < inputs.length; start += INSERT_STEP) {
        // Plain reads use their own connection: they run between the steps of a large request.
        // The first step too: it would otherwise run in the same turn as the request's parsing
        // and coercing of all its items.
        await yieldToEventLoop();
        const end = Math.min(inputs.length, start + INSERT_STEP);
        for (let index = start; index < end; index++) insert.run(op.id, index, JSON.stringify(inputs[index]));
      }
    });
  }

  async list(status: BulkOperationStatus | null, limit: number, beforeCreated: { createdAt: Date; id: string } | undefined) {
    const rows = await this.db.bulkOperation.findMany({
      where: {
        AND: [
          status ? { status } : {},
          beforeCreated
            ? { OR: [{ createdAt: { lt: beforeCreated.createdAt } }, { createdAt: beforeCreated.createdAt, id: { lt: beforeCreated.id } }] }
            : {},
        ],
      },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      take: limit,
    });
    return rows.map(toOp);
  }

  /** On the reader when there is one: /metrics and /health ask for it (queueDepth). */
  async count(status: BulkOperationStatus | null): Promise<number> {
    if (this.reader) return (status ? this.reader.get<{ n: number }>(COUNT_BY_STATUS, status) : this.reader.get<{ n: number }>(COUNT_ALL))!.n;
    return this.db.bulkOperation.count({ where: status ? { status } : {} });
  }

  async items(operationId: string, status: ItemStatus | null, limit: number, afterIndex: number): Promise<BulkItemRecord[]> {
    const rows = await this.db.bulkOperationItem.findMany({
      where: { operationId, index: { gt: afterIndex }, ...(status ? { status } : {}) },
      orderBy: { index: "asc" },
      take: limit,
    });
    return rows.map(toItem);
  }

  countItems(operationId: string, status: ItemStatus | null): Promise<number> {
    return this.db.bulkOperationItem.count({ where: { operationId, ...(status ? { status } : {}) } });
  }

  /**
   * Operations to (re)start after a restart: queued ones and those a crash left running. Read
   * at every start: on the reader, so that a server that only serves never loads Prisma's
   * query compiler (about 30 MiB of resident memory).
   */
  async unfinished(): Promise<BulkOperationRecord[]> {
    if (this.reader) return this.reader.all<RawOp>(UNFINISHED).map(opFromRow);
    const rows = await this.db.bulkOperation.findMany({
      where: { status: { in: ["QUEUED", "RUNNING"] } },
      orderBy: [{ createdAt: "asc" }, { id: "asc" }],
    });
    return rows.map(toOp);
  }

  /**
   * A run's start and end are on prepared statements (see BulkSyncRepository). Through Prisma,
   * each of their statements was compiled in wasm again, and the end (count, updates, event,
   * then the notification) ran in one turn of the event loop: with no other load, the longest
   * block while a 10,000-item job ran was 41-57 ms in a server's first two jobs, 12-30 ms since.
   */
  async markRunning(id: string): Promise<void> {
    await this.writer.transaction((session) => this.sync.markRunning(session, id));
  }

  async requestCancel(id: string): Promise<void> {
    await this.db.bulkOperation.update({ where: { id }, data: { cancelRequested: true, updatedAt: new Date() } });
  }

  /** Failed items go back to PENDING for a new attempt; the operation is queued again. */
  /** The inputs of the failed items (what a retry would run again). */
  async failedInputs(id: string): Promise<Record<string, unknown>[]> {
    const rows = await this.db.bulkOperationItem.findMany({ where: { operationId: id, status: "FAILED" }, select: { input: true } });
    return rows.map((row) => JSON.parse(row.input) as Record<string, unknown>);
  }

  /** Puts the failed items back to PENDING for another attempt, run with `rights` (the retrier's). */
  async resetFailed(id: string, rights: { name: string | null; role: string | null; keyId: string | null }): Promise<number> {
    return this.db.$transaction(async (tx) => {
      const { count } = await tx.bulkOperationItem.updateMany({
        where: { operationId: id, status: "FAILED" },
        data: { status: "PENDING", errorCode: null, errorMessage: null, result: null },
      });
      await tx.bulkOperation.update({
        where: { id },
        data: {
          status: "QUEUED",
          attempt: { increment: 1 },
          processed: { decrement: count },
          failed: { decrement: count },
          cancelRequested: false,
          error: null,
          finishedAt: null,
          updatedAt: new Date(),
          runBy: rights.name,
          createdByRole: rights.role,
          createdByKeyId: rights.keyId,
        },
      });
      return count;
    });
  }

  /** The next pending items of an operation, in order. */
  async pending(tx: Tx, operationId: string, limit: number): Promise<BulkItemRecord[]> {
    const rows = await tx.bulkOperationItem.findMany({
      where: { operationId, status: "PENDING" },
      orderBy: { index: "asc" },
      take: limit,
    });
    return rows.map(toItem);
  }

  /** Stores item outcomes and bumps the operation's counters, inside the chunk's transaction. */
  async recordOutcomes(tx: Tx, op: BulkOperationRecord, outcomes: ItemOutcome[]): Promise<BulkOperationRecord> {
    if (outcomes.length > 0) {
      const values = Prisma.join(
        outcomes.map((o) => Prisma.sql`(${o.index}, ${o.status}, ${o.errorCode}, ${o.errorMessage}, ${o.result === undefined || o.result === null ? null : JSON.stringify(o.result)})`),
      );
      await tx.$executeRaw`
        UPDATE BulkOperationItem AS i
        SET status = v.column2, errorCode = v.column3, errorMessage = v.column4, result = v.column5, attempt = i.attempt + 1
        FROM (VALUES ${values}) AS v
        WHERE i.operationId = ${op.id} AND i."index" = v.column1`;
    }
    const count = (s: ItemStatus) => outcomes.filter((o) => o.status === s).length;
    const row = await tx.bulkOperation.update({
      where: { id: op.id },
      data: {
        processed: { increment: outcomes.length },
        succeeded: { increment: count("SUCCEEDED") },
        failed: { increment: count("FAILED") },
        skipped: { increment: count("SKIPPED") },
        updatedAt: new Date(),
      },
    });
    return toOp(row);
  }

  /** Persists a progress snapshot with the next sequence number of the operation. */
  async appendEvent(tx: Tx, op: BulkOperationRecord): Promise<BulkProgressPayload> {
    const row = await tx.bulkOperation.update({ where: { id: op.id }, data: { lastSequence: { increment: 1 } } });
    const payload: BulkProgressPayload = {
      operationId: op.id,
      sequence: row.lastSequence,
      status: row.status as BulkOperationStatus,
      total: row.total,
      processed: row.processed,
      succeeded: row.succeeded,
      failed: row.failed,
      skipped: row.skipped,
      final: false,
      occurredAt: new Date().toISOString(),
    };
    await tx.bulkOperationEvent.create({
      data: { operationId: op.id, sequence: payload.sequence, payload: JSON.stringify(payload), createdAt: new Date() },
    });
    return payload;
  }

  /** Ends a run (see BulkSyncRepository.finish); null when it had already ended. */
  finish(op: BulkOperationRecord, status: BulkOperationStatus, error: string | null): Promise<{ op: BulkOperationRecord; event: BulkProgressPayload } | null> {
    return this.writer.transaction((session) => this.sync.finish(session, op, status, error));
  }

  async eventsAfter(operationId: string, sequence: number): Promise<BulkProgressPayload[]> {
    const rows = await this.db.bulkOperationEvent.findMany({
      where: { operationId, sequence: { gt: sequence } },
      orderBy: { sequence: "asc" },
    });
    return rows.map((row) => JSON.parse(row.payload) as BulkProgressPayload);
  }
}
