import { GraphQLDateTimeISO } from "graphql-scalars";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import type { DocumentKind } from "../../domain/refinement/refinement.repository.js";
import type { RefinementEventKind, RefinementStatus } from "../../subscriptions/topics.js";
import { ContentDiffFields } from "../prompts/diff.types.js";
import { PromptRef } from "../prompts/prompt.inputs.js";
import { PromptVersion } from "../prompts/prompt.types.js";
import { ConnectionType } from "../shared/connection.js";

export const RefinementStatusValues: { [K in RefinementStatus]: K } = {
  QUEUED: "QUEUED",
  RUNNING: "RUNNING",
  COMPLETED: "COMPLETED",
  FAILED: "FAILED",
  CANCELLED: "CANCELLED",
  APPLIED: "APPLIED",
  REJECTED: "REJECTED",
};
registerEnumType(RefinementStatusValues, {
  name: "RefinementStatus",
  description: "Where a refinement session is: QUEUED -> RUNNING -> COMPLETED | FAILED | CANCELLED, then APPLIED or REJECTED.",
  valuesConfig: {
    QUEUED: { description: "Stored, waiting for a runner." },
    RUNNING: { description: "The provider is working on it (text streams in refinementProgress)." },
    COMPLETED: { description: "A proposal is ready for review." },
    FAILED: { description: "The provider failed (errorCode UPSTREAM_UNAVAILABLE with the reason) or the run was interrupted." },
    CANCELLED: { description: "Stopped by cancelRefinement." },
    APPLIED: { description: "The proposal became a new version of the prompt (appliedVersion)." },
    REJECTED: { description: "A reviewer turned the proposal down (rejectionReason)." },
  },
});

export const RefinementEventKindValues: { [K in RefinementEventKind]: K } = { STATUS: "STATUS", DELTA: "DELTA", RETRY: "RETRY", PROPOSAL: "PROPOSAL" };
registerEnumType(RefinementEventKindValues, {
  name: "RefinementEventKind",
  description: "What a refinement progress event carries.",
  valuesConfig: {
    STATUS: { description: "The session changed status (message says why when it failed or was cancelled)." },
    DELTA: { description: "Text the model generated since the previous DELTA (all DELTAs concatenated are the whole reply)." },
    RETRY: { description: "The upstream call failed and is retried (message has the reason and the wait)." },
    PROPOSAL: { description: "The run completed: proposal holds the proposed prompt." },
  },
});

export const DocumentKindValues: { [K in DocumentKind]: K } = {
  PROPOSAL: "PROPOSAL",
  CRITIQUE: "CRITIQUE",
  RATIONALE: "RATIONALE",
  CHANGES: "CHANGES",
  RAW_REPLY: "RAW_REPLY",
  USAGE: "USAGE",
  TIMINGS: "TIMINGS",
};
registerEnumType(DocumentKindValues, {
  name: "RefinementDocumentKind",
  description: "What a refinement document holds.",
  valuesConfig: {
    PROPOSAL: { description: "The proposed prompt (text/plain)." },
    CRITIQUE: { description: "What could be better in the original (text/markdown)." },
    RATIONALE: { description: "Why the proposal looks the way it does (text/markdown)." },
    CHANGES: { description: "The individual changes, one sentence each (application/json array)." },
    RAW_REPLY: { description: "The provider's reply exactly as received (text/plain); also kept when it could not be used." },
    USAGE: { description: "Provider, model and token usage (application/json)." },
    TIMINGS: { description: "Queue time, time to first token, total time, attempts (application/json)." },
  },
});

@InputType("RefinementExampleInput", { description: "An example of what the prompt should do: an input and the ideal output." })
export class RefinementExampleInput {
  @Field({ description: "An input the prompt gets (e.g. a user message or variable values)." })
  input!: string;

  @Field({ description: "What the ideal answer to that input looks like." })
  idealOutput!: string;
}

@ObjectType("RefinementExample", { description: "An example given to a refinement session." })
export class RefinementExample {
  @Field({ description: "The input." })
  input!: string;

  @Field({ description: "The ideal output." })
  idealOutput!: string;
}

