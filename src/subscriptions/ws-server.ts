import type { Server } from "node:http";
import { GraphQLError, parse, validate, specifiedRules, type GraphQLSchema, type DocumentNode } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import type { AppContext } from "../context.js";
import { formatError, isUnexpected } from "../errors.js";
import type { Logger } from "../logger.js";

export interface WsServerOptions {
  httpServer: Server;
  path: string;
  schema: GraphQLSchema;
  logger: Logger;
  /** Subscriptions live long: their loaders must not cache. */
  context: (requestId: string, connectionParams: Readonly<Record<string, unknown>> | undefined) => AppContext;
}

/**
 * graphql-ws on the HTTP server's port and path. Operations are parsed and validated here
 * (onSubscribe), so a bad document fails that one operation instead of closing the socket,
 * and errors are masked exactly as over HTTP.
 */
export function startWsServer(options: WsServerOptions) {
  const wss = new WebSocketServer({ server: options.httpServer, path: options.path });

  const formatAll = (errors: readonly GraphQLError[], requestId: string) =>
    errors.map((error) => {
      if (isUnexpected(error)) options.logger.error({ err: error.originalError ?? error, requestId }, "unexpected error in subscription");
      const formatted = formatError(error.toJSON(), error);
      return formatted.extensions?.code === "INTERNAL_SERVER_ERROR"
        ? { ...formatted, extensions: { ...formatted.extensions, requestId } }
        : formatted;
    });

  const disposable = useServer<Record<string, unknown>>(
    {
      schema: options.schema,
      onSubscribe: (ctx, id, payload) => {
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [withCode(error instanceof GraphQLError ? error : new GraphQLError(String(error)), "GRAPHQL_PARSE_FAILED")];
        }
        const errors = validate(options.schema, document, specifiedRules);
        if (errors.length > 0) return errors.map((error) => withCode(error, "GRAPHQL_VALIDATION_FAILED"));
        const requestId = `ws-${id}-${Math.random().toString(36).slice(2, 10)}`;
        const contextValue = options.context(requestId, ctx.connectionParams);
        return {
          schema: options.schema,
          document,
          variableValues: payload.variables ?? undefined,
          operationName: payload.operationName ?? undefined,
          contextValue,
        };
      },
      onNext: (_ctx, id, _payload, args, result) => {
        if (!result.errors?.length) return;
        const requestId = (args.contextValue as AppContext | undefined)?.requestId ?? `ws-${id}`;
        return { ...result, errors: formatAll(result.errors, requestId) };
      },
      onError: (_ctx, id, _payload, errors) => formatAll(errors, `ws-${id}`),
    },
    wss,
  );

  return {
    wss,
    /** Closes every socket with 1001 (going away) and stops accepting new ones. */
    async close() {
      for (const client of wss.clients) client.close(1001, "Server shutting down");
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** The same codes Apollo gives these errors over HTTP. */
function withCode(error: GraphQLError, code: string): GraphQLError {
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    extensions: { ...error.extensions, code },
  });
}
