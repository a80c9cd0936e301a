// The principal (and the audit state) of the mutation being resolved, for the code that must
// know it without every service call passing it along: the protected-label rule and the
// database layer that writes the audit entry inside the change's own transaction.
import { AsyncLocalStorage } from "node:async_hooks";
import { AppError } from "../errors.js";
import type { Principal } from "./principal.js";

/** One audit entry waiting for the transaction that carries it. */
export interface PendingAudit {
  readonly occurredAt: Date;
  readonly operation: string;
  readonly target: string | null;
  readonly requestId: string;
  readonly details: string | null;
  /**
   * open: no transaction has taken it yet; claimed: a transaction wrote it and is committing;
   * written: committed with the change; closed: the mutation ended (work it left behind, such
   * as a job it started, must not write it again).
   */
  state: "open" | "claimed" | "written" | "closed";
  /** The entry's row id once written. */
  id: string | null;
}

export interface OperationScope {
  principal: Principal;
  audit?: PendingAudit;
  /** The app's protected labels (PROMPT_STORE_PROTECTED_LABELS). */
  protectedLabels?: ReadonlySet<string>;
}

const storage = new AsyncLocalStorage<OperationScope>();

/**
 * Runs `fn` (and everything it awaits or schedules) as `principal`. Background work the
 * server does on its own behalf runs as a system principal, so that it never inherits the
 * scope of the request that happened to wake it up.
 */
export function runAs<T>(principal: Principal, fn: () => T, extra: Omit<OperationScope, "principal"> = {}): T {
  return storage.run({ principal, ...extra }, fn);
}

/**
 * The audit entry a write transaction should carry, claimed for it; `settle` is called with
 * whether the transaction committed. Undefined outside a mutation or once written.
 */
export function claimAudit(): { audit: PendingAudit; principal: Principal; settle(committed: boolean): void } | undefined {
  const scope = storage.getStore();
  const audit = scope?.audit;
  if (!scope || !audit || audit.state !== "open") return undefined;
  audit.state = "claimed";
  return {
    audit,
    principal: scope.principal,
    settle(committed) {
      if (audit.state === "claimed") audit.state = committed ? "written" : "open";
    },
  };
}

/**
 * Refuses to move a protected label unless the caller is an ADMIN or the server itself (an A/B
 * test's auto-promotion, a bulk job whose start was checked). Called where every label move
 * is written, so no path around it exists. Outside any scope (the server's own start-up work)
 * there is no caller to refuse.
 */
export function assertMayMoveLabels(labels: Iterable<string>, doing = "move it"): void {
  const scope = storage.getStore();
  if (!scope?.protectedLabels || scope.principal.role === "ADMIN" || scope.principal.kind === "system") return;
  const protectedOnes = [...new Set(labels)].filter((label) => scope.protectedLabels!.has(label));
  if (protectedOnes.length === 0) return;
  throw new AppError(
    "FORBIDDEN",
    `label ${protectedOnes.join(", ")} is protected: only an ADMIN key (or an A/B test's auto-promotion) may ${doing}`,
    { field: "label", labels: protectedOnes, role: scope.principal.role },
  );
}

/** Whether a label is protected for the operation running now (false outside any). */
export function isProtectedLabel(label: string): boolean {
  return storage.getStore()?.protectedLabels?.has(label) ?? false;
}

/**
 * The operation scope running now, to run a piece of work in later: SyncWriter's group commit
 * writes each caller's change, and its audit entry, with the caller's rights. Cheaper than
 * AsyncResource.bind (and AsyncLocalStorage.snapshot, which is that bind on Node 20), which
 * creates an async resource and two util.deprecate wrappers per call.
 */
export function captureScope(): <T>(fn: () => T) => T {
  const scope = storage.getStore();
  return scope ? (fn) => storage.run(scope, fn) : (fn) => storage.exit(fn);
}

/**
 * Runs `fn` outside any operation scope: for timers a request happens to arm (write-behind
 * buffers, debounced evaluations), whose work belongs to no request and must not write that
 * request's audit entry or act with its rights.
 */
export function detached<T>(fn: () => T): T {
  return storage.exit(fn);
}
