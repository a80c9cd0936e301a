import { detached, runAs, type PendingAudit } from "../auth/scope.js";
import type { Principal } from "../auth/principal.js";
import { GraphQLError } from "graphql";
import { AppError, badInput } from "../errors.js";
import { decodeCursor, encodeCursor, pageSize, toPage } from "../domain/shared/pagination.js";
import type { Logger } from "../logger.js";
import { auditArgs, INSERT_AUDIT_SQL, type AuditOutcome } from "./audit.sql.js";
import type { AuditFilter, AuditRepository } from "./audit.repository.js";

const TARGET_KEYS = ["id", "promptId", "sessionId", "testId", "operationId", "prompt", "session", "name"] as const;
const SECRET_KEY = /secret|password|token|apikey|authorization/i;
const MAX_DETAILS = 4_096;

/**
 * The audit log: one entry per mutation. While a mutation runs, its entry waits in the
 * operation scope; the first write transaction that commits takes it along (src/db), so the
 * change and its record are kept or lost together. A mutation that wrote nothing, failed or was
 * refused gets its entry here, on its own.
 */
export class AuditService {
  private readonly protectedLabels: ReadonlySet<string>;
  private retention: NodeJS.Timeout | undefined;

  constructor(
    private readonly repository: AuditRepository,
    private readonly logger: Logger,
    protectedLabels: readonly string[],
  ) {
    this.protectedLabels = new Set(protectedLabels);
  }

  /** Runs one mutation's resolver with its entry pending, and settles the entry by the outcome. */
  async record<T>(principal: Principal, operation: string, args: Record<string, unknown>, requestId: string, resolve: () => Promise<T>): Promise<T> {
    const audit: PendingAudit = {
      occurredAt: new Date(),
      operation,
      target: targetOf(args),
      requestId,
      details: summarize(args),
      state: "open",
      id: null,
    };
    let result: T;
    try {
      result = await runAs(principal, resolve, { audit, protectedLabels: this.protectedLabels });
    } catch (error) {
      await this.settle(audit, principal, "FAILURE", errorCodeOf(error));
      throw error;
    }
    await this.settle(audit, principal, "SUCCESS", null);
    return result;
  }

  /**
   * A mutation refused for its caller's role: one DENIED entry per operation, naming its fields.
   * (Callers without a key are not recorded: they are counted in /metrics, and could otherwise
   * fill the log for free.)
   */
  async denied(principal: Principal, fields: string[], requestId: string, errorCode: string): Promise<void> {
    const operation = fields.join(", ").slice(0, 200);
    const details = fields.length > 1 ? JSON.stringify({ fields }) : null;
    const audit: PendingAudit = { occurredAt: new Date(), operation, target: null, requestId, details, state: "closed", id: null };
    try {
      await this.insert(audit, principal, "DENIED", errorCode);
    } catch (error) {
      // The refusal stands (and is answered as such); the missing entry is logged loudly.
      this.logger.error({ err: error, operation, requestId }, "writing an audit entry failed");
    }
  }

  async list(filter: AuditFilter, first: number | null | undefined, after: string | null | undefined) {
    if (filter.from && filter.to && filter.from >= filter.to) throw badInput("filter.to", "filter.to must be after filter.from");
    const limit = pageSize(first);
    let before: { occurredAt: Date; id: string } | undefined;
    if (after) {
      const c = decodeCursor(after);
      if (typeof c.t !== "string" || typeof c.i !== "string") throw badInput("after", "after is not an audit log cursor");
      before = { occurredAt: new Date(c.t), id: c.i };
    }
    const rows = limit === 0 ? [] : await this.repository.page(filter, limit + 1, before);
    return {
      ...toPage(rows, limit, before !== undefined),
      cursor: (row: { occurredAt: Date; id: string }) => encodeCursor({ t: row.occurredAt.toISOString(), i: row.id }),
      totalCount: () => this.repository.count(filter),
    };
  }

  deleteBefore(before: Date): Promise<number> {
    return this.repository.deleteBefore(before);
  }

  /** Deletes entries past the retention period now and then every hour. */
  startRetention(retentionDays: number, intervalMs = 3_600_000): void {
    const purge = () =>
      detached(() =>
        this.deleteBefore(new Date(Date.now() - retentionDays * 86_400_000))
          .then((deleted) => deleted > 0 && this.logger.info({ deleted }, "audit entries past retention deleted"))
          .catch((err: unknown) => this.logger.error({ err }, "audit retention failed")),
      );
    void purge();
    this.retention ??= setInterval(purge, intervalMs);
    this.retention.unref();
  }

  stop(): void {
    clearInterval(this.retention);
    this.retention = undefined;
  }

  private async settle(audit: PendingAudit, principal: Principal, outcome: AuditOutcome, errorCode: string | null) {
    const written = audit.state === "written";
    // From here on, work the mutation left running (a job it started) does not write this entry.
    audit.state = "closed";
    try {
      if (!written) await this.insert(audit, principal, outcome, errorCode);
      else if (outcome !== "SUCCESS" && audit.id) await this.repository.markFailed(audit.id, errorCode);
    } catch (error) {
      // The mutation's own answer stands; the gap is logged loudly.
      this.logger.error({ err: error, operation: audit.operation, requestId: audit.requestId }, "writing an audit entry failed");
    }
  }

  private insert(audit: PendingAudit, principal: Principal, outcome: AuditOutcome, errorCode: string | null) {
    const { args } = auditArgs(audit, principal, outcome, errorCode);
    // Outside the mutation's scope: this write carries no pending entry of its own.
    return runAs(principal, () => this.repository.insert(args, INSERT_AUDIT_SQL));
  }
}

function targetOf(args: Record<string, unknown>): string | null {
  const pick = (value: unknown): string | null => {
    if (!value || typeof value !== "object") return null;
    const record = value as Record<string, unknown>;
    for (const key of TARGET_KEYS) {
      const v = record[key];
      if (typeof v === "string" && v.length > 0) return v.slice(0, 200);
      if (v && typeof v === "object" && !Array.isArray(v)) {
        const ref = v as Record<string, unknown>;
        const named = typeof ref.id === "string" ? ref.id : typeof ref.name === "string" ? ref.name : null;
        if (named) return named.slice(0, 200);
      }
    }
    return null;
  };
  return pick(args) ?? pick(args.input);
}

/** The arguments, small enough to keep for every mutation: long text cut, lists counted, secrets out. */
export function summarize(args: Record<string, unknown>): string | null {
  const shrink = (value: unknown, depth: number): unknown => {
    if (typeof value === "string") return value.length > 200 ? `${value.slice(0, 200)}… (${value.length} characters)` : value;
    if (value === null || typeof value !== "object") return value ?? null;
    if (value instanceof Date) return value.toISOString();
    if (depth >= 4) return "…";
    if (Array.isArray(value)) return value.length > 10 ? `[${value.length} items]` : value.map((v) => shrink(v, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[key] = SECRET_KEY.test(key) ? "[redacted]" : shrink(v, depth + 1);
    return out;
  };
  if (Object.keys(args).length === 0) return null;
  const text = JSON.stringify(shrink(args, 0));
  return text.length > MAX_DETAILS ? JSON.stringify({ truncated: text.slice(0, MAX_DETAILS) }) : text;
}

function errorCodeOf(error: unknown): string {
  if (error instanceof AppError) return error.code;
  if (error instanceof GraphQLError) {
    if (error.originalError instanceof AppError) return error.originalError.code;
    if (typeof error.extensions.code === "string") return error.extensions.code;
  }
  return "INTERNAL_SERVER_ERROR";
}
