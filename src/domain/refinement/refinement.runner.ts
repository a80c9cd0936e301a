import type { Logger } from "../../logger.js";
import type { EventBus } from "../../subscriptions/pubsub.js";
import type { RefinementProgressPayload } from "../../subscriptions/topics.js";
import type { NotificationService } from "../notifications/notification.service.js";
import type { PromptService } from "../prompts/prompt.service.js";
import type { ProviderRegistry } from "./refinement.providers.js";
import type { EventBody, NewDocument, RefinementRepository, RefinementSessionRecord } from "./refinement.repository.js";
import { ProviderError, type RefineResult } from "./refiner.js";

export interface RefinementRunnerOptions {
  /** Sessions running at once in this process. */
  concurrency: number;
  /** Generated text is persisted and published at most this often (and at the end). */
  deltaIntervalMs: number;
  /** A running session says it is alive this often; one silent for 3x this long is presumed dead. */
  heartbeatMs: number;
}

const statusEvent = (message: string | null = null, final = false): EventBody => ({ kind: "STATUS", delta: null, proposal: null, message, final });

/**
 * Runs refinement sessions in the background, a few at a time: QUEUED -> RUNNING -> COMPLETED,
 * FAILED or CANCELLED, never left RUNNING. Generated text is batched into DELTA events (a few a
 * second) so a reconnecting client can replay it. A cancel reaches the instance that runs the
 * session through the event bus and aborts the provider call, an in-flight HTTP stream included.
 */
export class RefinementRunner {
  private readonly queue: string[] = [];
  private readonly active = new Map<string, AbortController>();
  private readonly running = new Set<Promise<void>>();
  private stopping = false;
  private sweeper: NodeJS.Timeout | undefined;
  private cancels: AsyncGenerator<{ sessionId: string }> | undefined;

  constructor(
    private readonly repo: RefinementRepository,
    private readonly prompts: PromptService,
    private readonly providers: ProviderRegistry,
    private readonly bus: EventBus,
    private readonly notifications: NotificationService,
    private readonly logger: Logger,
    private readonly options: RefinementRunnerOptions,
  ) {}

  /** Listens for cancels, fails sessions whose process died, and picks up queued ones. */
  async start(): Promise<void> {
    if (!this.cancels) {
      const cancels = (this.cancels = this.bus.subscribe("refinement.cancel"));
      void (async () => {
        for await (const { sessionId } of cancels) this.active.get(sessionId)?.abort();
      })();
    }
    await this.sweep();
    for (const session of await this.repo.queued()) this.enqueue(session.id);
    this.sweeper ??= setInterval(() => void this.sweep().catch((err: unknown) => this.logger.error({ err }, "refinement sweep failed")), this.options.heartbeatMs * 3);
    this.sweeper.unref();
  }

  enqueue(id: string): void {
    if (this.stopping || this.queue.includes(id) || this.active.has(id)) return;
    this.queue.push(id);
    this.pump();
  }

