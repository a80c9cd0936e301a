import { GraphQLDateTimeISO } from "graphql-scalars";
import { GraphQLJSON, GraphQLJSONObject } from "../json-scalars.js";
import { Field, Float, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import type { BulkKind } from "../../domain/bulk/bulk.repository.js";
import type { BulkOperationStatus } from "../../subscriptions/topics.js";
import { ConflictModeValues } from "../prompts/import.resolver.js";
import { PromptFilter } from "../prompts/prompt.inputs.js";
import { ConnectionType } from "../shared/connection.js";

export const BulkKindValues: { [K in BulkKind]: K } = {
  CREATE_PROMPTS: "CREATE_PROMPTS",
  UPDATE_PROMPTS: "UPDATE_PROMPTS",
  DELETE_PROMPTS: "DELETE_PROMPTS",
  ARCHIVE_PROMPTS: "ARCHIVE_PROMPTS",
  ADD_TAGS: "ADD_TAGS",
  REMOVE_TAGS: "REMOVE_TAGS",
  SET_LABEL: "SET_LABEL",
  IMPORT: "IMPORT",
};
registerEnumType(BulkKindValues, {
  name: "BulkOperationKind",
  description: "What a bulk operation does to each item.",
  valuesConfig: {
    CREATE_PROMPTS: { description: "Each item is a CreatePromptInput object." },
    UPDATE_PROMPTS: { description: "Each item is {prompt: {id | name}, ...UpdatePromptInput fields}." },
    DELETE_PROMPTS: { description: "Each item is {prompt: {id | name}}, or select with filter." },
    ARCHIVE_PROMPTS: { description: "Each item is {prompt: {id | name}}, or select with filter." },
    ADD_TAGS: { description: "Adds `tags` to each selected prompt." },
    REMOVE_TAGS: { description: "Removes `tags` from each selected prompt." },
    SET_LABEL: { description: "Points `label` at `version` (default: latest; an item may give its own version)." },
    IMPORT: { description: "Imports each prompt of `document` (an export document), with `onConflict`." },
  },
});

export const BulkStatusValues: { [K in BulkOperationStatus]: K } = {
  QUEUED: "QUEUED",
  RUNNING: "RUNNING",
  COMPLETED: "COMPLETED",
  FAILED: "FAILED",
  CANCELLED: "CANCELLED",
};
registerEnumType(BulkStatusValues, {
  name: "BulkOperationStatus",
  description: "Where a bulk operation is.",
  valuesConfig: {
    QUEUED: { description: "Stored, waiting for the runner." },
    RUNNING: { description: "Being worked on, a chunk at a time." },
    COMPLETED: { description: "Every item was processed (some may have failed: see counts)." },
    FAILED: { description: "Stopped early: stopOnError met a failed item, or the operation crashed." },
    CANCELLED: { description: "Stopped by cancelBulkOperation; items done before stay done." },
  },
});

export const ItemStatusValues = { PENDING: "PENDING", SUCCEEDED: "SUCCEEDED", FAILED: "FAILED", SKIPPED: "SKIPPED" } as const;
registerEnumType(ItemStatusValues, {
  name: "BulkItemStatus",
  description: "What happened to one item.",
  valuesConfig: {
    PENDING: { description: "Not run yet." },
    SUCCEEDED: { description: "Applied (or, in a dry run, would be)." },
    FAILED: { description: "Not applied; see errorCode and errorMessage." },
    SKIPPED: { description: "Nothing to do (already so), or not run because the operation stopped." },
  },
});

@ObjectType("BulkOperationItem", { description: "One item of a bulk operation and its outcome." })
export class BulkOperationItem {
  @Field(() => Int, { description: "Position in the operation, from 0." })
  index!: number;

  @Field(() => GraphQLJSON, { description: "The item as given (or selected)." })
  input!: unknown;

  @Field(() => ItemStatusValues, { description: "What happened." })
  status!: string;

  @Field(() => String, { nullable: true, description: "Stable error code when it failed (as in extensions.code)." })
  errorCode!: string | null;

  @Field(() => String, { nullable: true, description: "Why it failed or was skipped." })
  errorMessage!: string | null;

  @Field(() => GraphQLJSON, { nullable: true, description: "What it produced (prompt id, version...)." })
  result!: unknown;

  @Field(() => Int, { description: "How many times it was run (retries add one)." })
  attempt!: number;
}

@ObjectType("BulkOperationItemConnection", { description: "A page of bulk operation items." })
export class BulkOperationItemConnection extends ConnectionType("BulkOperationItem", BulkOperationItem) {}

// Registered only so the two types below inherit its fields; nothing refers to it, so the schema omits it.
@ObjectType("BulkCountsBase")
abstract class BulkCounts {
  @Field(() => Int, { description: "Items in the operation." })
  total!: number;

  @Field(() => Int, { description: "Items with an outcome." })
  processed!: number;

  @Field(() => Int, { description: "Items that succeeded." })
  succeeded!: number;

  @Field(() => Int, { description: "Items that failed." })
  failed!: number;

  @Field(() => Int, { description: "Items skipped." })
  skipped!: number;
}

@ObjectType("BulkOperation", { description: "A background job over many prompts." })
export class BulkOperation extends BulkCounts {
  @Field(() => ID, { description: "Stable identifier." })
  id!: string;

  @Field(() => BulkKindValues, { description: "What it does." })
  kind!: string;

  @Field(() => BulkStatusValues, { description: "Where it is." })
  status!: string;

  @Field({ description: "True when nothing is written: outcomes say what would happen." })
  dryRun!: boolean;

  @Field({ description: "Whether the first failed item stops the operation." })
  stopOnError!: boolean;

  @Field(() => String, { nullable: true, description: "The key that makes a retried start return this operation." })
  idempotencyKey!: string | null;

  @Field(() => GraphQLJSONObject, { description: "The kind's parameters (tags, label, onConflict...)." })
  params!: Record<string, unknown>;

  @Field(() => Int, { description: "1 for the first run; retryBulkOperation adds one." })
  attempt!: number;

  @Field(() => String, { nullable: true, description: "Why the operation as a whole stopped, if it did." })
  error!: string | null;

  @Field(() => String, { nullable: true, description: "Who started it, when known." })
  createdBy!: string | null;

  @Field(() => Int, { description: "Sequence number of its latest progress event." })
  lastSequence!: number;

  @Field(() => GraphQLDateTimeISO, { description: "When it was started." })
  createdAt!: Date;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When the runner first picked it up." })
  startedAt!: Date | null;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When its latest run ended." })
  finishedAt!: Date | null;
}

@ObjectType("BulkOperationConnection", { description: "A page of bulk operations, newest first." })
export class BulkOperationConnection extends ConnectionType("BulkOperation", BulkOperation) {}

@ObjectType("BulkOperationProgress", { description: "A progress snapshot of a bulk operation." })
export class BulkOperationProgress extends BulkCounts {
  @Field(() => ID, { description: "The operation." })
  operationId!: string;

  @Field(() => Int, { description: "1, 2, 3... per operation: pass the last one seen as afterSequence to resume." })
  sequence!: number;

  @Field(() => BulkStatusValues, { description: "Status at that moment." })
  status!: string;

  @Field(() => Float, { description: "processed / total, 0 to 100." })
  percent!: number;

  @Field({ description: "True for the last event of a run; the stream ends after it." })
  final!: boolean;

  @Field(() => GraphQLDateTimeISO, { description: "When the snapshot was taken." })
  occurredAt!: Date;
}

@InputType("StartBulkOperationInput", { description: "A bulk operation to start." })
export class StartBulkOperationInput {
  @Field(() => BulkKindValues, { description: "What to do to each item." })
  kind!: BulkKind;

  @Field(() => [GraphQLJSONObject], { nullable: true, description: "The items, inline (see the kind for their shape)." })
  items?: Record<string, unknown>[] | null;

  @Field(() => PromptFilter, { nullable: true, description: "Select the prompts to act on instead of listing them (DELETE, ARCHIVE, tags, SET_LABEL)." })
  filter?: PromptFilter | null;

  @Field(() => [String], { nullable: true, description: "ADD_TAGS / REMOVE_TAGS: the tags." })
  tags?: string[] | null;

  @Field(() => String, { nullable: true, description: "SET_LABEL: the label." })
  label?: string | null;

  @Field(() => Int, { nullable: true, description: "SET_LABEL: the version (default: each prompt's latest)." })
  version?: number | null;

  @Field(() => String, { nullable: true, description: "SET_LABEL: the reason recorded in label history." })
  reason?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "IMPORT: an export document; each of its prompts is an item." })
  document?: Record<string, unknown> | null;

  @Field(() => ConflictModeValues, { nullable: true, description: "IMPORT: SKIP (default), NEW_VERSION or FAIL (the item fails when the prompt exists)." })
  onConflict?: "SKIP" | "NEW_VERSION" | "FAIL" | null;

  @Field({ defaultValue: false, description: "Work out every item's outcome without writing anything." })
  dryRun!: boolean;

  @Field({ defaultValue: false, description: "Stop at the first failed item (the rest are SKIPPED)." })
  stopOnError!: boolean;

  @Field(() => String, { nullable: true, description: "Starting again with the same key returns the same operation." })
  idempotencyKey?: string | null;
}
