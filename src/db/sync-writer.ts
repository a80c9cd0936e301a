import Database from "better-sqlite3";
import { auditArgs, INSERT_AUDIT_SQL } from "../audit/audit.sql.js";
import { claimAudit } from "../auth/scope.js";
import type { Mutex } from "./isolation.js";

/** A synchronous transaction on the writer's own connection: prepared statements, cached. */
export interface SyncSession {
  statement(sql: string): Database.Statement;
}

/** How Prisma stores a DateTime in SQLite here; raw writes must match it for sorting and filters. */
export const sqlDate = (date: Date): string => date.toISOString().replace("Z", "+00:00");

/**
 * The fast path for big writes (bulk creation): prepared better-sqlite3 statements on a
 * connection of its own, each transaction run synchronously from BEGIN IMMEDIATE to COMMIT.
 * Prisma costs about 0.2 ms a statement here; a prepared statement a few microseconds, so a
 * transaction of a few dozen rows holds the event loop for a few milliseconds only, and the
 * caller yields between transactions. It takes the same gate as Prisma's writes and
 * transactions in this process, so it never runs while one of them is open; other processes
 * wait on SQLite's lock (busy timeout), as Prisma's transactions do.
 */
export class SyncWriter {
  private connection: Database.Database | undefined;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(
    private readonly file: string,
    private readonly busyTimeoutMs: number,
    private readonly gate: Mutex,
    /**
     * WAL pages after which a commit on this connection checkpoints (SQLite's default: 1000).
     * A writer that rewrites the same hot pages batch after batch (rollups) copies each of them
     * back to the database once per checkpoint, so fewer checkpoints mean less work overall.
     */
    private readonly autocheckpointPages = 1000,
  ) {}

  async transaction<T>(fn: (session: SyncSession) => T): Promise<T> {
    const release = await this.gate.acquire();
    try {
      const conn = this.open();
      conn.exec("BEGIN IMMEDIATE");
      try {
        const result = fn({ statement: (sql) => this.prepare(conn, sql) });
        // A mutation's audit entry commits with its change (see src/auth/scope.ts).
        const claim = claimAudit();
        if (claim) {
          const { id, args } = auditArgs(claim.audit, claim.principal, "SUCCESS");
          try {
            this.prepare(conn, INSERT_AUDIT_SQL).run(...args);
            conn.exec("COMMIT");
          } catch (error) {
            claim.settle(false);
            throw error;
          }
          claim.audit.id = id;
          claim.settle(true);
        } else {
          conn.exec("COMMIT");
        }
        return result;
      } catch (error) {
        if (conn.inTransaction) conn.exec("ROLLBACK");
        throw error;
      }
    } finally {
      release();
    }
  }

  close(): void {
    this.statements.clear();
    this.connection?.close();
    this.connection = undefined;
  }

  /** Opened on first use: the database may not be migrated when the app starts. */
  private open(): Database.Database {
    if (!this.connection) {
      const conn = new Database(this.file, { timeout: this.busyTimeoutMs });
      conn.pragma("journal_mode = WAL");
      conn.pragma("synchronous = NORMAL");
      conn.pragma("foreign_keys = ON");
      conn.pragma(`wal_autocheckpoint = ${Math.trunc(this.autocheckpointPages)}`);
      // The ingest writer touches a few hundred index pages per batch across a large table: a page
      // cache of 32 MiB (SQLite's default is 2 MiB) keeps them in memory between batches.
      conn.pragma("cache_size = -32768");
      this.connection = conn;
    }
    return this.connection;
  }

  private prepare(conn: Database.Database, sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = conn.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }
}
