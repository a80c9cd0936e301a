import { dateOrNull } from "../../db/sync-reader.js";
import { sqlDate, type SyncSession } from "../../db/sync-writer.js";
import type { BulkOperationStatus, BulkProgressPayload } from "../../subscriptions/topics.js";
import type { BulkItemRecord, BulkKind, BulkOperationRecord, ItemOutcome, ItemStatus } from "./bulk.repository.js";

/** A BulkOperation row as better-sqlite3 returns it: dates as text, booleans as 0/1, JSON as text. */
export type RawOp = Omit<
  BulkOperationRecord,
  "kind" | "status" | "dryRun" | "stopOnError" | "cancelRequested" | "params" | "createdAt" | "startedAt" | "finishedAt" | "updatedAt"
> & {
  kind: string;
  status: string;
  dryRun: number;
  stopOnError: number;
  cancelRequested: number;
  params: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  updatedAt: string;
};

/** A raw row as the record Prisma's reads give (BulkRepository's reader uses it too). */
export const opFromRow = (row: RawOp): BulkOperationRecord => ({
  ...row,
  kind: row.kind as BulkKind,
  status: row.status as BulkOperationStatus,
  dryRun: row.dryRun === 1,
  stopOnError: row.stopOnError === 1,
  cancelRequested: row.cancelRequested === 1,
  params: JSON.parse(row.params) as Record<string, unknown>,
  createdAt: new Date(row.createdAt),
  startedAt: dateOrNull(row.startedAt),
  finishedAt: dateOrNull(row.finishedAt),
  updatedAt: new Date(row.updatedAt),
});

/**
 * BulkRepository's statements on prepared statements, run inside a SyncWriter transaction: the
 * fast path's chunk statements, together with the items' own writes (so a chunk's changes and
 * its outcome rows still commit together), and a run's start and end. Same rows and rules as
 * their Prisma counterparts.
 */
export class BulkSyncRepository {
  pending(session: SyncSession, operationId: string, limit: number): BulkItemRecord[] {
    const rows = session
      .statement(`SELECT * FROM BulkOperationItem WHERE operationId = ? AND status = 'PENDING' ORDER BY "index" LIMIT ?`)
      .all(operationId, limit) as { operationId: string; index: number; input: string; status: string; errorCode: string | null; errorMessage: string | null; result: string | null; attempt: number }[];
    return rows.map((row) => ({
      ...row,
      input: JSON.parse(row.input) as unknown,
      status: row.status as ItemStatus,
      result: row.result === null ? null : (JSON.parse(row.result) as unknown),
    }));
  }

  recordOutcomes(session: SyncSession, op: BulkOperationRecord, outcomes: ItemOutcome[]): BulkOperationRecord {
    const item = session.statement(
      `UPDATE BulkOperationItem SET status = ?, errorCode = ?, errorMessage = ?, result = ?, attempt = attempt + 1
       WHERE operationId = ? AND "index" = ?`,
    );
    for (const o of outcomes) {
      item.run(o.status, o.errorCode, o.errorMessage, o.result === undefined || o.result === null ? null : JSON.stringify(o.result), op.id, o.index);
    }
    const count = (s: ItemStatus) => outcomes.filter((o) => o.status === s).length;
    const row = session
      .statement(
        `UPDATE BulkOperation SET processed = processed + ?, succeeded = succeeded + ?, failed = failed + ?, skipped = skipped + ?, updatedAt = ?
         WHERE id = ? RETURNING *`,
      )
      .get(outcomes.length, count("SUCCEEDED"), count("FAILED"), count("SKIPPED"), sqlDate(new Date()), op.id) as RawOp;
    return opFromRow(row);
  }

  /** Marks an operation running; a resumed one keeps the time it first started. */
  markRunning(session: SyncSession, id: string): void {
    const now = sqlDate(new Date());
    session.statement(`UPDATE BulkOperation SET status = 'RUNNING', updatedAt = ?, startedAt = COALESCE(startedAt, ?) WHERE id = ?`).run(now, now, id);
  }

  /**
   * Ends a run: final status, the remaining items skipped when it stopped early, and the final
   * event. Null when the operation had already ended (several processes may work one operation,
   * as they share the database; only one ends it).
   */
  finish(session: SyncSession, op: BulkOperationRecord, status: BulkOperationStatus, error: string | null): { op: BulkOperationRecord; event: BulkProgressPayload } | null {
    if (!session.statement(`SELECT 1 FROM BulkOperation WHERE id = ? AND status IN ('QUEUED', 'RUNNING')`).get(op.id)) return null;
    let skippedNow = 0;
    if (status !== "COMPLETED") {
      skippedNow = session
        .statement(`UPDATE BulkOperationItem SET status = 'SKIPPED', errorCode = ?, errorMessage = ? WHERE operationId = ? AND status = 'PENDING'`)
        .run(status === "CANCELLED" ? "CANCELLED" : "STOPPED", error ?? `not run: the operation was ${status.toLowerCase()}`, op.id).changes;
    }
    const now = sqlDate(new Date());
    const row = session
      .statement(
        `UPDATE BulkOperation SET status = ?, error = ?, finishedAt = ?, updatedAt = ?, processed = processed + ?, skipped = skipped + ?
         WHERE id = ? RETURNING *`,
      )
      .get(status, error, now, now, skippedNow, skippedNow, op.id) as RawOp;
    const ended = opFromRow(row);
    return { op: ended, event: this.appendEvent(session, ended, true) };
  }

  /** Persists a progress snapshot with the next sequence number of the operation. */
  appendEvent(session: SyncSession, op: BulkOperationRecord, final = false): BulkProgressPayload {
    const row = opFromRow(session.statement(`UPDATE BulkOperation SET lastSequence = lastSequence + 1 WHERE id = ? RETURNING *`).get(op.id) as RawOp);
    const now = new Date();
    const payload: BulkProgressPayload = {
      operationId: op.id,
      sequence: row.lastSequence,
      status: row.status,
      total: row.total,
      processed: row.processed,
      succeeded: row.succeeded,
      failed: row.failed,
      skipped: row.skipped,
      final,
      occurredAt: now.toISOString(),
    };
    session
      .statement(`INSERT INTO BulkOperationEvent (operationId, sequence, payload, createdAt) VALUES (?, ?, ?, ?)`)
      .run(op.id, payload.sequence, JSON.stringify(payload), sqlDate(now));
    return payload;
  }
}
