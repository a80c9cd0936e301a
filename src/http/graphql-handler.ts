import type { IncomingMessage, ServerResponse } from "node:http";
import { HeaderMap, type ApolloServer } from "@apollo/server";
import type { Authentication } from "../auth/authenticator.js";
import { ANONYMOUS, type Principal } from "../auth/principal.js";
import type { AppContext } from "../context.js";
import type { TurnBudget } from "./turn-budget.js";

/** A request may go ahead, or must wait `retryAfterMs`. */
export type Admission = { allowed: true } | { allowed: false; retryAfterMs: number };

export class BodyTooLargeError extends Error {}

/** Above this, the event loop gets a turn between parsing a body and executing it. */
const LARGE_BODY_CHARS = 256 * 1024;

/**
 * Reads a request body, refusing more than `limit` bytes without buffering the excess (the rest
 * is left unread: the caller answers 413 and closes). With listeners rather than `for await`:
 * the async iterator cost a few percent of a small request's time (its promises and stream
 * bookkeeping showed in the S1 and S2 profiles).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(new BodyTooLargeError());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (error?: Error) => {
      req.off("data", onData).off("end", onEnd).off("error", settle).off("close", onClose);
      if (error) reject(error);
      else resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks, size).toString("utf8"));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.pause();
      settle(new BodyTooLargeError());
    };
    const onEnd = () => settle();
    // The client went away before the end of its body.
    const onClose = () => settle(new Error("request body ended early: the connection closed"));
    req.on("data", onData).on("end", onEnd).on("error", settle).on("close", onClose);
  });
}

export function sendJsonError(
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  details: Record<string, unknown> = {},
) {
  const body = JSON.stringify({ errors: [{ message, extensions: { code, ...details } }] });
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers }).end(body);
}

/** 429 with Retry-After, in the GraphQL error shape. */
export function refuseRateLimited(res: ServerResponse, requestId: string, retryAfterMs: number, who: string, rejected?: (code: string) => void) {
  rejected?.("RATE_LIMITED");
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return sendJsonError(
    res,
    429,
    "RATE_LIMITED",
    `too many requests for this ${who}; retry in ${seconds} s`,
    { "retry-after": String(seconds), "x-request-id": requestId },
    { retryAfterMs },
  );
}

/** GraphQL over HTTP (GET and POST) through Apollo Server, on plain node:http. */
export function createGraphQLHandler(
  apollo: ApolloServer<AppContext>,
  options: {
    maxBodyBytes: number;
    maxBatchOperations: number;
    available: () => boolean;
    authenticate: (req: IncomingMessage) => Promise<Authentication>;
    /** Takes `cost` requests from the caller's rate limit. */
    admit: (principal: Principal, req: IncomingMessage, cost: number) => Promise<Admission>;
    context: (requestId: string, principal: Principal) => AppContext;
    /** Counts a request refused before GraphQL ran, by code (for /metrics). */
    rejected?: (code: string) => void;
    /** Bounds the time one turn of the event loop spends executing requests. */
    turns?: TurnBudget;
  },
) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL, requestId: string) => {
    if (!options.available()) {
      return sendJsonError(res, 503, "SERVICE_UNAVAILABLE", "the database is not migrated yet; see /ready", {
        "retry-after": "5",
        "x-request-id": requestId,
      });
    }
    const authentication = await options.authenticate(req);
    if (!authentication.ok) {
      // Guessing keys costs the guesser's address its anonymous budget.
      const admission = await options.admit(ANONYMOUS, req, 1);
      if (!admission.allowed) return refuseRateLimited(res, requestId, admission.retryAfterMs, "client", options.rejected);
      options.rejected?.("UNAUTHENTICATED");
      // Before the body is read: a caller with a bad key gets nothing else from us.
      return sendJsonError(res, 401, "UNAUTHENTICATED", authentication.message, {
        "www-authenticate": 'Bearer realm="prompt-store", error="invalid_token"',
        "x-request-id": requestId,
        ...(req.method === "POST" && { connection: "close" }),
      });
    }
    const principal = authentication.principal;
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(", ") : value);
    }
    let body: unknown = undefined;
    if (req.method === "POST") {
      let text: string;
      try {
        text = await readBody(req, options.maxBodyBytes);
      } catch (error) {
        if (error instanceof BodyTooLargeError) {
          // The rest of the body is not read; closing the connection is the only clean way out.
          return sendJsonError(
            res,
            413,
            "BAD_USER_INPUT",
            `request body exceeds ${options.maxBodyBytes} bytes (PROMPT_STORE_MAX_BODY_BYTES)`,
            { connection: "close" },
            { field: "body", limit: options.maxBodyBytes },
          );
        }
        throw error;
      }
      const contentType = headers.get("content-type") ?? "";
      if (/^application\/(graphql-response\+)?json\b/i.test(contentType) || /\bjson\b/i.test(contentType)) {
        try {
          body = text.length === 0 ? undefined : JSON.parse(text);
        } catch {
          return sendJsonError(res, 400, "BAD_REQUEST", "request body is not valid JSON");
        }
        // A large body (a bulk job's items) costs milliseconds to parse and as much again to
        // coerce: the requests that arrived meanwhile go first, between the two.
        if (text.length > LARGE_BODY_CHARS) await new Promise((resolve) => setImmediate(resolve));
      } else {
        body = text;
      }
    }
    const wait = options.turns?.enter();
    if (wait) await wait;
    const operations = Array.isArray(body) ? body.length : 1;
    if (operations > options.maxBatchOperations) {
      options.rejected?.("QUERY_LIMIT_EXCEEDED");
      return sendJsonError(
        res,
        400,
        "QUERY_LIMIT_EXCEEDED",
        `a batch may hold at most ${options.maxBatchOperations} operations (got ${operations}; PROMPT_STORE_MAX_BATCH_OPERATIONS)`,
        { "x-request-id": requestId },
        { limit: "batchOperations", max: options.maxBatchOperations, actual: operations },
      );
    }
    const admission = await options.admit(principal, req, Math.max(operations, 1));
    if (!admission.allowed) return refuseRateLimited(res, requestId, admission.retryAfterMs, principal.keyId ? "API key" : "client", options.rejected);
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? "GET", headers, search: url.search, body },
      context: async () => options.context(requestId, principal),
    });
    const outHeaders: Record<string, string> = { "x-request-id": requestId };
    for (const [key, value] of response.headers) outHeaders[key] = value;
    if (response.body.kind === "complete") {
      // With its length known the answer goes out in one write, not as a chunked stream.
      outHeaders["content-length"] = String(Buffer.byteLength(response.body.string));
      res.writeHead(response.status ?? 200, outHeaders).end(response.body.string);
      return;
    }
    res.writeHead(response.status ?? 200, outHeaders);
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}
