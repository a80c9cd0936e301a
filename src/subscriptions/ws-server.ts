import type { IncomingMessage, Server } from "node:http";
import { CloseCode, MessageType } from "graphql-ws";
import {
  GraphQLError,
  getOperationAST,
  getVariableValues,
  parse,
  validate,
  specifiedRules,
  type GraphQLSchema,
  type DocumentNode,
  type ValidationRule,
} from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import type { Authentication } from "../auth/authenticator.js";
import { ANONYMOUS, type Principal } from "../auth/principal.js";
import { detached } from "../auth/scope.js";
import type { AppContext } from "../context.js";
import { formatError, isUnexpected } from "../errors.js";
import type { Admission } from "../http/graphql-handler.js";
import type { OperationGate } from "../http/access-plugin.js";
import type { Logger } from "../logger.js";
import type { DirectSink } from "./direct-delivery.js";
import { sharedSubscribe } from "./shared-execution.js";

export interface WsServerOptions {
  httpServer: Server;
  path: string;
  schema: GraphQLSchema;
  logger: Logger;
  /** Validation rules beyond GraphQL's own: the same ones Apollo applies over HTTP. */
  rules: ValidationRule[];
  /** Largest WebSocket message, as the HTTP body limit. */
  maxPayloadBytes: number;
  /** How long a socket may stay without connection_init (then 4408). */
  connectionInitWaitTimeoutMs: number;
  /** connection_init's payload (and the upgrade request) -> who the socket acts as; one without a role is refused (4401). */
  authenticate: (connectionParams: Readonly<Record<string, unknown>> | undefined, request: IncomingMessage) => Promise<Authentication>;
  /** The same role check and limits as HTTP, per subscribe. */
  gate: OperationGate;
  /** The same rate limit as HTTP: each subscribe takes one request. */
  admit: (principal: Principal, address: string | undefined, cost: number) => Promise<Admission>;
  /** Subscriptions live long: their loaders must not cache. */
  context: (requestId: string, principal: Principal) => AppContext;
}

/**
 * graphql-ws on the HTTP server's port and path. Operations are parsed and validated here
 * (onSubscribe), so a bad document fails that one operation instead of closing the socket,
 * and errors are masked exactly as over HTTP.
 */
