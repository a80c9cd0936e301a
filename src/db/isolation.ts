import type { SqlDriverAdapter, SqlDriverAdapterFactory, Transaction } from "@prisma/driver-adapter-utils";

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
): SqlDriverAdapterFactory {
  return {
    provider: factory.provider,
    adapterName: factory.adapterName,
    async connect(): Promise<SqlDriverAdapter> {
      const inner = await factory.connect();
      const reader = readers ? await readers.connect() : undefined;
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
        queryRaw: exclusive((query: Parameters<SqlDriverAdapter["queryRaw"]>[0]) => inner.queryRaw(query)),
        executeRaw: exclusive((query: Parameters<SqlDriverAdapter["executeRaw"]>[0]) => inner.executeRaw(query)),
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
 */
function ownTransaction(inner: SqlDriverAdapter, release: () => void): Transaction {
  return {
    provider: inner.provider,
    adapterName: inner.adapterName,
    options: { usePhantomQuery: false },
    queryRaw: (query) => inner.queryRaw(query),
    executeRaw: (query) => inner.executeRaw(query),
    async commit() {
      release();
    },
    async rollback() {
      release();
    },
  };
}
