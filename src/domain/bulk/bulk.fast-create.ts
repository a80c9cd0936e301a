// The fast path of CREATE_PROMPTS: one chunk as a synchronous transaction of prepared
// statements (SyncWriter). It runs in the bulk worker thread (bulk.worker.ts), so neither its
// CPU time nor its commits hold the server's event loop.
import type { SyncSession } from "../../db/sync-writer.js";
import type { EventPublisher, BulkProgressPayload } from "../../subscriptions/topics.js";
import type { CreatePromptCommand, ServiceLimits } from "../prompts/prompt.commands.js";
import { batchable, namesOf, planBatch, settleNames, type CreateManyResult } from "../prompts/prompt.batch.js";
import { PromptBatchRepository } from "../prompts/prompt.batch-repository.js";
import { toCreateCommand } from "./bulk.handlers.js";
import type { BulkItemRecord, BulkOperationRecord, ItemOutcome } from "./bulk.repository.js";
import { BulkSyncRepository } from "./bulk.sync-repository.js";

export interface FastChunkRequest {
  operation: BulkOperationRecord;
  limit: number;
  /** Whether to persist a progress event with this chunk (the runner throttles them). */
  progress: boolean;
}

export interface FastChunkResult {
  op: BulkOperationRecord;
  processed: number;
  event: BulkProgressPayload | null;
}

const prompts = new PromptBatchRepository();
const bulk = new BulkSyncRepository();

/**
 * Creates the leading run of pending items that a batch can take and records their outcomes
 * (and maybe a progress event) in the caller's transaction; prompt events go to `events`, to
 * be published after the commit. Null when the next pending item needs the general path;
 * nothing processed when no item is pending.
 */
export function runFastChunk(session: SyncSession, request: FastChunkRequest, limits: ServiceLimits, events: EventPublisher): FastChunkResult | null {
  const op = request.operation;
  const items = bulk.pending(session, op.id, request.limit);
  // Nothing left: the run is over. (Null would send the runner to the general path, only to
  // find the same through Prisma, compiling its statements on the server's thread.)
  if (items.length === 0) return { op, processed: 0, event: null };
  const commands: CreatePromptCommand[] = [];
  for (const item of items) {
    const command = batchableCommand(item);
    if (!command) break;
    commands.push(command);
  }
  if (commands.length === 0) return null;
  const now = new Date();
  const planned = planBatch(commands, op.runBy ?? op.createdBy, now, limits);
  const results = settleNames(planned, prompts.takenNames(session, namesOf(planned)));
  const valid = results.flatMap((r) => ("error" in r ? [] : [r]));
  prompts.insert(session, valid);
  for (const { prompt } of valid) {
    events.publish("prompt.events", {
      type: "CREATED",
      promptId: prompt.id,
      promptName: prompt.name,
      versionNumber: 1,
      occurredAt: now.toISOString(),
      label: null,
      fromVersion: null,
      actor: op.runBy ?? op.createdBy,
    });
  }
  const outcomes = results.map((r, i) => outcomeOf(items[i]!.index, "error" in r ? { error: r.error } : { prompt: r.prompt }));
  const after = bulk.recordOutcomes(session, op, outcomes);
  const event = request.progress ? bulk.appendEvent(session, after) : null;
  return { op: after, processed: outcomes.length, event };
}

/** The item as a batch command, or null when it needs the one-by-one path. */
export function batchableCommand(item: BulkItemRecord): CreatePromptCommand | null {
  const input = item.input as Record<string, unknown> | null;
  if (input === null || typeof input !== "object" || typeof input.name !== "string") return null;
  try {
    const command = toCreateCommand(input);
    return batchable(command) ? command : null;
  } catch {
    return null; // malformed: the one-by-one path reports it as that item's failure
  }
}

export function outcomeOf(index: number, result: CreateManyResult, dryRun = false): ItemOutcome {
  return "error" in result
    ? { index, status: "FAILED", errorCode: result.error.code, errorMessage: result.error.message, result: null }
    : { index, status: "SUCCEEDED", errorCode: null, errorMessage: null, result: { promptId: result.prompt.id, name: result.prompt.name, version: 1, ...(dryRun ? { dryRun: true } : {}) } };
}
