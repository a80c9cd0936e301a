import { Worker } from "node:worker_threads";
import type { Logger } from "../logger.js";
import { ROOT } from "../paths.js";

export type CheckpointRequest = { id: number; add: string; busyTimeoutMs: number } | { id: number; remove: true };
export type CheckpointResult = { busy: boolean; walFrames: number; checkpointed: number } | { error: string };
export type CheckpointReply = { id: number } & (CheckpointResult | { removed: true });

/** How often the thread checkpoints each database. */
const INTERVAL_MS = 200;

/**
 * The automatic checkpoint threshold of the server's own connections while the checkpointer
 * runs: 10,000 pages (about 40 MB of log), a safety net only.
 */
export const AUTOCHECKPOINT_PAGES = 10_000;

// One thread per process, for every database in it (tests run many apps in one process, and
// restarting threads that load TypeScript through a loader hook is not reliable under vitest).
let thread: Worker | undefined;
const registered = new Map<number, Checkpointer>();
let nextId = 0;

function sharedThread(): Worker {
  if (thread) return thread;
  const fromSource = import.meta.url.endsWith(".ts");
  const worker = new Worker(new URL(fromSource ? "src/db/checkpoint.worker.ts" : "dist/db/checkpoint.worker.js", ROOT), {
    workerData: { intervalMs: INTERVAL_MS },
    execArgv: fromSource ? ["--import", "@swc-node/register/esm-register"] : [],
  });
  worker.unref();
  worker.on("message", (reply: CheckpointReply) => registered.get(reply.id)?.receive(reply));
  worker.on("error", (error) => {
    for (const checkpointer of registered.values()) checkpointer.failed(error);
  });
  worker.on("exit", () => {
    if (thread !== worker) return;
    thread = undefined;
    for (const checkpointer of registered.values()) checkpointer.failed(new Error("the checkpointer thread exited"));
  });
  thread = worker;
  return worker;
}

/**
 * WAL checkpoints on a thread of their own. In WAL mode every commit appends pages to the log,
 * and by default the commit that takes the log past 1,000 pages copies them back into the
 * database file and syncs it, on the committing connection: here the server's event loop. At
 * 100,000 prompts that cost about 0.3 ms of waiting per prompt update (fsyncs, mostly; about
 * 0.09 ms of it CPU), more than the update's own statements. The thread runs a PASSIVE
 * checkpoint (it never waits for readers or writers) every 200 ms instead. The server's
 * connections keep automatic checkpoints at a far higher threshold (AUTOCHECKPOINT_PAGES), so
 * the log stays bounded should the thread stop or fall behind.
 */
export class Checkpointer {
  /** What the last checkpoint found: frames in the log, how many of them are in the file now. */
  last: CheckpointResult | undefined;
  private readonly id = ++nextId;
  private removed: (() => void) | undefined;
  private state: "idle" | "running" | "closed" = "idle";

  constructor(
    private readonly data: { file: string; busyTimeoutMs: number },
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.state !== "idle") return;
    this.state = "running";
    registered.set(this.id, this);
    sharedThread().postMessage({ id: this.id, add: this.data.file, busyTimeoutMs: this.data.busyTimeoutMs } satisfies CheckpointRequest);
  }

  /** Runs a last checkpoint and leaves the thread. */
  async close(): Promise<void> {
    const wasRunning = this.state === "running";
    this.state = "closed";
    if (!wasRunning || !thread) {
      registered.delete(this.id);
      return;
    }
    const removed = new Promise<void>((resolve) => (this.removed = resolve));
    thread.postMessage({ id: this.id, remove: true } satisfies CheckpointRequest);
    await Promise.race([removed, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    registered.delete(this.id);
  }

  /** @internal A reply of the thread for this database. */
  receive(reply: CheckpointReply): void {
    if ("removed" in reply) {
      this.removed?.();
      return;
    }
    const { id: _id, ...result } = reply;
    if ("error" in result && !(this.last && "error" in this.last)) this.logger.warn({ error: result.error }, "WAL checkpoint failed; retrying");
    this.last = result;
  }

  /** @internal The thread died: start it again later (the connections' own checkpoints hold meanwhile). */
  failed(error: Error): void {
    this.removed?.();
    if (this.state !== "running") return;
    this.logger.error({ err: error }, "WAL checkpointer stopped; starting it again in 5 s");
    this.state = "idle";
    registered.delete(this.id);
    setTimeout(() => this.start(), 5_000).unref();
  }
}
