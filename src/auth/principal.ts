/** What a key may do. Each role includes the one after it except SERVICE, which is its own narrow set. */
export const ROLES = ["ADMIN", "EDITOR", "SERVICE", "VIEWER"] as const;
export type Role = (typeof ROLES)[number];

/**
 * Who is making a request, once verified. `keyId` is null for the bootstrap admin key
 * (PROMPT_STORE_ADMIN_KEY), for open local mode and for anonymous callers.
 */
export interface Principal {
  kind: "key" | "bootstrap" | "local" | "anonymous" | "system";
  /** The name recorded as actor in histories and the audit log. */
  name: string | null;
  role: Role | null;
  keyId: string | null;
  /** When the key stops working (long-lived sockets are closed then). */
  expiresAt?: Date | null;
}

export const ANONYMOUS: Principal = Object.freeze({ kind: "anonymous", name: null, role: null, keyId: null });

/** Everyone on this machine in open local mode (no admin key, not production): a full admin. */
export const LOCAL_ADMIN: Principal = Object.freeze({ kind: "local", name: "local", role: "ADMIN", keyId: null });

export const BOOTSTRAP_ADMIN: Principal = Object.freeze({ kind: "bootstrap", name: "admin", role: "ADMIN", keyId: null });

/** Work the server does by itself on a rule a person configured (an A/B test's auto-promotion). */
export const systemPrincipal = (name: string): Principal => Object.freeze({ kind: "system", name, role: null, keyId: null });

export const isRole = (value: unknown): value is Role => typeof value === "string" && (ROLES as readonly string[]).includes(value);
