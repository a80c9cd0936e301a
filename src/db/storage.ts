// The process's connections to its SQLite file, made in one place: Prisma's (a writer and a
// reader), the prepared-statement reader and writer of the hot paths, and the WAL checkpointer.
import type { Logger } from "../logger.js";
import { AUTOCHECKPOINT_PAGES, Checkpointer } from "./checkpointer.js";
import { openDb, StatementCounter, type Db } from "./client.js";
import { Mutex } from "./isolation.js";
import { SyncReader } from "./sync-reader.js";
import { SyncWriter } from "./sync-writer.js";

export interface Storage {
  db: Db;
  /** Every statement sent, Prisma's and the prepared ones (tests assert on it). */
  statements: StatementCounter;
  /** One gate for every writer of this process (Prisma's, the prepared ones, the bulk worker's). */
  writeGate: Mutex;
  /**
   * Hot reads (serving, lookups, the relation fields of listings): prepared statements on a
   * read-only connection of its own. Everything else, and every transaction, goes through Prisma.
   */
  reader: SyncReader;
  /** Likewise the edits of one prompt (new versions, label moves, in group commits) and storing a bulk job's items. */
  writer: SyncWriter;
  checkpointer: Checkpointer;
  /** The writer, Prisma, then a last checkpoint; after everything that writes has stopped. */
  closeWriters(): Promise<void>;
}

export async function openStorage(config: { dbFile: string; sqliteBusyTimeoutMs: number }, logger: Logger): Promise<Storage> {
  const statements = new StatementCounter();
  const options = { file: config.dbFile, busyTimeoutMs: config.sqliteBusyTimeoutMs };
  const writeGate = new Mutex();
  const db = await openDb(options, statements, writeGate);
  const writer = new SyncWriter(config.dbFile, config.sqliteBusyTimeoutMs, writeGate, { autocheckpointPages: AUTOCHECKPOINT_PAGES, counter: statements, deferSearchIndex: true });
  const checkpointer = new Checkpointer(options, logger);
  return {
    db,
    statements,
    writeGate,
    reader: new SyncReader(config.dbFile, config.sqliteBusyTimeoutMs, statements),
    writer,
    checkpointer,
    async closeWriters() {
      writer.close();
      await db.$disconnect();
      await checkpointer.close();
    },
  };
}
