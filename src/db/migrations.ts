import { existsSync, readdirSync } from "node:fs";
import { ROOT } from "../paths.js";
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
 * The migrations of this build that the database has not finished applying
 * (as recorded by `prisma migrate deploy` in _prisma_migrations).
 */
export async function pendingMigrations(db: Db, expected: string[]): Promise<string[]> {
  const table = await db.$queryRawUnsafe<{ n: bigint | number }[]>(
    "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = '_prisma_migrations'",
  );
  if (Number(table[0]?.n ?? 0) === 0) return expected;
  const rows = await db.$queryRawUnsafe<{ migration_name: string }[]>(
    "SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL",
  );
  const applied = new Set(rows.map((row) => row.migration_name));
  return expected.filter((name) => !applied.has(name));
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
    private readonly expected: string[],
    private readonly onMigrated: () => Promise<void>,
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
    this.lastPending = await pendingMigrations(this.db, this.expected);
    if (this.lastPending.length === 0) {
      await this.onMigrated();
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
