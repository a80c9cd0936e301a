import Database from "better-sqlite3";
import { auditArgs, INSERT_AUDIT_SQL } from "../audit/audit.sql.js";
import { captureScope, claimAudit, detached } from "../auth/scope.js";
import type { StatementCounter } from "./client.js";
import type { Mutex } from "./isolation.js";

/** A synchronous transaction on the writer's own connection: prepared statements, cached. */
export interface SyncSession {
  statement(sql: string): Database.Statement;
}

/** How Prisma stores a DateTime in SQLite here; raw writes must match it for sorting and filters. */
export const sqlDate = (date: Date): string => date.toISOString().replace("Z", "+00:00");

/** A write waiting for the next group commit (see SyncWriter.grouped). */
interface GroupedWrite {
  /** Runs the write, and its audit entry, in the context of the operation that asked for it. */
  run(session: SyncSession, conn: Database.Database): { result: unknown; settleAudit?: (committed: boolean) => void };
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

/** Writes one group commit takes at most: bounds how long a group holds the event loop. */
const MAX_GROUP = 64;

export interface SyncWriterOptions {
  /**
   * WAL pages after which a commit on this connection checkpoints (SQLite's default: 1000).
   * While the checkpointer thread runs, only a safety net (AUTOCHECKPOINT_PAGES).
   */
  autocheckpointPages?: number;
  /**
   * SQLite's page cache for this connection (its default: 2 MiB). Usage ingest touches a few
   * hundred index pages per batch across a large table: 32 MiB keeps them between batches.
   */
  cacheMiB?: number;
  /** Counted with Prisma's statements (the CI guard of statement counts sees these too). */
  counter?: StatementCounter;
  /**
   * Rewrite the search index rows a transaction changes once, just before its COMMIT, rather
   * than statement by statement (see deferredSearchIndex below). For connections to a
   * migrated Prompt Store database only.
   */
  deferSearchIndex?: boolean;
}

/**
 * The writer's part of prisma/migrations/20261202100000_prompt_search_deferred. With the row of
 * PromptSearchDefer present, the search triggers only note the prompts to re-index; before
 * COMMIT, finishDeferral re-indexes them in one statement and empties both tables, so neither
 * is ever committed with a row. One statement means one flush of FTS5's buffered terms, at
 * COMMIT: when the triggers wrote the index, every later statement of the transaction that
 * opened a statement savepoint flushed what the earlier ones had buffered into a segment of its
 * own (8 segments for a group commit of 8 edits), and FTS5 then spent most of its time merging
 * them. These are bookkeeping statements, like the audit entry: the statement counter does not
 * count them.
 */
const deferredSearchIndex = {
  begin: 'INSERT INTO "PromptSearchDefer" ("on") VALUES (1)',
  reindex: `INSERT OR REPLACE INTO "PromptSearch" (rowid, name, description, tags, content)
    SELECT rid, name, description, tags, content FROM "PromptSearchSource" WHERE rid IN (SELECT "rid" FROM "PromptSearchPending")`,
  clearPending: 'DELETE FROM "PromptSearchPending"',
  end: 'DELETE FROM "PromptSearchDefer"',
};

/**
 * The fast path for writes (bulk creation, usage ingest, edits of one prompt, storing a bulk
 * job's items): prepared better-sqlite3 statements on a connection of its own, each
 * transaction run synchronously from BEGIN IMMEDIATE to COMMIT unless its caller steps it (see
 * transaction). Prisma costs 0.2 to 1 ms a statement here (it compiles each
 * query in wasm and prepares it again); a prepared statement a few microseconds, so a
 * transaction of a few dozen rows holds the event loop for a few milliseconds only, and the
 * caller yields between transactions. It takes the same gate as Prisma's writes and
 * transactions in this process, so it never runs while one of them is open; other processes
 * wait on SQLite's lock (busy timeout), as Prisma's transactions do.
 */
export class SyncWriter {
  private connection: Database.Database | undefined;
  private readonly statements = new Map<string, Database.Statement>();
  /** Group transactions begun, and writes run again after their group failed as a whole. */
  readonly stats = { transactions: 0, retried: 0 };
  /** Writes waiting for the next group commit, and whether that commit is scheduled. */
  private readonly queue: GroupedWrite[] = [];
  private flushPending = false;

