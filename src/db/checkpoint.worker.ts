// The WAL checkpointer thread (see checkpointer.ts): on a timer, copies the pages committed to
// each registered database's write-ahead log back into its file, on connections of its own.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";
import type { CheckpointReply, CheckpointRequest } from "./checkpointer.js";

const port = parentPort!;
const databases = new Map<number, { file: string; busyTimeoutMs: number; connection?: Database.Database; failing?: boolean }>();

function checkpoint(id: number): void {
  const db = databases.get(id);
  if (!db) return;
  let reply: CheckpointReply;
  try {
    // Opened on first use: the database may not exist or be migrated yet when the server starts.
    db.connection ??= new Database(db.file, { fileMustExist: true, timeout: db.busyTimeoutMs });
    // PASSIVE never waits for readers or writers: it copies what it can now, the rest next time.
    const [row] = db.connection.pragma("wal_checkpoint(PASSIVE)") as { busy: number; log: number; checkpointed: number }[];
    reply = { id, busy: row?.busy === 1, walFrames: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 };
  } catch (error) {
    db.connection?.close();
    db.connection = undefined;
    reply = { id, error: error instanceof Error ? error.message : String(error) };
  }
  port.postMessage(reply);
}

setInterval(() => {
  for (const id of databases.keys()) checkpoint(id);
}, (workerData as { intervalMs: number }).intervalMs);

port.on("message", (message: CheckpointRequest) => {
  if ("add" in message) {
    databases.set(message.id, { file: message.add, busyTimeoutMs: message.busyTimeoutMs });
    return;
  }
  // A last checkpoint, then the connection goes.
  checkpoint(message.id);
  databases.get(message.id)?.connection?.close();
  databases.delete(message.id);
  port.postMessage({ id: message.id, removed: true } satisfies CheckpointReply);
});
