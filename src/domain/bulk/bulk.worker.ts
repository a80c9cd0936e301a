// The bulk worker thread: runs fast-path chunks (bulk.fast-create.ts) on a connection of its
// own, at the lowest CPU priority, so a job's work and commits never hold the server's event
// loop and the server's requests win the CPU when both want it. The main thread's BulkWorker
// sends one chunk at a time and holds its write gate meanwhile.
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { Mutex } from "../../db/isolation.js";
import { SyncWriter } from "../../db/sync-writer.js";
import { AUTOCHECKPOINT_PAGES } from "../../db/checkpointer.js";
import { BufferedPublisher } from "../../subscriptions/topics.js";
import { runFastChunk, type FastChunkRequest } from "./bulk.fast-create.js";
import type { BulkWorkerData, WorkerReply } from "./bulk.worker-client.js";

const data = workerData as BulkWorkerData;
try {
  // On Linux a thread has its own nice value, and pid 0 means the calling thread.
  setPriority(0, data.priority);
} catch {
  // Not permitted or not supported: the worker still runs, only at normal priority.
}
// Checkpoints are the checkpointer thread's (src/db/checkpointer.ts): a chunk commits without one.
const writer = new SyncWriter(data.file, data.busyTimeoutMs, new Mutex(), { autocheckpointPages: AUTOCHECKPOINT_PAGES, cacheMiB: 32, deferSearchIndex: true });
const port = parentPort!;

port.on("message", (message: { id: number; request: FastChunkRequest } | "close") => {
  if (message === "close") {
    writer.close();
    port.close();
    return;
  }
  const { id, request } = message;
  const events = new BufferedPublisher();
  writer
    .transaction((session) => runFastChunk(session, request, data.limits, events))
    .then(
      (result): WorkerReply => ({ id, result, events: result ? events.take() : [] }),
      (error: unknown): WorkerReply => ({ id, error: { message: error instanceof Error ? error.message : String(error), stack: error instanceof Error ? error.stack : undefined } }),
    )
    .then((reply) => port.postMessage(reply));
});
