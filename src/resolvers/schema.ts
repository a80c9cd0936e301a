import "reflect-metadata";
import { assertValidSchema, type GraphQLSchema } from "graphql";
import { buildSchema } from "type-graphql";
import type { AppContext } from "../context.js";
import { PromptLabelResolver, PromptVersionLabelResolver } from "./prompts/label.resolver.js";
import { PromptEventsResolver } from "./prompts/prompt-events.resolver.js";
import { PromptRenderResolver } from "./prompts/render.resolver.js";
import { ImportResolver } from "./prompts/import.resolver.js";
import { DiffResolver } from "./prompts/diff.resolver.js";
import { BulkOperationResolver } from "./bulk/bulk.resolver.js";
import { NotificationResolver } from "./notifications/notification.resolver.js";
import { PromptRelationshipsResolver, RelationshipResolver } from "./relationships/relationship.resolver.js";
import { PromptMutationResolver } from "./prompts/prompt-mutation.resolver.js";
import { PromptVersionResolver } from "./prompts/prompt-version.resolver.js";
import { PromptResolver } from "./prompts/prompt.resolver.js";
import { SearchResolver } from "./search/search.resolver.js";
import { PromptVersionRefinementResolver, RefinementResolver } from "./refinement/refinement.resolver.js";
import { AbTestResolver } from "./ab-testing/ab-test.resolver.js";
import { AnalyticsResolver } from "./analytics/analytics.resolver.js";
import { AccessResolver } from "./access/access.resolver.js";

export const RESOLVERS = [
  PromptResolver,
  SearchResolver,
  PromptVersionResolver,
  PromptMutationResolver,
  PromptEventsResolver,
  PromptLabelResolver,
  PromptVersionLabelResolver,
  PromptRenderResolver,
  RelationshipResolver,
  PromptRelationshipsResolver,
  ImportResolver,
  DiffResolver,
  BulkOperationResolver,
  NotificationResolver,
  RefinementResolver,
  PromptVersionRefinementResolver,
  AbTestResolver,
  AnalyticsResolver,
  AccessResolver,
] as const;

let schema: Promise<GraphQLSchema> | undefined;

/**
 * Every root mutation runs with its audit entry pending and its caller known (src/audit).
 * Wrapped here rather than as a type-graphql global middleware, which would run on every
 * field of every query.
 */
function auditMutations(built: GraphQLSchema): GraphQLSchema {
  for (const field of Object.values(built.getMutationType()?.getFields() ?? {})) {
    const resolve = field.resolve;
    if (!resolve) continue;
    field.resolve = (source, args: Record<string, unknown>, context: AppContext, info) =>
      context.audit.record(context.viewer, info.fieldName, args, context.requestId, async () => resolve(source, args, context, info));
  }
  return built;
}

/**
 * The schema does not depend on an app's services (resolver instances come from the
 * request's context), so one process builds it once, however many apps it runs.
 */
export function getSchema(): Promise<GraphQLSchema> {
  schema ??= buildSchema({
    resolvers: [...RESOLVERS],
    container: ({ context }) => (context as AppContext).container,
    validate: false,
    // type-graphql checks the schema it built by running a full introspection query on it
    // (about 100 ms of every start); graphql's own validation, below, is what that query's
    // execution would have run and failed on.
    skipCheck: true,
    // type-graphql insists on a PubSub whenever a subscription exists, even though every
    // subscription here brings its own `subscribe` that reads the app's bus from the context.
    // This one fails loudly if a subscription without its own `subscribe` is ever added.
    pubSub: {
      publish() {
        throw new Error("use the app's EventBus: subscriptions must declare their own subscribe function");
      },
      subscribe() {
        throw new Error("use the app's EventBus: subscriptions must declare their own subscribe function");
      },
    },
  }).then((built) => {
    assertValidSchema(built);
    return auditMutations(built);
  });
  return schema;
}
