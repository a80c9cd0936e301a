import { Arg, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import type { AppContext } from "../../context.js";
import type { PromptVersionRecord } from "../../domain/prompts/prompt.repository.js";
import { checkProposal, diffProposal, textOf } from "../../domain/refinement/refinement.logic.js";
import type { ProviderInfo, ProviderRegistry } from "../../domain/refinement/refinement.providers.js";
import type { RefinementSessionRecord } from "../../domain/refinement/refinement.repository.js";
import type { RefinementService } from "../../domain/refinement/refinement.service.js";
import type { RefinementProgressPayload, RefinementStatus } from "../../subscriptions/topics.js";
import { PromptRef } from "../prompts/prompt.inputs.js";
import { Prompt, PromptVersion } from "../prompts/prompt.types.js";
import { toConnection } from "../shared/connection.js";
import {
  ApplyRefinementInput,
  ApplyRefinementPayload,
  RefinementChecks,
  RefinementDiff,
  RefinementDocument,
  RefinementError,
  RefinementProgress,
  RefinementProviderInfo,
  RefinementSession,
  RefinementSessionConnection,
  RefinementStatusValues,
  StartRefinementInput,
} from "./refinement.types.js";

/** The proposal and base version of a session, through the request's loaders. */
async function reviewInputs(session: RefinementSessionRecord, ctx: AppContext): Promise<{ proposal: string; base: PromptVersionRecord } | null> {
  const [documents, base] = await Promise.all([
    ctx.loaders.refinement.documents.load(session.id),
    ctx.loaders.prompts.version.load({ promptId: session.promptId, number: session.baseVersionNumber }),
  ]);
  const proposal = documents.find((d) => d.kind === "PROPOSAL")?.content;
  return proposal === undefined || !base ? null : { proposal, base };
}

@Resolver(() => RefinementSession)
export class RefinementResolver {
  constructor(
    readonly refinements: RefinementService,
    private readonly providers: ProviderRegistry,
  ) {}

  @Mutation(() => RefinementSession, { description: "Starts refining a prompt; returns at once (QUEUED) and runs in the background (follow it with refinementProgress)." })
  startRefinement(@Arg("input", () => StartRefinementInput, { description: "What to refine and how." }) input: StartRefinementInput, @Ctx() ctx: AppContext) {
    return this.refinements.start(input, ctx.actor);
  }

  @Mutation(() => RefinementSession, { description: "Stops a queued or running session, including an LLM reply that is streaming in; it ends CANCELLED." })
  cancelRefinement(@Arg("id", () => ID, { description: "The session." }) id: string) {
    return this.refinements.cancel(id);
  }

  @Mutation(() => ApplyRefinementPayload, {
    description:
      "Makes a COMPLETED session's proposal the prompt's next version (linked both ways). CONFLICT when the prompt moved past the base version (rebase: true applies on top); " +
      "FAILED_PRECONDITION when the proposal adds or drops a placeholder (force: true applies anyway).",
  })
  applyRefinement(@Arg("input", () => ApplyRefinementInput, { description: "The session and options." }) input: ApplyRefinementInput, @Ctx() ctx: AppContext) {
    return this.refinements.apply(input, ctx.actor);
  }

  @Mutation(() => RefinementSession, { description: "Turns down a COMPLETED session's proposal; its documents are kept." })
  rejectRefinement(
    @Arg("session", () => ID, { description: "The session." }) session: string,
    @Arg("reason", () => String, { nullable: true, description: "Why (up to 2,000 characters)." }) reason: string | null | undefined,
    @Ctx() ctx: AppContext,
  ) {
    return this.refinements.reject(session, reason, ctx.actor);
  }

  @Query(() => RefinementSession, { description: "One session; NOT_FOUND when there is none." })
  refinementSession(@Arg("id", () => ID, { description: "The session." }) id: string) {
    return this.refinements.get(id);
  }

  @Query(() => RefinementSessionConnection, { description: "Refinement sessions (who started them, on what, with which provider, how they ended), newest first." })
  async refinementSessions(
    @Arg("prompt", () => PromptRef, { nullable: true, description: "Only this prompt's sessions." }) prompt?: PromptRef | null,
    @Arg("status", () => RefinementStatusValues, { nullable: true, description: "Only sessions in this status." }) status?: RefinementStatus | null,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 0 to 200 (default 20)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
  ) {
    const page = await this.refinements.list(prompt, status ?? null, first, after);
    return toConnection(page, page.cursor, () => page.totalCount());
  }

  @Query(() => RefinementDocument, { description: "One refinement document; NOT_FOUND when there is none." })
  document(@Arg("id", () => ID, { description: "The document." }) id: string) {
    return this.refinements.document(id);
  }

  @Query(() => [RefinementProviderInfo], { description: "The providers sessions can use; the default one is used when a session names none." })
  refinementProviders(): ProviderInfo[] {
    return this.providers.list();
  }

  @FieldResolver(() => Prompt, { description: "The prompt being refined." })
  async prompt(@Root() session: RefinementSessionRecord, @Ctx() ctx: AppContext) {
    return ctx.loaders.prompts.byId.load(session.promptId);
  }

  @FieldResolver(() => PromptVersion, { description: "The version the chain refines; the diff and checks compare with it." })
  baseVersion(@Root() session: RefinementSessionRecord, @Ctx() ctx: AppContext) {
    return ctx.loaders.prompts.version.load({ promptId: session.promptId, number: session.baseVersionNumber });
  }

  @FieldResolver(() => RefinementSession, { nullable: true, description: "The session whose proposal this one refines." })
  parent(@Root() session: RefinementSessionRecord, @Ctx() ctx: AppContext) {
    return session.parentId ? ctx.loaders.refinement.byId.load(session.parentId) : null;
  }

  @FieldResolver(() => [RefinementSession], { description: "Sessions started from this one's proposal, oldest first." })
  children(@Root() session: RefinementSessionRecord, @Ctx() ctx: AppContext) {
    return ctx.loaders.refinement.children.load(session.id);
  }

  @FieldResolver(() => [RefinementDocument], { description: "What it produced: proposal, critique, rationale, changes, raw reply, usage, timings." })
  documents(@Root() session: RefinementSessionRecord, @Ctx() ctx: AppContext) {
    return ctx.loaders.refinement.documents.load(session.id);
  }

  @FieldResolver(() => String, { nullable: true, description: "The proposed prompt (the PROPOSAL document); null until COMPLETED." })
  async proposal(@Root() session: RefinementSessionRecord, @Ctx() ctx: AppContext) {
    const documents = await ctx.loaders.refinement.documents.load(session.id);
    return documents.find((d) => d.kind === "PROPOSAL")?.content ?? null;
  }

  @FieldResolver(() => RefinementDiff, { nullable: true, description: "The proposal against the base version; null until there is a proposal." })
  async diff(
    @Root() session: RefinementSessionRecord,
    @Ctx() ctx: AppContext,
    @Arg("context", () => Int, { nullable: true, description: "Unchanged lines around each change (default 3)." }) context?: number,
  ) {
    const inputs = await reviewInputs(session, ctx);
    return inputs ? diffProposal(inputs.base, inputs.proposal, context) : null;
  }

  @FieldResolver(() => RefinementChecks, { nullable: true, description: "Placeholders preserved and length change; null until there is a proposal." })
  async checks(@Root() session: RefinementSessionRecord, @Ctx() ctx: AppContext) {
    const inputs = await reviewInputs(session, ctx);
    return inputs ? checkProposal(textOf(inputs.base), inputs.proposal) : null;
  }

  @FieldResolver(() => PromptVersion, { nullable: true, description: "The version applyRefinement created." })
  appliedVersion(@Root() session: RefinementSessionRecord, @Ctx() ctx: AppContext) {
    return session.appliedVersionNumber === null ? null : ctx.loaders.prompts.version.load({ promptId: session.promptId, number: session.appliedVersionNumber });
  }

  @FieldResolver(() => RefinementError, { nullable: true, description: "Why it FAILED; null otherwise." })
  error(@Root() session: RefinementSessionRecord) {
    return session.error === null ? null : { code: session.errorCode ?? "INTERNAL", message: session.error };
  }

  @Subscription(() => RefinementProgress, {
    subscribe: ({ args, context }) =>
      (context as AppContext).container.get(RefinementResolver).refinements.progress(args.session as string, args.afterSequence as number | null),
    description:
      "A session's progress: status changes, the generated text as it arrives (DELTA), retries, then the proposal (or the failure). " +
      "Replays what is recorded after afterSequence (everything without it) from the database first, then goes live, with no gap and no duplicate; ends with the run.",
  })
  refinementProgress(
    @Root() event: RefinementProgressPayload,
    @Arg("session", () => ID, { description: "The session." }) _session: string,
    @Arg("afterSequence", () => Int, { nullable: true, description: "The last sequence number this client saw." }) _after?: number,
  ) {
    return { ...event, occurredAt: new Date(event.occurredAt) };
  }
}

@Resolver(() => PromptVersion)
export class PromptVersionRefinementResolver {
  @FieldResolver(() => RefinementSession, { nullable: true, description: "The refinement session this version was applied from, if any." })
  refinementSession(@Root() version: PromptVersionRecord, @Ctx() ctx: AppContext) {
    return ctx.loaders.refinement.byAppliedVersion.load({ promptId: version.promptId, number: version.number });
  }
}
