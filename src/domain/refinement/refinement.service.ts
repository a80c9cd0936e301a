import { AppError, badInput, notFound } from "../../errors.js";
import type { EventBus } from "../../subscriptions/pubsub.js";
import type { RefinementProgressPayload, RefinementStatus } from "../../subscriptions/topics.js";
import { BufferedPublisher } from "../../subscriptions/topics.js";
import { replayThenLive } from "../../subscriptions/replay.js";
import type { PromptRef } from "../prompts/prompt.commands.js";
import type { PromptVersionRecord } from "../prompts/prompt.repository.js";
import type { PromptService } from "../prompts/prompt.service.js";
import { LIMITS } from "../prompts/prompt.logic.js";
import { newestFirstPage } from "../shared/pagination.js";
import { checkProposal, describeBrokenPlaceholders, textOf } from "./refinement.logic.js";
import type { ProviderRegistry } from "./refinement.providers.js";
import type { RefinementDocumentRecord, RefinementRepository, RefinementSessionRecord } from "./refinement.repository.js";
import type { RefinementRunner } from "./refinement.runner.js";
import type { RefinementExample } from "./refiner.js";

export interface StartRefinementCommand {
  prompt: PromptRef;
  baseVersion?: number | null;
  instructions?: string | null;
  examples?: RefinementExample[] | null;
  provider?: string | null;
  model?: string | null;
  temperature?: number | null;
  parent?: string | null;
}

export interface ApplyRefinementCommand {
  session: string;
  commitMessage?: string | null;
  moveLabels?: string[] | null;
  force?: boolean | null;
  rebase?: boolean | null;
}

const LIMIT = { instructions: 20_000, examples: 20, exampleText: 20_000, model: 200, reason: 2_000, activePerPrompt: 20 };

/**
 * The refinement workflow: start a session (the runner does the work), review it (diff and
 * placeholder checks against the version it refines), apply it as the prompt's next version,
 * or reject it; a session started from another refines that one's proposal further.
 */
export class RefinementService {
  constructor(
    private readonly repo: RefinementRepository,
    private readonly prompts: PromptService,
    private readonly providers: ProviderRegistry,
    private readonly runner: RefinementRunner,
    private readonly bus: EventBus,
    /** How long a progress stream waits for a live event before it checks the database. */
    private readonly pollMs = 5_000,
  ) {}

  async start(command: StartRefinementCommand, actor: string | null): Promise<RefinementSessionRecord> {
    const instructions = (command.instructions ?? "").trim();
    if (instructions.length > LIMIT.instructions) throw badInput("instructions", `instructions must be at most ${LIMIT.instructions} characters`);
    const examples = validateExamples(command.examples ?? []);
    if (command.temperature != null && !(command.temperature >= 0 && command.temperature <= 2)) {
      throw badInput("temperature", "temperature must be from 0 to 2");
    }
    const model = command.model?.trim() || null;
    if (model && model.length > LIMIT.model) throw badInput("model", `model must be at most ${LIMIT.model} characters`);
    const provider = this.providers.get(command.provider);
    const prompt = await this.prompts.get(command.prompt);
    if (prompt.type !== "TEXT") throw badInput("prompt", `${prompt.name} is a ${prompt.type} prompt; refinement works on TEXT prompts`);
    if ((await this.repo.count({ promptId: prompt.id, status: "QUEUED" })) + (await this.repo.count({ promptId: prompt.id, status: "RUNNING" })) >= LIMIT.activePerPrompt) {
      throw new AppError("RATE_LIMITED", `${prompt.name} has ${LIMIT.activePerPrompt} refinement sessions queued or running; wait for them or cancel some`, { field: "prompt" });
    }

    let baseVersionNumber: number;
    let parentId: string | null = null;
    if (command.parent) {
      const parent = await this.get(command.parent, "parent");
      if (parent.promptId !== prompt.id) throw badInput("parent", "the parent session refines another prompt");
      if (!(await this.repo.proposalOf(parent.id))) {
        throw new AppError("FAILED_PRECONDITION", `the parent session is ${parent.status} and has no proposal to refine`, { field: "parent" });
      }
      if (command.baseVersion != null && command.baseVersion !== parent.baseVersionNumber) {
        throw badInput("baseVersion", `a child session keeps its parent's base version (${parent.baseVersionNumber})`);
      }
      baseVersionNumber = parent.baseVersionNumber;
      parentId = parent.id;
    } else {
      baseVersionNumber = command.baseVersion ?? prompt.latestVersionNumber;
      await this.prompts.version({ id: prompt.id }, baseVersionNumber); // NOT_FOUND when there is no such version
    }
    const { session, event } = await this.repo.create({
      promptId: prompt.id,
      baseVersionNumber,
      parentId,
      provider: provider.name,
      model: model ?? provider.defaultModel,
      temperature: command.temperature ?? null,
      instructions,
      examples,
      startedBy: actor,
    });
    this.bus.publish("refinement.progress", event);
    this.runner.enqueue(session.id);
    return session;
  }

