import { GraphQLDateTimeISO } from "graphql-scalars";
import { GraphQLJSONObject } from "../json-scalars.js";
import { Arg, Ctx, Field, ID, Int, Mutation, ObjectType, Query, Resolver, Root, Subscription } from "type-graphql";
import type { AppContext } from "../../context.js";
import { NotificationService } from "../../domain/notifications/notification.service.js";
import type { EventBus } from "../../subscriptions/pubsub.js";
import type { NotificationPayload } from "../../subscriptions/topics.js";
import { ConnectionType, toConnection } from "../shared/connection.js";

@ObjectType("Notification", { description: "Something a user should know about, e.g. a bulk operation that finished." })
export class Notification {
  @Field(() => ID, { description: "Stable identifier." })
  id!: string;

  @Field({ description: "What kind of news, e.g. BULK_OPERATION_COMPLETED." })
  kind!: string;

  @Field({ description: "One line to show." })
  title!: string;

  @Field(() => String, { nullable: true, description: "More detail." })
  body!: string | null;

  @Field(() => GraphQLJSONObject, { description: "What it is about, e.g. {operationId}." })
  data!: Record<string, unknown>;

  @Field(() => GraphQLDateTimeISO, { description: "When it was created." })
  createdAt!: Date;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When it was marked read; null while unread." })
  readAt!: Date | null;
}

@ObjectType("NotificationConnection", { description: "A page of notifications, newest first." })
export class NotificationConnection extends ConnectionType("Notification", Notification) {}

@Resolver(() => Notification)
export class NotificationResolver {
  constructor(
    readonly service: NotificationService,
    readonly bus: EventBus,
  ) {}

  @Query(() => NotificationConnection, { description: "The caller's notifications (and those for everyone), newest first." })
  async notifications(
    @Ctx() ctx: AppContext,
    @Arg("unreadOnly", { defaultValue: false, description: "Only unread ones." }) unreadOnly: boolean,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 0 to 200 (default 20)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
  ) {
    const page = await this.service.list(ctx.actor, { unreadOnly, first, after });
    return toConnection(page, page.cursor, () => this.service.count(ctx.actor, unreadOnly));
  }

  @Mutation(() => Int, { description: "Marks notifications read (the given ids, or all); returns how many changed." })
  markNotificationsRead(
    @Ctx() ctx: AppContext,
    @Arg("ids", () => [ID], { nullable: true, description: "The notifications to mark." }) ids?: string[],
    @Arg("all", { defaultValue: false, description: "Mark every unread notification." }) all?: boolean,
  ) {
    return this.service.markRead(ctx.actor, ids ?? null, all ?? false);
  }

  @Subscription(() => Notification, {
    subscribe: ({ context }) => {
      const ctx = context as AppContext;
      const resolver = ctx.container.get(NotificationResolver);
      return resolver.bus.subscribe("notification.added", (n: NotificationPayload) => NotificationService.visibleTo(ctx.actor, n));
    },
    description: "New notifications for the caller as they are created.",
  })
  notificationAdded(@Root() n: NotificationPayload) {
    return { ...n, createdAt: new Date(n.createdAt), readAt: null };
  }
}