@InputType("StartRefinementInput", { description: "What to refine, how, and with which provider." })
export class StartRefinementInput {
  @Field(() => PromptRef, { description: "The prompt (a TEXT prompt)." })
  prompt!: PromptRef;

  @Field(() => Int, { nullable: true, description: "The version to refine (default: the latest). A child session keeps its parent's." })
  baseVersion?: number | null;

  @Field(() => String, { nullable: true, description: "What you want changed (up to 20,000 characters); empty asks for a general improvement." })
  instructions?: string | null;

  @Field(() => [RefinementExampleInput], { nullable: true, description: "Up to 20 examples of inputs and ideal outputs." })
  examples?: RefinementExampleInput[] | null;

  @Field(() => String, { nullable: true, description: "A provider from refinementProviders (default: the configured LLM, else builtin)." })
  provider?: string | null;

  @Field(() => String, { nullable: true, description: "The provider's model (default: the provider's default model)." })
  model?: string | null;

  @Field(() => Float, { nullable: true, description: "Sampling temperature, 0 to 2 (default: the provider's)." })
  temperature?: number | null;

  @Field(() => ID, { nullable: true, description: "A session whose proposal this one refines further (same prompt, with a proposal)." })
  parent?: string | null;
}

@InputType("ApplyRefinementInput", { description: "How to apply a refinement." })
export class ApplyRefinementInput {
  @Field(() => ID, { description: "The COMPLETED session." })
  session!: string;

  @Field(() => String, { nullable: true, description: "The new version's commit message (default names the session)." })
  commitMessage?: string | null;

  @Field(() => [String], { nullable: true, description: "Labels to point at the new version, in the same transaction." })
  moveLabels?: string[] | null;

  @Field(() => Boolean, { nullable: true, description: "Apply even though the proposal adds or drops a {{variable}} or include." })
  force?: boolean | null;

  @Field(() => Boolean, { nullable: true, description: "Apply on top of the latest version even though the prompt moved past the base version." })
  rebase?: boolean | null;
}

@ObjectType("RefinementChecks", { description: "Review checks of a proposal against the text it refines." })
export class RefinementChecks {
  @Field({ description: "True when no {{variable}} or include was added or dropped: applying needs no force." })
  placeholdersPreserved!: boolean;

  @Field(() => [String], { description: "{{variables}} the proposal adds." })
  variablesAdded!: string[];

  @Field(() => [String], { description: "{{variables}} the proposal drops." })
  variablesRemoved!: string[];

  @Field(() => [String], { description: "Includes (name or name@selector) the proposal adds." })
  includesAdded!: string[];

  @Field(() => [String], { description: "Includes the proposal drops." })
  includesRemoved!: string[];

  @Field(() => Int, { description: "Characters in the base version." })
  lengthBefore!: number;

  @Field(() => Int, { description: "Characters in the proposal." })
  lengthAfter!: number;

  @Field(() => Int, { description: "lengthAfter - lengthBefore." })
  lengthChange!: number;

  @Field(() => Float, { nullable: true, description: "The change in percent of the base (null when the base is empty)." })
  lengthChangePercent!: number | null;
}

@ObjectType("RefinementDiff", { description: "The proposal against the base version: the same comparison as diffPromptVersions." })
export class RefinementDiff extends ContentDiffFields {
  @Field(() => PromptVersion, { description: "The base version (the older side); the newer side is the proposal." })
  from!: object;
}

@ObjectType("RefinementDocument", { description: "A stored result of a refinement session; kept after it is applied or rejected." })
export class RefinementDocument {
  @Field(() => ID, { description: "Stable identifier (see document(id))." })
  id!: string;

  @Field(() => ID, { description: "The session it belongs to." })
  sessionId!: string;

  @Field(() => DocumentKindValues, { description: "What it holds." })
  kind!: DocumentKind;

  @Field({ description: "text/plain, text/markdown or application/json." })
  contentType!: string;

  @Field({ description: "The document itself." })
  content!: string;

  @Field(() => GraphQLDateTimeISO, { description: "When it was stored." })
  createdAt!: Date;
}

@ObjectType("RefinementError", { description: "An error that ended a session." })
export class RefinementError {
  @Field({ description: "UPSTREAM_UNAVAILABLE (the provider failed), INTERRUPTED (the server stopped) or INTERNAL." })
  code!: string;