  async get(id: string, field = "id"): Promise<RefinementSessionRecord> {
    const session = await this.repo.findById(id);
    if (!session) throw notFound("refinement session", field, id);
    return session;
  }

  async list(prompt: PromptRef | null | undefined, status: RefinementStatus | null, first: number | null | undefined, after: string | null | undefined) {
    const filter = { promptId: prompt ? (await this.prompts.get(prompt)).id : null, status };
    return newestFirstPage(first, after, "refinement session", (limit, before) => this.repo.list(filter, limit, before), () => this.repo.count(filter));
  }

  async document(id: string): Promise<RefinementDocumentRecord> {
    const document = await this.repo.document(id);
    if (!document) throw notFound("document", "id", id);
    return document;
  }

  /** Stops a queued or running session; a running one ends CANCELLED once its provider call stops. */
  async cancel(id: string): Promise<RefinementSessionRecord> {
    const session = await this.get(id);
    const queued = await this.repo.transition(id, ["QUEUED"], "CANCELLED", { finishedAt: new Date() }, { kind: "STATUS", delta: null, proposal: null, message: "cancelled", final: true });
    if (queued) {
      this.bus.publish("refinement.progress", queued.event);
      return queued.session;
    }
    if (!(await this.repo.requestCancel(id))) {
      throw new AppError("FAILED_PRECONDITION", `the session is ${session.status}; only a queued or running session can be cancelled`, { field: "id", status: session.status });
    }
    this.bus.publish("refinement.cancel", { sessionId: id });
    return (await this.repo.findById(id))!;
  }

  /** The proposed prompt of a completed (or applied, or rejected) session. */
  proposal(session: RefinementSessionRecord): Promise<string | null> {
    return this.repo.proposalOf(session.id);
  }

  baseVersion(session: RefinementSessionRecord): Promise<PromptVersionRecord> {
    return this.prompts.version({ id: session.promptId }, session.baseVersionNumber);
  }

  /**
   * Makes the proposal the prompt's next version (with the model settings of the version it
   * replaces), and records it on the session in the same transaction. CONFLICT when the prompt has moved
   * past the base version, unless `rebase`; FAILED_PRECONDITION when the proposal adds or drops
   * a placeholder, unless `force`.
   */
  async apply(command: ApplyRefinementCommand, actor: string | null): Promise<{ session: RefinementSessionRecord; version: PromptVersionRecord }> {
    const session = await this.get(command.session, "session");
    if (session.status !== "COMPLETED") {
      throw new AppError("FAILED_PRECONDITION", `the session is ${session.status}; only a COMPLETED session can be applied`, { field: "session", status: session.status });
    }
    const proposal = await this.proposal(session);
    if (proposal === null) throw new Error(`session ${session.id} is COMPLETED without a proposal`);
    const prompt = await this.prompts.get({ id: session.promptId });
    const moved = prompt.latestVersionNumber !== session.baseVersionNumber;
    if (moved && !command.rebase) {
      throw new AppError(
        "CONFLICT",
        `${prompt.name} is at version ${prompt.latestVersionNumber} now, past the base version ${session.baseVersionNumber}; review the diff and apply with rebase: true to put the proposal on top`,
        { field: "rebase", baseVersion: session.baseVersionNumber, latestVersion: prompt.latestVersionNumber },
      );
    }
    // On top of the latest version: the checks compare with what the new version replaces, and
    // its model settings stay as they are now (not as they were in the base version).
    const onto = moved ? await this.prompts.version({ id: prompt.id }, prompt.latestVersionNumber) : await this.baseVersion(session);
    const checks = checkProposal(textOf(onto), proposal);
    if (!checks.placeholdersPreserved && !command.force) {
      throw new AppError("FAILED_PRECONDITION", `${describeBrokenPlaceholders(checks)}; review it, then apply with force: true`, { field: "force", checks });
    }
    const commitMessage = command.commitMessage?.trim() || `Refinement ${session.id} (${session.provider}/${session.model})`;
    if (commitMessage.length > LIMITS.commitMessageLength) throw badInput("commitMessage", `commitMessage must be at most ${LIMITS.commitMessageLength} characters`);
    const events = new BufferedPublisher();
    const labels = command.moveLabels ?? [];
    const result = await this.repo.transaction(async (repo, tx) => {
      const updated = await this.prompts.withTx(tx, events).update(
        { id: prompt.id },
        { text: proposal, config: onto.config, commitMessage, expectedVersion: prompt.latestVersionNumber },
        { actor, ...(labels.length > 0 && { moveLabels: { labels, reason: `refinement ${session.id}` } }) },
      );
      if (!updated.version) throw new AppError("FAILED_PRECONDITION", "the proposal is identical to the latest version; nothing to apply", { field: "session" });
      const ended = await repo.transition(
        session.id,
        ["COMPLETED"],
        "APPLIED",
        { appliedVersionNumber: updated.version.number, resolvedBy: actor, resolvedAt: new Date() },
        { kind: "STATUS", delta: null, proposal: null, message: `applied as version ${updated.version.number}`, final: true },
      );
      if (!ended) throw new AppError("CONFLICT", "the session was applied or rejected meanwhile", { field: "session" });
      return { ended, version: updated.version };
    });
    events.flush(this.bus);
    this.bus.publish("refinement.progress", result.ended.event);
    return { session: result.ended.session, version: result.version };
  }