export function startWsServer(options: WsServerOptions) {
  const wss = new WebSocketServer({ server: options.httpServer, path: options.path, maxPayload: options.maxPayloadBytes });
  const sends = new SendBatch();
  // Registered before graphql-ws's own listener, so it sees each socket first.
  wss.on("connection", (socket) => {
    sends.wrap(socket);
    answerMalformedSubscribes(socket);
    quietClientFrameErrors(socket, options.logger);
  });

  const formatAll = (errors: readonly GraphQLError[], requestId: string) =>
    errors.map((error) => {
      if (isUnexpected(error)) options.logger.error({ err: error.originalError ?? error, requestId }, "unexpected error in subscription");
      const formatted = formatError(error.toJSON(), error);
      return formatted.extensions?.code === "INTERNAL_SERVER_ERROR"
        ? { ...formatted, extensions: { ...formatted.extensions, requestId } }
        : formatted;
    });

  // Who each socket acts as, from its connection_init; by key, so a revoked key's sockets can be closed.
  const principals = new WeakMap<WebSocket, Principal>();
  const byKey = new Map<string, Set<WebSocket>>();
  // Keys revoked lately: a connection_init verified just before a revocation must not slip in after it.
  const revoked = new Set<string>();
  const forbid = (socket: WebSocket, reason: string) => socket.close(CloseCode.Forbidden, truncateReason(reason));
  // Each operation's socket and id, by its context, for results written without graphql-ws's chain.
  const sinks = new WeakMap<object, DirectSink>();

  const disposable = useServer<Record<string, unknown>>(
    {
      schema: options.schema,
      // One execution per event for all subscriptions alike (same document, variables, principal).
      subscribe: sharedSubscribe(principalKey, (contextValue) => (isPlainObject(contextValue) ? sinks.get(contextValue) : undefined)),
      connectionInitWaitTimeout: options.connectionInitWaitTimeoutMs,
      onConnect: async (ctx) => {
        const socket = ctx.extra.socket;
        const authentication = await options.authenticate(ctx.connectionParams, ctx.extra.request);
        if (!authentication.ok) {
          // As over HTTP, guessing keys costs the guesser's address its anonymous budget.
          await options.admit(ANONYMOUS, ctx.extra.request.socket.remoteAddress, 1);
          forbid(socket, authentication.message);
          return false;
        }
        const principal = authentication.principal;
        if (!principal.role) {
          socket.close(CloseCode.Unauthorized, "an API key is required: connection_init payload { apiKey } or { authorization: \"Bearer <key>\" }");
          return false;
        }
        if (principal.keyId && revoked.has(principal.keyId)) {
          forbid(socket, "API key revoked");
          return false;
        }
        principals.set(socket, principal);
        if (principal.keyId) {
          const sockets = byKey.get(principal.keyId) ?? new Set<WebSocket>();
          sockets.add(socket);
          byKey.set(principal.keyId, sockets);
          socket.once("close", () => {
            sockets.delete(socket);
            if (sockets.size === 0 && byKey.get(principal.keyId!) === sockets) byKey.delete(principal.keyId!);
          });
        }
        if (principal.expiresAt) closeAtExpiry(socket, principal.expiresAt);
        return true;
      },
      onSubscribe: async (ctx, id, payload) => {
        const socket = ctx.extra.socket;
        // graphql-ws only calls onSubscribe after a successful connection_init.
        if (!principals.has(socket)) return [new GraphQLError("not authenticated", { extensions: { code: "UNAUTHENTICATED" } })];
        // The key is checked again for each operation (a lookup in memory, mostly): a socket lives
        // long, and a revocation event from another instance may have been missed.
        const again = await options.authenticate(ctx.connectionParams, ctx.extra.request);
        if (!again.ok) {
          forbid(socket, again.message);
          return [new GraphQLError(again.message, { extensions: { code: "UNAUTHENTICATED" } })];
        }
        const principal = again.principal;
        let document: DocumentNode;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [withCode(error instanceof GraphQLError ? error : new GraphQLError(String(error)), "GRAPHQL_PARSE_FAILED")];
        }
        const errors = validate(options.schema, document, [...specifiedRules, ...options.rules]);
        if (errors.length > 0) return errors.map((error) => withCode(error, "GRAPHQL_VALIDATION_FAILED"));
        // graphql-ws would pick the operation and coerce variables after this hook, and GraphQL's
        // errors from there carry no code (they would be masked as internal): do both here.
        const operation = getOperationAST(document, payload.operationName ?? undefined);
        if (!operation) {
          const message = payload.operationName
            ? `Unknown operation named "${payload.operationName}".`
            : "Must provide operation name if query contains multiple operations.";
          return [new GraphQLError(message, { extensions: { code: "OPERATION_RESOLUTION_FAILURE" } })];
        }
        const coerced = getVariableValues(options.schema, operation.variableDefinitions ?? [], payload.variables ?? {});
        if (coerced.errors) return coerced.errors.map((error) => withCode(error, "BAD_USER_INPUT"));
        const requestId = `ws-${id}-${Math.random().toString(36).slice(2, 10)}`;
        const admission = await options.admit(principal, ctx.extra.request.socket.remoteAddress, 1);
        if (!admission.allowed) {
          return [
            new GraphQLError(`too many requests for this ${principal.keyId ? "API key" : "client"}; retry in ${Math.ceil(admission.retryAfterMs / 1000)} s`, {
              extensions: { code: "RATE_LIMITED", retryAfterMs: admission.retryAfterMs },
            }),
          ];
        }
        const variables = isPlainObject(payload.variables) ? payload.variables : null;
        const refused = await options.gate.check({ document, operationName: payload.operationName, variables, principal, requestId });
        if (refused.length > 0) return refused;
        const contextValue = options.context(requestId, principal);
        sinks.set(contextValue, {
          id,
          send: (frame) => socket.send(frame),
          backlog: () => socket.bufferedAmount,
          // As onNext below.
          withErrors: (result) => ({ ...result, errors: formatAll(result.errors ?? [], requestId) }),
        });
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
    /** Closes every socket that authenticated with this key (it was revoked). */
    closeKey(keyId: string) {
      revoked.add(keyId);
      if (revoked.size > 10_000) revoked.delete(revoked.values().next().value!);
      for (const socket of byKey.get(keyId) ?? []) forbid(socket, "API key revoked");
      byKey.delete(keyId);
    },
    /** Closes every socket with 1001 (going away) and stops accepting new ones. */
    async close() {
      for (const client of wss.clients) client.close(1001, "Server shutting down");
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

/** Closes a socket when its key expires (timers re-armed past setTimeout's ~24.8-day limit). */
function closeAtExpiry(socket: WebSocket, expiresAt: Date): void {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = expiresAt.getTime() - Date.now();
    if (left <= 0) return socket.close(CloseCode.Forbidden, "API key expired");
    timer = setTimeout(arm, Math.min(left, 2 ** 31 - 1));
    timer.unref();
  };
  arm();
  socket.once("close", () => clearTimeout(timer));
}

/** Who a subscription's context acts as, as far as a field resolver can tell the difference. */
function principalKey(contextValue: unknown): string | undefined {
  const viewer = (contextValue as Partial<AppContext> | undefined)?.viewer;
  return viewer ? JSON.stringify([viewer.kind, viewer.name, viewer.role, viewer.keyId]) : undefined;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

type SendArgs = [data: unknown, optionsOrCallback?: unknown, callback?: (error?: Error) => void];

/**
 * Sends made while an event fans out are written together, at the end of the current turn of
 * the event loop, instead of one by one as each subscriber's copy is ready. graphql-ws sends a
 * subscriber's copy at the end of its own chain of promises, so without this the server's writes
 * to 1,000 sockets were spread over the whole fan-out: each write then found the reader asleep
 * and paid for waking it. Measured with `npm run bench -- subscriptions`, two runs each, back to
 * back: 28 µs of the server's CPU per delivered message with this, 32-41 µs without. Order per
 * socket is kept, and a close waits for the sends queued before it; a socket closed meanwhile gets
 * nothing, as graphql-ws does for a closed socket.
 */
export class SendBatch {
  private queue: ({ socket: WebSocket; send: (...args: SendArgs) => void; args: SendArgs } | { socket: WebSocket; close: () => void })[] = [];
  /** Sockets with sends in the queue: a close of one of these waits for them, as before. */
  private readonly waiting = new Set<WebSocket>();
  private scheduled = false;

  wrap(socket: WebSocket): void {
    const send = socket.send.bind(socket) as (...args: SendArgs) => void;
    const close = socket.close.bind(socket);
    socket.send = ((...args: SendArgs) => {
      this.queue.push({ socket, send, args });
      this.waiting.add(socket);
      this.schedule();
    }) as typeof socket.send;
    // A close right after a send (an error, then the close) must not overtake it.
    socket.close = ((code?: number, reason?: string | Buffer) => {
      if (!this.waiting.has(socket)) return close(code, reason);
      this.queue.push({ socket, close: () => close(code, reason) });
    }) as typeof socket.close;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // The flush belongs to no request: not to the one whose event happened to send first.
    detached(() => setImmediate(() => this.flush()));
  }

  private flush(): void {
    this.scheduled = false;
    const queue = this.queue;
    this.queue = [];
    this.waiting.clear();
    for (const entry of queue) {
      if ("close" in entry) {
        try {
          entry.close();
        } catch {
          // Only a code ws refuses throws here, no longer to the caller: the socket still goes.
          entry.socket.terminate();
        }
        continue;
      }
      const { socket, send, args } = entry;
      const callback = typeof args[1] === "function" ? (args[1] as (error?: Error) => void) : args[2];
      if (socket.readyState !== socket.OPEN) {
        callback?.();
        continue;
      }
      try {
        send(...args);
      } catch (error) {
        // ws throws only for a socket still connecting, which these never are: never let one
        // socket's failure keep the queue's other sends from going out.
        callback?.(error as Error);
      }
    }
  }
}

/** A close reason must fit in 123 bytes of UTF-8. */
function truncateReason(reason: string): string {
  return Buffer.byteLength(reason) <= 123 ? reason : `${Buffer.from(reason).subarray(0, 120).toString("utf8").replace(/\uFFFD$/, "")}...`;
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

/**
 * graphql-ws closes the whole socket (4400) on a subscribe message whose payload is malformed.
 * A client bug in one operation should not cost every other operation on the socket: such a
 * message, when it names an operation id, gets an `error` for that id and goes no further.
 */
function answerMalformedSubscribes(socket: WebSocket): void {
  const on = socket.on.bind(socket);
  socket.on = ((event: string, listener: (...args: unknown[]) => void) => {
    if (event !== "message") return on(event as "message", listener);
    return on("message", (data: RawData, isBinary: boolean) => {
      // graphql-ws throws on these (it never expects them from a client) and closes with 4500.
      const type = serverOnlyType(data);
      if (type) return socket.close(CloseCode.BadRequest, `Unexpected message of type ${type} from a client`);
      const problem = malformedSubscribe(data);
      if (!problem) return listener(data, isBinary);
      socket.send(
        JSON.stringify({ type: "error", id: problem.id, payload: [{ message: problem.message, extensions: { code: "BAD_REQUEST" } }] }),
      );
    });
  }) as typeof socket.on;
}

const SERVER_ONLY: ReadonlySet<unknown> = new Set([MessageType.ConnectionAck, MessageType.Next, MessageType.Error]);

function serverOnlyType(data: RawData): string | null {
  try {
    const type = (JSON.parse(String(data)) as { type?: unknown } | null)?.type;
    return SERVER_ONLY.has(type) ? (type as string) : null;
  } catch {
    return null;
  }
}

/**
 * A frame the client got wrong (too big, not UTF-8, not masked...) makes ws emit "error" and close
 * with the matching code (1009, 1007, 1002). graphql-ws reports every socket error to stderr as an
 * internal error with a stack; these are the client's, so they go to the log at debug level.
 */
function quietClientFrameErrors(socket: WebSocket, logger: Logger): void {
  const on = socket.on.bind(socket);
  socket.on = ((event: string, listener: (...args: unknown[]) => void) => {
    if (event !== "error") return on(event as "error", listener);
    return on("error", (error: Error & { code?: unknown }) => {
      if (typeof error.code === "string" && error.code.startsWith("WS_ERR_")) {
        logger.debug({ code: error.code, message: error.message }, "websocket frame refused");
        return;
      }
      listener(error);
    });
  }) as typeof socket.on;
}

function malformedSubscribe(data: RawData): { id: string; message: string } | null {
  let message: unknown;
  try {
    message = JSON.parse(String(data));
  } catch {
    return null; // not JSON at all: a protocol error graphql-ws reports by closing
  }
  if (message === null || typeof message !== "object") return null;
  const { type, id, payload } = message as { type?: unknown; id?: unknown; payload?: unknown };
  if (type !== "subscribe" || typeof id !== "string" || id.length === 0) return null;
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) return { id, message: "subscribe payload must be an object" };
  const p = payload as Record<string, unknown>;
  if (typeof p.query !== "string") return { id, message: "subscribe payload.query must be a string" };
  const isObject = (v: unknown) => v === undefined || v === null || (typeof v === "object" && !Array.isArray(v));
  if (!isObject(p.variables)) return { id, message: "subscribe payload.variables must be an object or null" };
  if (!isObject(p.extensions)) return { id, message: "subscribe payload.extensions must be an object or null" };
  if (p.operationName !== undefined && p.operationName !== null && typeof p.operationName !== "string") {
    return { id, message: "subscribe payload.operationName must be a string or null" };
  }
  return null;
}
