import { existsSync, readdirSync } from "node:fs";
import { ROOT } from "../paths.js";
import Database from "better-sqlite3";
import type { Db } from "./client.js";

/** prisma/migrations of this checkout. */
export const MIGRATIONS_DIR = new URL("prisma/migrations/", ROOT);

export function expectedMigrations(dir: URL | string = MIGRATIONS_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort();
}

/**
 * The migrations of this build that the database has not finished applying (as recorded by
 * `prisma migrate deploy` in _prisma_migrations); every one when there is no database file yet.
 * Read on a short-lived connection of its own, not through Prisma: at start-up that would be
 * Prisma's first query, which instantiates its wasm compiler (see pragmas() in client.ts).
 * A database that another process holds locked (the migrator does) is not ready yet: null.
 */
export function pendingMigrations(file: string, expected: string[]): string[] | null {
  if (!existsSync(file)) return expected;
  let conn: Database.Database | undefined;
  try {
    conn = new Database(file, { readonly: true, fileMustExist: true, timeout: 0 });
    const table = conn.prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'").pluck().get() as number;
    if (table === 0) return expected;
    const applied = new Set(
      conn.prepare("SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL").pluck().all() as string[],
    );
    return expected.filter((name) => !applied.has(name));
  } catch (error) {
    if ((error as { code?: string }).code === "SQLITE_BUSY" || (error as { code?: string }).code === "SQLITE_LOCKED") return null;
    throw error;
  } finally {
    conn?.close();
  }
}

/**
 * Tracks whether the database has every migration of this build. While some are pending
 * the server is not ready and holds no connection between checks: Prisma's migrator takes
 * an exclusive lock on the SQLite file (locking_mode=EXCLUSIVE) and would otherwise time out.
 * Once migrated, the connection is re-established with the PRAGMAs and kept.
 */
export class MigrationGate {
  private migrated = false;
  private lastPending: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<boolean> | undefined;
  private readonly readyCallbacks: (() => unknown)[] = [];

  constructor(
    private readonly db: Db,
    private readonly file: string,
    private readonly expected: string[],
    private readonly pollMs = 1_000,
  ) {}

  get ready(): boolean {
    return this.migrated;
  }

  /** Runs `fn` once the database is migrated (at once if it already is). */
  whenReady(fn: () => unknown): void {
    if (this.migrated) void fn();
    else this.readyCallbacks.push(fn);
  }

  get pending(): string[] {
    return this.lastPending;
  }

  /** Checks now; while pending, releases the file and re-checks every pollMs. */
  check(): Promise<boolean> {
    if (this.migrated) return Promise.resolve(true);
    this.running ??= this.checkOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async checkOnce(): Promise<boolean> {
    const pending = pendingMigrations(this.file, this.expected);
    // Locked by the migrator: what was pending still is, as far as anyone can tell.
    this.lastPending = pending ?? (this.lastPending.length > 0 ? this.lastPending : this.expected);
    if (pending?.length === 0) {
      // Prisma's connections get their PRAGMAs as they (re)connect (client.ts).
      this.migrated = true;
      this.stop();
      for (const fn of this.readyCallbacks.splice(0)) void fn();
      return true;
    }
    await this.db.$disconnect();
    this.timer ??= setInterval(() => void this.check().catch(() => undefined), this.pollMs).unref();
    return false;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
