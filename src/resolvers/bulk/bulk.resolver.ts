import { Arg, Ctx, FieldResolver, Float, ID, Int, Mutation, Query, Resolver, Root, Subscription } from "type-graphql";
import type { AppContext } from "../../context.js";
import type { BulkOperationRecord, ItemStatus } from "../../domain/bulk/bulk.repository.js";
import type { BulkService } from "../../domain/bulk/bulk.service.js";
import type { BulkOperationStatus, BulkProgressPayload } from "../../subscriptions/topics.js";
import { toConnection } from "../shared/connection.js";
import {
  BulkOperation,
  BulkOperationConnection,
  BulkOperationItemConnection,
  BulkOperationProgress,
  BulkStatusValues,
  ItemStatusValues,
  StartBulkOperationInput,
} from "./bulk.types.js";

const percent = (op: { processed: number; total: number }) => (op.total === 0 ? 100 : Math.round((op.processed / op.total) * 1000) / 10);

@Resolver(() => BulkOperation)
export class BulkOperationResolver {
  constructor(readonly bulk: BulkService) {}

  @Mutation(() => BulkOperation, { description: "Starts a bulk operation; returns at once (QUEUED) and runs in the background." })
  startBulkOperation(@Arg("input", () => StartBulkOperationInput, { description: "Kind, items or filter, options." }) input: StartBulkOperationInput, @Ctx() ctx: AppContext) {
    return this.bulk.start(input, ctx.viewer);
  }

  @Mutation(() => BulkOperation, { description: "Stops a queued or running operation at the next chunk; items done stay done." })
  cancelBulkOperation(@Arg("id", () => ID, { description: "The operation." }) id: string) {
    return this.bulk.cancel(id);
  }

  @Mutation(() => BulkOperation, { description: "Runs the failed items of a finished operation again, as a new attempt." })
  retryBulkOperation(@Arg("id", () => ID, { description: "The operation." }) id: string, @Ctx() ctx: AppContext) {
    return this.bulk.retry(id, ctx.viewer);
  }

  @Query(() => BulkOperation, { nullable: true, description: "One bulk operation; NOT_FOUND when there is none." })
  bulkOperation(@Arg("id", () => ID, { description: "The operation." }) id: string) {
    return this.bulk.get(id);
  }

  @Query(() => BulkOperationConnection, { description: "Bulk operations, newest first." })
  async bulkOperations(
    @Arg("status", () => BulkStatusValues, { nullable: true, description: "Only operations in this status." }) status?: BulkOperationStatus,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 0 to 200 (default 20)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
  ) {
    const page = await this.bulk.list(status ?? null, first, after);
    return toConnection(page, page.cursor, () => page.totalCount());
  }

  @FieldResolver(() => Float, { description: "processed / total, 0 to 100." })
  percent(@Root() op: BulkOperationRecord) {
    return percent(op);
  }

  @FieldResolver(() => Float, { nullable: true, description: "Items processed per second over the latest run so far; null before it starts." })
  itemsPerSecond(@Root() op: BulkOperationRecord) {
    return rate(op);
  }

  @FieldResolver(() => Int, { nullable: true, description: "Estimated seconds to finish at the current rate; null when unknown or finished." })
  etaSeconds(@Root() op: BulkOperationRecord) {
    const perSecond = rate(op);
    if (op.status !== "RUNNING" || !perSecond) return null;
    return Math.ceil((op.total - op.processed) / perSecond);
  }

  @FieldResolver(() => BulkOperationItemConnection, { description: "The items and their outcomes, in order." })
  async items(
    @Root() op: BulkOperationRecord,
    @Arg("status", () => ItemStatusValues, { nullable: true, description: "Only items with this outcome." }) status?: ItemStatus,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 0 to 200 (default 20)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
  ) {
    const page = await this.bulk.items(op.id, status ?? null, first, after);
    return toConnection(page, page.cursor, () => page.totalCount());
  }

  @Subscription(() => BulkOperationProgress, {
    subscribe: ({ args, context }) =>
      (context as AppContext).container.get(BulkOperationResolver).bulk.progress(args.id as string, args.afterSequence as number | null),
    description:
      "Progress of one operation: throttled snapshots while it runs (at chunk boundaries, a few a second at most), then a final one. " +
      "With afterSequence, first replays what came after it from the database, with no gap and no duplicate.",
  })
  bulkOperationProgress(
    @Root() event: BulkProgressPayload,
    @Arg("id", () => ID, { description: "The operation." }) _id: string,
    @Arg("afterSequence", () => Int, { nullable: true, description: "The last sequence number this client saw." }) _after?: number,
  ) {
    return { ...event, percent: percent(event), occurredAt: new Date(event.occurredAt) };
  }
}

function rate(op: BulkOperationRecord): number | null {
  if (!op.startedAt || op.processed === 0) return null;
  const end = op.finishedAt ?? new Date();
  const seconds = (end.getTime() - op.startedAt.getTime()) / 1000;
  return seconds > 0 ? Math.round((op.processed / seconds) * 10) / 10 : null;
}
