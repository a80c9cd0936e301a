import type { Logger } from "../../logger.js";
import { detached } from "../../auth/scope.js";
import type { EventBus, Subscription } from "../../subscriptions/pubsub.js";
import type { PromptEventPayload, RefinementProgressPayload } from "../../subscriptions/topics.js";
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
  /** A running session says it is alive (and checks for a cancel) this often; one silent for 3x this long is presumed dead. */
  heartbeatMs: number;
  /** Longest reply accepted, in characters; a provider that goes on is stopped and the session fails. */
  maxReplyChars: number;
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
  private readonly active = new Map<string, { run: AbortController; promptId: string }>();
  private readonly running = new Set<Promise<void>>();
  private stopping = false;
  private sweeper: NodeJS.Timeout | undefined;
  private cancels: Subscription<{ sessionId: string }> | undefined;
  private deletions: Subscription<PromptEventPayload> | undefined;

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
    if (this.stopping) return;
    this.listen();
    await this.sweep();
    this.sweeper ??= setInterval(() => void this.sweep().catch((err: unknown) => this.logger.error({ err }, "refinement sweep failed")), this.options.heartbeatMs * 3);
    this.sweeper.unref();
  }

  /**
   * Listens for cancels and deleted prompts (no database work): from the moment sessions can
   * start, before start() picks up the ones a previous process left.
   */
  listen(): void {
    if (this.stopping) return;
    if (!this.cancels) {
      const cancels = (this.cancels = this.bus.subscribe("refinement.cancel"));
      void (async () => {
        for await (const { sessionId } of cancels) this.active.get(sessionId)?.run.abort();
      })();
      // A deleted prompt takes its sessions with it: stop working on them.
      const deletions = (this.deletions = this.bus.subscribe("prompt.events", (event) => event.type === "DELETED"));
      void (async () => {
        for await (const { promptId } of deletions) {
          for (const active of this.active.values()) if (active.promptId === promptId) active.run.abort(new Error("prompt deleted"));
        }
      })();
    }
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
    for (const { run } of this.active.values()) run.abort(new Error("shutdown"));
    await Promise.all(this.running);
    await this.cancels?.return();
    await this.deletions?.return();
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

  /**
   * Fails running sessions whose heartbeat stopped (their server died), and takes on queued
   * sessions nobody runs (any instance may: starting one is a compare-and-set).
   */
  private async sweep(): Promise<void> {
    for (const session of await this.repo.staleRunning(new Date(Date.now() - this.options.heartbeatMs * 3))) {
      if (this.active.has(session.id)) continue;
      const message = "interrupted: the server that ran it stopped; start a new session";
      const ended = await this.repo.transition(session.id, ["RUNNING"], "FAILED", { errorCode: "INTERRUPTED", error: message, finishedAt: new Date() }, statusEvent(message, true));
      if (ended) this.publish(ended.event);
    }
    for (const session of await this.repo.queued()) this.enqueue(session.id);
  }

  private async run(id: string): Promise<void> {
    const started = await this.repo.transition(id, ["QUEUED"], "RUNNING", { startedAt: new Date() }, statusEvent());
    if (!started) return; // cancelled meanwhile, or another instance took it
    if (this.stopping) {
      // Shutting down: leave it for the next start (or another instance).
      const back = await this.repo.transition(id, ["RUNNING"], "QUEUED", { startedAt: null }, statusEvent("requeued: the server is stopping"));
      if (back) this.publish(started.event), this.publish(back.event);
      return;
    }
    this.publish(started.event);
    const session = started.session;
    const controller = new AbortController();
    this.active.set(id, { run: controller, promptId: session.promptId });
    const deltas = new DeltaBatcher(
      (text) => this.append(session, { kind: "DELTA", delta: text, proposal: null, message: null, final: false }),
      this.options.deltaIntervalMs,
      (err) => this.logger.warn({ err, sessionId: id }, "a refinement progress event could not be stored"),
    );
    // The heartbeat also catches a cancel whose event did not arrive (the bus between instances down).
    const heartbeat = setInterval(
      () => void this.repo.touch(id).then((cancel) => cancel && controller.abort(), () => undefined),
      this.options.heartbeatMs,
    );
    heartbeat.unref();
    try {
      // A cancel that arrived before this instance listened for it.
      if (session.cancelRequested) controller.abort();
      let received = 0;
      const provider = this.providers.get(session.provider);
      const content = await this.inputOf(session);
      const result = await provider.refine(
        { content, instructions: session.instructions, examples: session.examples, model: session.model, ...(session.temperature !== null && { temperature: session.temperature }) },
        {
          signal: controller.signal,
          onDelta: (text) => {
            received += text.length;
            if (received > this.options.maxReplyChars) controller.abort(new ReplyTooLong(this.options.maxReplyChars));
            else deltas.add(text);
          },
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
    // (A cancel, a shutdown, a deleted prompt or an over-long reply aborts the provider call.)
    const reason: unknown = controller.signal.reason;
    const shutdown = reason instanceof Error && reason.message === "shutdown";
    if (reason instanceof ReplyTooLong) error = new ProviderError(reason.message);
    else if (controller.signal.aborted && !shutdown) {
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

class ReplyTooLong extends Error {
  constructor(limit: number) {
    super(`the reply exceeded ${limit} characters and was stopped`);
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
    /** A failed write is reported here; the chain goes on (the session's end is written regardless). */
    private readonly onError: (error: unknown) => void,
  ) {}

  add(text: string): void {
    if (!text) return;
    this.pending += text;
    this.timer ??= detached(() => setTimeout(() => void this.flush(), this.intervalMs));
  }

  /** Writes what is pending; resolves when every write queued so far is done. */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const text = this.pending;
    this.pending = "";
    if (text) this.chain = this.chain.then(() => this.write(text)).catch((error: unknown) => this.onError(error));
    return this.chain;
  }

  /** Another write (a RETRY event) in order after the pending text; failures do not break the chain. */
  after(write: () => Promise<void>): Promise<void> {
    void this.flush();
    this.chain = this.chain.then(write).catch((error: unknown) => this.onError(error));
    return this.chain;
  }
}
