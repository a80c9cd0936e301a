import type { IncomingMessage, ServerResponse } from "node:http";
import { HeaderMap, type ApolloServer } from "@apollo/server";
import type { AppContext } from "../context.js";

export class BodyTooLargeError extends Error {}

/** Reads a request body, refusing more than `limit` bytes without buffering the excess. */
export async function readBody(req: IncomingMessage, limit: number): Promise<string> {
  const declared = Number(req.headers["content-length"]);
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
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

/** GraphQL over HTTP (GET and POST) through Apollo Server, on plain node:http. */
export function createGraphQLHandler(
  apollo: ApolloServer<AppContext>,
  options: { maxBodyBytes: number; context: (requestId: string, req: IncomingMessage) => AppContext; available: () => boolean },
) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL, requestId: string) => {
    if (!options.available()) {
      return sendJsonError(res, 503, "SERVICE_UNAVAILABLE", "the database is not migrated yet; see /ready", {
        "retry-after": "5",
        "x-request-id": requestId,
      });
    }
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
      } else {
        body = text;
      }
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: req.method ?? "GET", headers, search: url.search, body },
      context: async () => options.context(requestId, req),
    });
    const outHeaders: Record<string, string> = { "x-request-id": requestId };
    for (const [key, value] of response.headers) outHeaders[key] = value;
    res.writeHead(response.status ?? 200, outHeaders);
    if (response.body.kind === "complete") {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };
}
