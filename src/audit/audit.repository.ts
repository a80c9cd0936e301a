import type { Db } from "../db/client.js";
import { sqlDate, type SyncWriter } from "../db/sync-writer.js";
import type { AuditOutcome } from "./audit.sql.js";

export interface AuditEntryRecord {
  id: string;
  occurredAt: Date;
  actor: string | null;
  keyId: string | null;
  role: string | null;
  operation: string;
  target: string | null;
  outcome: AuditOutcome;
  errorCode: string | null;
  requestId: string;
  details: string | null;
}

export interface AuditFilter {
  actor?: string | null;
  keyId?: string | null;
  operation?: string | null;
  target?: string | null;
  outcome?: AuditOutcome | null;
  from?: Date | null;
  to?: Date | null;
}

export class AuditRepository {
  constructor(
    private readonly db: Db,
    /** Retention deletes on a prepared statement (see deleteBefore). */
    private readonly writer: SyncWriter,
  ) {}

  /** An entry on its own (a mutation that changed nothing, failed or was refused). */
  async insert(args: (string | null)[], sql: string): Promise<void> {
    await this.db.$executeRawUnsafe(sql, ...args);
  }

  /** A mutation whose change committed and then failed later: its entry says so. */
  async markFailed(id: string, errorCode: string | null): Promise<void> {
    await this.db.auditEntry.updateMany({ where: { id }, data: { outcome: "FAILURE", errorCode } });
  }

  /** Newest first by (occurredAt, id). */
  async page(filter: AuditFilter, limit: number, before: { occurredAt: Date; id: string } | undefined): Promise<AuditEntryRecord[]> {
    return (await this.db.auditEntry.findMany({
      where: {
        AND: [
          where(filter),
          before ? { OR: [{ occurredAt: { lt: before.occurredAt } }, { occurredAt: before.occurredAt, id: { lt: before.id } }] } : {},
        ],
      },
      orderBy: [{ occurredAt: "desc" }, { id: "desc" }],
      take: limit,
    })) as AuditEntryRecord[];
  }

  count(filter: AuditFilter): Promise<number> {
    return this.db.auditEntry.count({ where: where(filter) });
  }

  /**
   * Deletes entries older than `before`; returns how many. Run at every start: through Prisma
   * it loaded the query compiler in a server that only serves prompts (about 30 MiB resident).
   */
  deleteBefore(before: Date): Promise<number> {
    return this.writer.grouped((session) => session.statement('DELETE FROM "AuditEntry" WHERE "occurredAt" < ?').run(sqlDate(before)).changes);
  }
}

function where(filter: AuditFilter) {
  return {
    ...(filter.actor != null && { actor: filter.actor }),
    ...(filter.keyId != null && { keyId: filter.keyId }),
    ...(filter.operation != null && { operation: filter.operation }),
    ...(filter.target != null && { target: filter.target }),
    ...(filter.outcome != null && { outcome: filter.outcome }),
    ...((filter.from != null || filter.to != null) && {
      occurredAt: { ...(filter.from != null && { gte: filter.from }), ...(filter.to != null && { lt: filter.to }) },
    }),
  };
}
