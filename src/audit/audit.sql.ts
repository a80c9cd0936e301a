// The one INSERT of an audit entry, shared by the two write paths (Prisma's connection through
// the isolation adapter, and the SyncWriter's), so an entry looks the same whoever wrote it.
import type { PendingAudit } from "../auth/scope.js";
import type { Principal } from "../auth/principal.js";
import { sqlDate } from "../db/sync-writer.js";
import { newId } from "../domain/shared/ids.js";

export type AuditOutcome = "SUCCESS" | "FAILURE" | "DENIED";

export const INSERT_AUDIT_SQL =
  'INSERT INTO "AuditEntry" ("id", "occurredAt", "actor", "keyId", "role", "operation", "target", "outcome", "errorCode", "requestId", "details") ' +
  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

/** The statement's arguments, in order; the entry's id is assigned here. */
export function auditArgs(
  audit: PendingAudit,
  principal: Principal,
  outcome: AuditOutcome,
  errorCode: string | null = null,
): { id: string; args: (string | null)[] } {
  const id = newId(audit.occurredAt.getTime());
  return {
    id,
    args: [
      id,
      sqlDate(audit.occurredAt),
      principal.name,
      principal.keyId,
      principal.role ?? (principal.kind === "system" ? "SYSTEM" : null),
      audit.operation,
      audit.target,
      outcome,
      errorCode,
      audit.requestId,
      audit.details,
    ],
  };
}
