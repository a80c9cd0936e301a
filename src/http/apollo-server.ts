// The Apollo Server of an app: the schema, the same validation rules as graphql-ws, the
// operation gate, metrics, and error masking with the request id.
import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from "@apollo/server/plugin/disabled";
import type { GraphQLSchema, ValidationRule } from "graphql";
import type { AuthConfig } from "../config.js";
import type { AppContext } from "../context.js";
import { formatError, isUnexpected } from "../errors.js";
import type { Logger } from "../logger.js";
import { operationGatePlugin, type OperationGate } from "./access-plugin.js";
import type { Metrics } from "./metrics.js";

export async function startApolloServer(options: {
  schema: GraphQLSchema;
  rules: ValidationRule[];
  auth: AuthConfig;
  gate: OperationGate;
  metrics: Metrics;
  logger: Logger;
}): Promise<ApolloServer<AppContext>> {
  const { auth, logger } = options;
  const apollo = new ApolloServer<AppContext>({
    schema: options.schema,
    formatError,
    csrfPrevention: true,
    validationRules: options.rules,
    // Introspection is decided per caller by the gate (keys always, anonymous as configured).
    introspection: true,
    // Without introspection for anonymous callers, "did you mean" hints would leak the schema.
    hideSchemaDetailsFromClientErrors: !auth.anonymousIntrospection && !auth.openLocalMode,
    allowBatchedHttpRequests: true,
    includeStacktraceInErrorResponses: false,
    // The app stops Apollo in its own graceful shutdown (main.ts). Apollo's handlers, on by default
    // except when NODE_ENV is "test", stop it and raise the signal again, which main.ts took for a
    // second signal: one SIGTERM to a server started by `npm start` exited at once with code 1,
    // cutting in-flight requests and losing what waits in memory for its next write.
    stopOnTerminationSignals: false,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      ApolloServerPluginCacheControlDisabled(),
      // Federation tracing, for subgraphs only (this is none): saying so spares every start
      // loading it and its protobuf code (about 20 ms).
      ApolloServerPluginInlineTraceDisabled(),
      options.metrics.plugin(),
      operationGatePlugin(options.gate),
      unexpectedErrors(logger),
    ],
  });
  await apollo.start();
  return apollo;
}

/** Logs unexpected errors with the request id, and puts that id into the masked error the client gets. */
function unexpectedErrors(logger: Logger): ApolloServerPlugin<AppContext> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue }) {
          for (const error of errors) {
            if (isUnexpected(error)) {
              logger.error({ err: error.originalError ?? error, requestId: contextValue.requestId, path: error.path }, "unexpected error");
            }
          }
        },
        async willSendResponse({ response, contextValue }) {
          // Masked errors carry the request id so a user's report can be found in the logs.
          if (response.body.kind !== "single") return;
          for (const error of response.body.singleResult.errors ?? []) {
            if (error.extensions?.code === "INTERNAL_SERVER_ERROR") {
              (error.extensions as Record<string, unknown>).requestId = contextValue.requestId;
            }
          }
        },
      };
    },
  };
}
