import { existsSync, readdirSync } from "node:fs";
import type { Db } from "./client.js";

/** prisma/migrations of this checkout: the same place from src/db and from dist/db. */
export const MIGRATIONS_DIR = new URL("../../prisma/migrations/", import.meta.url);

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