  constructor(
    private readonly file: string,
    private readonly busyTimeoutMs: number,
    private readonly gate: Mutex,
    private readonly options: SyncWriterOptions = {},
  ) {}

  /**
   * One transaction from BEGIN IMMEDIATE to COMMIT. `fn` is normally synchronous. An async `fn`
   * keeps the transaction, and this process's write gate, open across turns of the event loop:
   * for a write too large for one turn (storing a bulk job's 10,000 items), done in steps with
   * a yield between them, so requests that only read run meanwhile. Such an `fn` must not wait
   * for another write of this process: that write waits for the gate this transaction holds.
   */
  async transaction<T>(fn: (session: SyncSession) => T | Promise<T>): Promise<T> {
    const release = await this.gate.acquire();
    try {
      const conn = this.open();
      conn.exec("BEGIN IMMEDIATE");
      try {
        this.beginDeferral(conn);
        const result = await fn(this.session(conn));
        this.finishDeferral(conn);
        // A mutation's audit entry commits with its change (see src/auth/scope.ts).
        const settleAudit = this.writeAudit(conn);
        try {
          conn.exec("COMMIT");
        } catch (error) {
          settleAudit?.(false);
          throw error;
        }
        settleAudit?.(true);
        return result;
      } catch (error) {
        if (conn.inTransaction) conn.exec("ROLLBACK");
        throw error;
      }
    } finally {
      release();
    }
  }