  @Field({ description: "What happened, for a person." })
  message!: string;
}

@ObjectType("RefinementSession", { description: "A refinement of a prompt: what was asked, of which provider, by whom, and how it ended." })
export class RefinementSession {
  @Field(() => ID, { description: "Stable identifier." })
  id!: string;

  @Field(() => Int, { description: "The version this session (and its chain) refines." })
  baseVersionNumber!: number;

  @Field(() => RefinementStatusValues, { description: "Where it is." })
  status!: RefinementStatus;

  @Field({ description: "The provider that does the work." })
  provider!: string;

  @Field({ description: "The model asked." })
  model!: string;

  @Field(() => Float, { nullable: true, description: "The sampling temperature asked for, if any." })
  temperature!: number | null;

  @Field({ description: "What the person asked for." })
  instructions!: string;

  @Field(() => [RefinementExample], { description: "The examples given." })
  examples!: RefinementExample[];

  @Field(() => String, { nullable: true, description: "Who started it." })
  startedBy!: string | null;

  @Field(() => String, { nullable: true, description: "Who applied or rejected it." })
  resolvedBy!: string | null;

  @Field(() => String, { nullable: true, description: "Why it was rejected." })
  rejectionReason!: string | null;

  @Field({ description: "A cancel was asked for and the run has not stopped yet." })
  cancelRequested!: boolean;

  @Field(() => Int, { description: "Sequence number of its latest progress event (for refinementProgress(afterSequence))." })
  lastSequence!: number;

  @Field(() => GraphQLDateTimeISO, { description: "When it was started." })
  createdAt!: Date;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When the provider started on it." })
  startedAt!: Date | null;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When the run ended (COMPLETED, FAILED or CANCELLED)." })
  finishedAt!: Date | null;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When it was applied or rejected." })
  resolvedAt!: Date | null;
}

@ObjectType("ApplyRefinementPayload", { description: "What an application of a refinement produced." })
export class ApplyRefinementPayload {
  @Field(() => RefinementSession, { description: "The session, now APPLIED." })
  session!: object;

  @Field(() => PromptVersion, { description: "The new version." })
  version!: object;
}

@ObjectType("RefinementProviderInfo", { description: "A provider sessions can use." })
export class RefinementProviderInfo {
  @Field({ description: "Its name, for startRefinement(provider)." })
  name!: string;

  @Field({ description: "builtin (offline rules) or openai-compatible (an LLM)." })
  kind!: string;

  @Field({ description: "The model used when a session names none." })
  defaultModel!: string;

  @Field({ description: "Used when a session names no provider." })
  isDefault!: boolean;

  @Field(() => String, { nullable: true, description: "An LLM's circuit breaker: closed (healthy), open (failing fast) or half-open (trying again)." })
  circuit!: string | null;
}

@ObjectType("RefinementProgress", { description: "One event of a session's progress." })
export class RefinementProgress {
  @Field(() => ID, { description: "The session." })
  sessionId!: string;

  @Field(() => Int, { description: "Per session, 1, 2, 3...: pass the last one seen as afterSequence when reconnecting." })
  sequence!: number;

  @Field(() => RefinementEventKindValues, { description: "What this event carries." })
  kind!: RefinementEventKind;

  @Field(() => RefinementStatusValues, { description: "The session's status after this event." })
  status!: RefinementStatus;

  @Field(() => String, { nullable: true, description: "DELTA: newly generated text." })
  delta!: string | null;

  @Field(() => String, { nullable: true, description: "PROPOSAL: the proposed prompt." })
  proposal!: string | null;

  @Field(() => String, { nullable: true, description: "Why (a failure, a retry, a cancel, a rejection)." })
  message!: string | null;

  @Field({ description: "True for the event that ends the run (PROPOSAL, FAILED, CANCELLED) and for APPLIED/REJECTED." })
  final!: boolean;

  @Field(() => GraphQLDateTimeISO, { description: "When it happened." })
  occurredAt!: Date;
}

@ObjectType("RefinementSessionConnection", { description: "A page of refinement sessions, newest first." })
export class RefinementSessionConnection extends ConnectionType("RefinementSession", RefinementSession) {}
