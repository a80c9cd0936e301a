import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "../generated/prisma/client.js";
import { AUTOCHECKPOINT_PAGES } from "./checkpointer.js";
import { isolateTransactions, Mutex } from "./isolation.js";

export type Db = PrismaClient<"query">;

export interface DbOptions {
  file: string;
  busyTimeoutMs: number;
}

/**
 * Counts the SQL statements Prisma sends. Tests use it to prove that list queries do
 * not grow with the page size; it costs one increment per statement.
 */
export class StatementCounter {
  count = 0;
  readonly recent: string[] = [];
  record(sql: string) {
    this.count++;
    this.recent.push(sql);
    if (this.recent.length > 200) this.recent.shift();
  }
}

export async function openDb(options: DbOptions, counter = new StatementCounter(), gate = new Mutex()): Promise<Db> {
  mkdirSync(dirname(options.file), { recursive: true });
  // `timeout` is better-sqlite3's busy timeout, so it also holds on a reconnect.
  const connection = () => new PrismaBetterSQLite3({ url: `file:${options.file}`, timeout: options.busyTimeoutMs });
  const adapter = isolateTransactions(connection(), connection(), gate, pragmas(options));
  const db = new PrismaClient({ adapter, log: [{ emit: "event", level: "query" }] });
  db.$on("query", (event) => counter.record(event.query));
  return db;
}

/**
 * The PRAGMAs of every connection Prisma opens. PRAGMAs apply per connection and never inside
 * a transaction, so the adapter runs them as it connects, on the driver itself (see
 * isolateTransactions): also after a reconnect, and without a query through Prisma's engine.
 * Prisma's first query instantiates its wasm query compiler (0.2-0.3 s here), which the way
 * to the server's first answer need not pay: it is paid by the first request or background
 * task that uses Prisma.
 */
export function pragmas(options: Pick<DbOptions, "busyTimeoutMs">): string {
  return [
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    `PRAGMA busy_timeout = ${Math.trunc(options.busyTimeoutMs)}`,
    "PRAGMA foreign_keys = ON",
    // Checkpoints are the checkpointer thread's job; this is only the safety net (checkpointer.ts).
    `PRAGMA wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`,
  ].join(";\n");
}

/** The effective settings, read back from SQLite (values come back as BigInt with this adapter). */
export async function readPragmas(db: Db) {
  const one = async (name: string) => {
    const rows = await db.$queryRawUnsafe<Record<string, unknown>[]>(`PRAGMA ${name}`);
    const value = rows[0] ? Object.values(rows[0])[0] : undefined;
    return typeof value === "bigint" ? Number(value) : value;
  };
  return {
    journalMode: String(await one("journal_mode")),
    synchronous: Number(await one("synchronous")),
    busyTimeout: Number(await one("busy_timeout")),
    foreignKeys: Number(await one("foreign_keys")),
  };
}
