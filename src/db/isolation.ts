import type { ArgType, SqlDriverAdapter, SqlDriverAdapterFactory, SqlQuery, Transaction } from "@prisma/driver-adapter-utils";
import { auditArgs, INSERT_AUDIT_SQL } from "../audit/audit.sql.js";
import { claimAudit } from "../auth/scope.js";

/** A FIFO async mutex: acquire() resolves to the release function. */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  acquire(): Promise<() => void> {
    let release!: () => void;
    const next = new Promise<void>((resolve) => (release = resolve));
    const ready = this.tail.then(() => once(release));
    this.tail = this.tail.then(() => next);
    return ready;
  }
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (!done) {
      done = true;
      fn();
    }
  };
}

const READ = /^\s*(SELECT|WITH)\b/i;
const PRAGMA = /^\s*PRAGMA\b/i;
const COMMIT = /^\s*COMMIT\b/i;
const ROLLBACK = /^\s*ROLLBACK\b/i;
const WRITE = /^\s*(INSERT|UPDATE|DELETE|REPLACE)\b/i;

const TEXT: ArgType = { scalarType: "string", arity: "scalar" };

/**
 * The audit entry of the mutation this statement belongs to (see src/auth/scope.ts), as a
 * statement for the same connection, or nothing when there is none left to write.
 */
function auditStatement(): { query: SqlQuery; settle(committed: boolean): void } | undefined {
  const claim = claimAudit();
  if (!claim) return undefined;
  const { id, args } = auditArgs(claim.audit, claim.principal, "SUCCESS");
  return {
    query: { sql: INSERT_AUDIT_SQL, args, argTypes: args.map(() => TEXT) },
    settle(committed) {
      if (committed) claim.audit.id = id;
      claim.settle(committed);
    },
  };
}

/**
 * Runs one write on the writer connection: on its own, or, when a mutation's audit entry is
 * still unwritten, in a transaction with that entry so that both or neither are kept.
 */
async function writeWithAudit<R>(inner: SqlDriverAdapter, write: () => Promise<R>): Promise<R> {
  const audit = auditStatement();
  if (!audit) return write();
  await inner.executeScript("BEGIN IMMEDIATE");
  try {
    const result = await write();
    await inner.executeRaw(audit.query);
    await inner.executeScript("COMMIT");
    audit.settle(true);
    return result;
  } catch (error) {
    await inner.executeScript("ROLLBACK").catch(() => undefined);
    audit.settle(false);
    throw error;
  }
}

/**
 * The better-sqlite3 adapter shares ONE connection between transactions and everything else,
 * and only serializes transactions among themselves: a query from another request issued while
 * an interactive transaction is open runs inside it (it sees uncommitted rows, and is rolled
 * back with it). This wrapper makes every write outside a transaction wait until no
 * transaction is open, and holds transactions to one at a time, so each one is isolated.
 * With a `readers` factory, plain reads (SELECT/WITH outside a transaction) go to a second
 * connection instead: WAL lets it read the last committed state while a write transaction
 * (a bulk chunk, say) is open, so reads never wait for writes. PRAGMAs go to both.
 * `gate` may be shared with a SyncWriter, whose transactions then take turns with these.
 */
export function isolateTransactions(
  factory: SqlDriverAdapterFactory,
  readers?: SqlDriverAdapterFactory,
  gate: Mutex = new Mutex(),
  /** Run on each connection as it opens (the PRAGMAs: see client.ts). */
  onConnect?: string,
): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    async connect(): Promise<SqlDriverAdapter> {
      const inner = await factory.connect();
      const reader = readers ? await readers.connect() : undefined;
      if (onConnect) {
        await inner.executeScript(onConnect);
        await reader?.executeScript(onConnect);
      }
      const exclusive =
        <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
        async (...args: A): Promise<R> => {
          const release = await gate.acquire();
          try {
            return await fn(...args);
          } finally {
            release();
          }
        };
      const onWriter = {
        queryRaw: exclusive((query: SqlQuery) => (WRITE.test(query.sql) ? writeWithAudit(inner, () => inner.queryRaw(query)) : inner.queryRaw(query))),
        executeRaw: exclusive((query: SqlQuery) => (WRITE.test(query.sql) ? writeWithAudit(inner, () => inner.executeRaw(query)) : inner.executeRaw(query))),
      };
      const adapter: SqlDriverAdapter = {
        provider: inner.provider,
        adapterName: inner.adapterName,
        async queryRaw(query) {
          if (reader && READ.test(query.sql)) return reader.queryRaw(query);
          if (reader && PRAGMA.test(query.sql)) await reader.queryRaw(query);
          return onWriter.queryRaw(query);
        },
        async executeRaw(query) {
          if (reader && PRAGMA.test(query.sql)) await reader.executeRaw(query);
          return onWriter.executeRaw(query);
        },
        executeScript: exclusive((script) => inner.executeScript(script)),
        dispose: async () => {
          await reader?.dispose();
          await inner.dispose();
        },
        async startTransaction() {
          const release = await gate.acquire();
          try {
            // BEGIN IMMEDIATE, not the adapter's deferred BEGIN: a deferred transaction that reads
            // and then writes fails at once with SQLITE_BUSY when another process wrote meanwhile
            // (the busy timeout does not apply to that upgrade). Taking the write lock up front
            // makes a second process wait for it instead.
            await inner.executeScript("BEGIN IMMEDIATE");
            return ownTransaction(inner, release);
          } catch (error) {
            release();
            throw error;
          }
        },
      };
      if (inner.getConnectionInfo) adapter.getConnectionInfo = () => inner.getConnectionInfo!();
      return adapter;
    },
  };
}

/**
 * A transaction on the shared connection. Prisma sends COMMIT or ROLLBACK itself through
 * executeRaw (usePhantomQuery: false); commit() and rollback() only mark the end of it.
 * Right before COMMIT, the mutation's audit entry joins the transaction, if it has not been
 * written yet: the change and its record commit together.
 */
function ownTransaction(inner: SqlDriverAdapter, release: () => void): Transaction {
  // Set when this wrapper ended the transaction itself (the audit entry could not be written).
  let abandoned = false;
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    options: { usePhantomQuery: false },
    queryRaw: (query) => inner.queryRaw(query),
    async executeRaw(query) {
      if (abandoned && ROLLBACK.test(query.sql)) return 0;
      const audit = COMMIT.test(query.sql) ? auditStatement() : undefined;
      if (!audit) return inner.executeRaw(query);
      try {
        await inner.executeRaw(audit.query);
      } catch (error) {
        // Without its record the change is not kept: roll back here, since Prisma, seeing its
        // COMMIT fail, may not send a ROLLBACK (nor end the transaction) by itself.
        audit.settle(false);
        abandoned = true;
        await inner.executeScript("ROLLBACK").catch(() => undefined);
        release();
        throw error;
      }
      try {
        const result = await inner.executeRaw(query);
        audit.settle(true);
        return result;
      } catch (error) {
        audit.settle(false);
        throw error;
      }
    },
    async commit() {
      release();
    },
    async rollback() {
      release();
    },
  };
}