  /** Aborts what runs (those sessions end FAILED: the server stopped) and waits for them to be recorded. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.queue.length = 0;
    clearInterval(this.sweeper);
    for (const controller of this.active.values()) controller.abort(new Error("shutdown"));
    await Promise.all(this.running);
    await this.cancels?.return(undefined);
  }

  /** Resolves once nothing is queued or running (tests). */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.queue.length > 0) await Promise.race(this.running);
  }

  private pump(): void {
    while (!this.stopping && this.running.size < this.options.concurrency && this.queue.length > 0) {
      const id = this.queue.shift()!;
      const run = this.run(id)
        .catch((err: unknown) => this.logger.error({ err, sessionId: id }, "refinement run crashed"))
        .finally(() => {
          this.running.delete(run);
          this.pump();
        });
      this.running.add(run);
    }
  }

  private publish(event: RefinementProgressPayload): void {
    this.bus.publish("refinement.progress", event);
  }

  /** Queued or running sessions nobody has touched for a while: their process is gone. */
  private async sweep(): Promise<void> {
    for (const session of await this.repo.stale(new Date(Date.now() - this.options.heartbeatMs * 3))) {
      if (this.active.has(session.id)) continue;
      const message = "interrupted: the server that ran it stopped; start a new session";
      const ended = await this.repo.transition(session.id, ["QUEUED", "RUNNING"], "FAILED", { errorCode: "INTERRUPTED", error: message, finishedAt: new Date() }, statusEvent(message, true));
      if (ended) this.publish(ended.event);
    }
  }

  private async run(id: string): Promise<void> {
    const started = await this.repo.transition(id, ["QUEUED"], "RUNNING", { startedAt: new Date() }, statusEvent());
    if (!started) return; // cancelled meanwhile, or another instance took it
    this.publish(started.event);
    const session = started.session;
    const controller = new AbortController();
    this.active.set(id, controller);
    const deltas = new DeltaBatcher((text) => this.append(session, { kind: "DELTA", delta: text, proposal: null, message: null, final: false }), this.options.deltaIntervalMs);
    const heartbeat = setInterval(() => void this.repo.touch(id).catch(() => undefined), this.options.heartbeatMs);
    heartbeat.unref();
    try {
      // A cancel that arrived before this instance listened for it.
      if (session.cancelRequested) controller.abort();
      const provider = this.providers.get(session.provider);
      const content = await this.inputOf(session);
      const result = await provider.refine(
        { content, instructions: session.instructions, examples: session.examples, model: session.model, ...(session.temperature !== null && { temperature: session.temperature }) },
        {
          signal: controller.signal,
          onDelta: (text) => deltas.add(text),
          onRetry: ({ attempt, reason, delayMs }) => {
            void deltas.after(() => this.append(session, { kind: "RETRY", delta: null, proposal: null, message: `attempt ${attempt} failed (${reason}); retrying in ${delayMs} ms`, final: false }));
          },
        },
      );
      clearInterval(heartbeat);
      await deltas.flush();
      const ended = await this.repo.transition(id, ["RUNNING"], "COMPLETED", { finishedAt: new Date() }, { kind: "PROPOSAL", delta: null, proposal: result.proposal, message: null, final: true }, documentsOf(result, session));
      if (ended) {
        this.publish(ended.event);
        await this.notify(ended.session, "REFINEMENT_COMPLETED", "Refinement ready for review", `A proposal for ${session.provider}/${result.model} is ready to review.`);
      }
    } catch (error) {
      clearInterval(heartbeat);
      await deltas.flush().catch(() => undefined);
      await this.fail(session, controller, error);
    } finally {
      clearInterval(heartbeat);
      this.active.delete(id);
    }
  }

  private async fail(session: RefinementSessionRecord, controller: AbortController, error: unknown): Promise<void> {
    const shutdown = controller.signal.reason instanceof Error && controller.signal.reason.message === "shutdown";
    if (controller.signal.aborted && !shutdown) {
      const ended = await this.repo.transition(session.id, ["RUNNING"], "CANCELLED", { finishedAt: new Date() }, statusEvent("cancelled", true));
      if (ended) this.publish(ended.event);
      return;
    }
    let code = "UPSTREAM_UNAVAILABLE";
    let message: string;
    const documents: NewDocument[] = [];
    if (shutdown) {
      code = "INTERRUPTED";
      message = "interrupted: the server stopped while it ran; start a new session";
    } else if (error instanceof ProviderError) {
      message = error.message;
      if (error.details.raw) documents.push({ kind: "RAW_REPLY", contentType: "text/plain", content: error.details.raw });
    } else {
      code = "INTERNAL";
      message = `internal error; see the server log for session ${session.id}`;
      this.logger.error({ err: error, sessionId: session.id }, "refinement failed unexpectedly");
    }
    const ended = await this.repo.transition(session.id, ["RUNNING"], "FAILED", { errorCode: code, error: message, finishedAt: new Date() }, statusEvent(message, true), documents);
    if (!ended) return;
    this.publish(ended.event);
    if (!shutdown) await this.notify(ended.session, "REFINEMENT_FAILED", "Refinement failed", message);
  }

  /** What the session refines: its parent's proposal, or the base version's text. */
  private async inputOf(session: RefinementSessionRecord): Promise<string> {
    if (session.parentId) {
      const proposal = await this.repo.proposalOf(session.parentId);
      if (proposal === null) throw new Error(`parent session ${session.parentId} has no proposal`);
      return proposal;
    }
    const version = await this.prompts.version({ id: session.promptId }, session.baseVersionNumber);
    if (version.content.type !== "TEXT") throw new Error("only TEXT prompts can be refined");
    return version.content.text;
  }

  private async append(session: RefinementSessionRecord, body: EventBody): Promise<void> {
    this.publish(await this.repo.appendEvent(session, body));
  }

  private async notify(session: RefinementSessionRecord, kind: string, title: string, body: string): Promise<void> {
    await this.notifications
      .notify({ recipient: session.startedBy, kind, title, body, data: { sessionId: session.id, promptId: session.promptId, status: session.status } })
      .catch((err: unknown) => this.logger.error({ err, sessionId: session.id }, "refinement notification failed"));
  }
}

/** The stored results of a completed session. */
function documentsOf(result: RefineResult, session: RefinementSessionRecord): NewDocument[] {
  const json = (value: unknown) => JSON.stringify(value, null, 2);
  const queuedMs = session.startedAt ? session.startedAt.getTime() - session.createdAt.getTime() : null;
  return [
    { kind: "PROPOSAL", contentType: "text/plain", content: result.proposal },
    { kind: "CRITIQUE", contentType: "text/markdown", content: result.critique },
    { kind: "RATIONALE", contentType: "text/markdown", content: result.rationale },
    { kind: "CHANGES", contentType: "application/json", content: json(result.changes) },
    { kind: "RAW_REPLY", contentType: "text/plain", content: result.raw },
    { kind: "USAGE", contentType: "application/json", content: json({ provider: session.provider, model: result.model, usage: result.usage }) },
    {
      kind: "TIMINGS",
      contentType: "application/json",
      content: json({ queuedMs, firstTokenMs: result.timings.firstTokenMs, totalMs: result.timings.totalMs, attempts: result.attempts, parsedAs: result.parsedAs }),
    },
  ];
}

/**
 * Collects generated text and hands it on at most every `intervalMs` (and on flush), one
 * write at a time, so events keep their order and a long reply is a few dozen rows, not
 * one per token.
 */
class DeltaBatcher {
  private pending = "";
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (text: string) => Promise<void>,
    private readonly intervalMs: number,
  ) {}

  add(text: string): void {
    if (!text) return;
    this.pending += text;
    this.timer ??= setTimeout(() => void this.flush(), this.intervalMs);
  }

  /** Writes what is pending; resolves when every write queued so far is done. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const text = this.pending;
    this.pending = "";
    if (text) this.chain = this.chain.then(() => this.write(text));
    return this.chain;
  }

  /** Another write (a RETRY event) in order after the pending text; failures do not break the chain. */
  after(write: () => Promise<void>): Promise<void> {
    void this.flush();
    this.chain = this.chain.then(write).catch(() => undefined);
    return this.chain;
  }
}
