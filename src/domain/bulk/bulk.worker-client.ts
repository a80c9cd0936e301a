import { Worker } from "node:worker_threads";
import type { Mutex } from "../../db/isolation.js";
import { ROOT } from "../../paths.js";
import type { Logger } from "../../logger.js";
import type { TopicName } from "../../subscriptions/topics.js";
import type { ServiceLimits } from "../prompts/prompt.commands.js";
import type { FastChunkRequest, FastChunkResult } from "./bulk.fast-create.js";

export interface BulkWorkerData {
  file: string;
  busyTimeoutMs: number;
  limits: ServiceLimits;
  /** The worker thread's nice value (19: it only gets the CPU the server does not want). */
  priority: number;
}

export type WorkerReply =
  | { id: number; result: FastChunkResult | null; events: { topic: TopicName; payload: unknown }[] }
  | { id: number; error: { message: string; stack?: string } };

type Pending = { resolve: (reply: Extract<WorkerReply, { result: unknown }>) => void; reject: (error: Error) => void };

/**
 * The main thread's side of the bulk worker (bulk.worker.ts): started on first use, one chunk
 * at a time, under the same write gate as Prisma's writes so that this process's writers take
 * turns (FIFO) instead of racing for SQLite's lock. If the thread dies, its connection goes
 * with it (SQLite rolls the open transaction back), the chunk in flight fails, and the next
 * chunk starts a new thread.
 */
export class BulkWorker {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;

  constructor(
    private readonly data: BulkWorkerData,
    private readonly gate: Mutex,
    private readonly logger: Logger,
  ) {}

  async runChunk(request: FastChunkRequest): Promise<Extract<WorkerReply, { result: unknown }>> {
    const release = await this.gate.acquire();
    try {
      const worker = this.start();
      return await new Promise((resolve, reject) => {
        const id = ++this.nextId;
        this.pending.set(id, { resolve, reject });
        worker.postMessage({ id, request });
      });
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.worker = undefined;
    const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
    worker.postMessage("close");
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    // From the sources (tests, `npm run dev`) the worker is TypeScript too: load it the same way.
    const fromSource = import.meta.url.endsWith(".ts");
    // From the checkout's root: in the bundle (dist/server.mjs) this module is not in dist/domain/bulk.
    const worker = new Worker(new URL(fromSource ? "src/domain/bulk/bulk.worker.ts" : "dist/domain/bulk/bulk.worker.js", ROOT), {
      workerData: this.data,
      execArgv: fromSource ? ["--import", "@swc-node/register/esm-register"] : [],
    });
    worker.unref();
    worker.on("message", (reply: WorkerReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if ("error" in reply) {
        const error = new Error(`bulk worker: ${reply.error.message}`);
        if (reply.error.stack) error.stack = reply.error.stack;
        waiting.reject(error);
      } else {
        waiting.resolve(reply);
      }
    });
    const fail = (error: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const waiting of this.pending.values()) waiting.reject(error);
      this.pending.clear();
    };
    worker.on("error", (error) => {
      this.logger.error({ err: error }, "bulk worker failed");
      fail(error);
    });
    worker.on("exit", (code) => fail(new Error(`bulk worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }
}