  async reject(id: string, reason: string | null | undefined, actor: string | null): Promise<RefinementSessionRecord> {
    const text = reason?.trim() || null;
    if (text && text.length > LIMIT.reason) throw badInput("reason", `reason must be at most ${LIMIT.reason} characters`);
    const session = await this.get(id, "session");
    const ended = await this.repo.transition(
      id,
      ["COMPLETED"],
      "REJECTED",
      { rejectionReason: text, resolvedBy: actor, resolvedAt: new Date() },
      { kind: "STATUS", delta: null, proposal: null, message: text ?? "rejected", final: true },
    );
    if (!ended) {
      throw new AppError("FAILED_PRECONDITION", `the session is ${session.status}; only a COMPLETED session can be rejected`, { field: "session", status: session.status });
    }
    this.bus.publish("refinement.progress", ended.event);
    return ended.session;
  }

  /**
   * Progress of one session: what came after `afterSequence` from the database, then live
   * events, with no gap and no duplicate; ends after the event that ends the run (or at once
   * when it has ended). Without afterSequence it replays the whole session, so a late
   * subscriber still sees the generated text.
   */
  async progress(id: string, afterSequence: number | null | undefined): Promise<AsyncIterable<RefinementProgressPayload>> {
    if (afterSequence != null && (!Number.isInteger(afterSequence) || afterSequence < 0)) {
      throw badInput("afterSequence", "afterSequence must be a non-negative integer");
    }
    // Subscribe before reading the database: whatever is published meanwhile waits in the buffer.
    const live = this.bus.subscribe("refinement.progress", (event) => event.sessionId === id);
    try {
      const session = await this.get(id);
      if (afterSequence != null && afterSequence > session.lastSequence) {
        throw badInput("afterSequence", `afterSequence is past the session's last event (${session.lastSequence})`);
      }
    } catch (error) {
      await live.return();
      throw error;
    }
    const repo = this.repo;
    return replayThenLive({
      live,
      async *replay() {
        let last = afterSequence ?? 0;
        for (const event of await repo.eventsAfter(id, last)) {
          yield event;
          last = event.sequence;
        }
        const session = await repo.findById(id);
        // The run is over and everything recorded was sent: nothing more will come.
        const ended = !session || (session.status !== "QUEUED" && session.status !== "RUNNING" && session.lastSequence <= last);
        return { after: last, ended };
      },
      recorded: (after) => repo.eventsAfter(id, after),
      state: async () => {
        const session = await repo.findById(id);
        return { exists: session !== null, lastSequence: session?.lastSequence ?? 0, open: session?.status === "QUEUED" || session?.status === "RUNNING" };
      },
      pollMs: this.pollMs,
    });
  }
}

function validateExamples(examples: RefinementExample[]): RefinementExample[] {
  if (examples.length > LIMIT.examples) throw badInput("examples", `at most ${LIMIT.examples} examples`);
  return examples.map((example, i) => {
    const input = example.input?.trim() ?? "";
    const idealOutput = example.idealOutput?.trim() ?? "";
    if (!input || !idealOutput) throw badInput(`examples.${i}`, `example ${i + 1} needs both an input and an ideal output`);
    if (input.length > LIMIT.exampleText || idealOutput.length > LIMIT.exampleText) {
      throw badInput(`examples.${i}`, `example ${i + 1} is longer than ${LIMIT.exampleText} characters`);
    }
    return { input, idealOutput };
  });
}