  /**
   * A small write of its own, committed with the others that arrive meanwhile (group commit).
   * A commit here costs far more than a small write: the WAL append and, with a full-text index,
   * FTS5 flushing its pending terms into a new segment of every prefix index (about 0.7 ms at
   * 100,000 prompts, against 0.15 ms for the rows). Writes that queue up while the connection
   * is busy therefore share one transaction, and every caller learns of success only after
   * COMMIT. A failing write is undone alone and its caller gets its error (see commitGroup).
   * Each write keeps its own operation's context (rights, audit entry): its audit entry is
   * written with it. With nothing else queued, a write commits alone.
   */
  grouped<T>(fn: (session: SyncSession) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      // The caller's operation scope (rights, audit entry), to run its write in later.
      const inCallerContext = captureScope();
      const run = (session: SyncSession, conn: Database.Database) =>
        inCallerContext(() => {
          const result = fn(session);
          return { result, settleAudit: this.writeAudit(conn) };
        });
      this.queue.push({ run, resolve: resolve as (value: unknown) => void, reject });
      if (!this.flushPending) {
        this.flushPending = true;
        // Requests read in the same turn of the event loop join this group.
        detached(() => setImmediate(() => void this.flush()));
      }
    });
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
      if (this.options.autocheckpointPages !== undefined) conn.pragma(`wal_autocheckpoint = ${Math.trunc(this.options.autocheckpointPages)}`);
      if (this.options.cacheMiB !== undefined) conn.pragma(`cache_size = -${Math.trunc(this.options.cacheMiB * 1024)}`);
      this.connection = conn;
    }
    return this.connection;
  }

  private async flush(): Promise<void> {
    const release = await this.gate.acquire();
    // Writes that queued while the gate was taken join this group.
    const group = this.queue.splice(0, MAX_GROUP);
    this.flushPending = false;
    try {
      this.commitGroup(group);
    } catch (error) {
      // Not expected (commitGroup answers every write itself), but no write may be left waiting.
      for (const write of group) write.reject(error);
    } finally {
      release();
      if (this.queue.length > 0 && !this.flushPending) {
        this.flushPending = true;
        setImmediate(() => void this.flush());
      }
    }
  }

  /**
   * One transaction for the group. The writes first run one after another with nothing between
   * them: FTS5 flushes its pending terms at savepoints as it does at COMMIT, so a SAVEPOINT per
   * write cost about a fifth of a group's SQLite time (groups of 8 updates at 100,000 prompts:
   * 523 µs a write with them, 381 without; measured before the search index was deferred, which
   * also removed the statement savepoints' flushes: see deferredSearchIndex). Should one write
   * fail, the whole transaction is rolled back and the group runs again with a SAVEPOINT per write, so only
   * that write fails. A write is only SQL on its inputs, and its audit entry is claimable
   * again once released, so running it twice is safe.
   */
  private commitGroup(group: GroupedWrite[], savepoints = false): void {
    const done: { write: GroupedWrite; result: unknown; settleAudit?: (committed: boolean) => void }[] = [];
    let conn: Database.Database;
    try {
      conn = this.open();
      conn.exec("BEGIN IMMEDIATE");
      this.beginDeferral(conn);
    } catch (error) {
      if (this.connection?.inTransaction) this.connection.exec("ROLLBACK");
      for (const write of group) write.reject(error);
      return;
    }
    this.stats.transactions++;
    const session = this.session(conn);
    const failed = new Set<GroupedWrite>();
    try {
      for (const write of group) {
        if (savepoints) conn.exec("SAVEPOINT grouped_write");
        try {
          const { result, settleAudit } = write.run(session, conn);
          if (savepoints) conn.exec("RELEASE grouped_write");
          done.push({ write, result, settleAudit });
        } catch (error) {
          // SQLite may have ended the whole transaction (disk full, say), and a write alone
          // is its transaction: see below.
          if (!conn.inTransaction || group.length === 1) throw error;
          if (!savepoints) {
            conn.exec("ROLLBACK");
            for (const { settleAudit } of done) settleAudit?.(false);
            this.stats.retried += group.length;
            this.commitGroup(group, true);
            return;
          }
          conn.exec("ROLLBACK TO grouped_write");
          conn.exec("RELEASE grouped_write");
          failed.add(write);
          write.reject(error);
        }
      }
      this.finishDeferral(conn);
      conn.exec("COMMIT");
    } catch (error) {
      if (conn.inTransaction) conn.exec("ROLLBACK");
      for (const { settleAudit } of done) settleAudit?.(false);
      if (group.length === 1) {
        group[0]!.reject(error);
        return;
      }
      // The transaction failed as a whole (COMMIT refused, or SQLite ended it): nothing was kept.
      // Each write runs again alone, so only the one at fault fails.
      const again = group.filter((write) => !failed.has(write));
      this.stats.retried += again.length;
      for (const write of again) this.commitGroup([write]);
      return;
    }
    for (const { write, result, settleAudit } of done) {
      settleAudit?.(true);
      write.resolve(result);
    }
  }

  private beginDeferral(conn: Database.Database): void {
    if (this.options.deferSearchIndex) this.prepare(conn, deferredSearchIndex.begin).run();
  }

  /** Re-indexes what the transaction changed, in one statement, and clears both tables. */
  private finishDeferral(conn: Database.Database): void {
    if (!this.options.deferSearchIndex) return;
    this.prepare(conn, deferredSearchIndex.reindex).run();
    this.prepare(conn, deferredSearchIndex.clearPending).run();
    this.prepare(conn, deferredSearchIndex.end).run();
  }

  /**
   * Writes the running operation's audit entry, if it has one left to write, in the open
   * transaction; returns what to call once it is known whether that transaction committed.
   */
  private writeAudit(conn: Database.Database): ((committed: boolean) => void) | undefined {
    const claim = claimAudit();
    if (!claim) return undefined;
    const { id, args } = auditArgs(claim.audit, claim.principal, "SUCCESS");
    try {
      this.prepare(conn, INSERT_AUDIT_SQL).run(...args);
    } catch (error) {
      claim.settle(false);
      throw error;
    }
    return (committed) => {
      if (committed) claim.audit.id = id;
      claim.settle(committed);
    };
  }

  private session(conn: Database.Database): SyncSession {
    return {
      statement: (sql) => {
        this.options.counter?.record(sql);
        return this.prepare(conn, sql);
      },
    };
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
