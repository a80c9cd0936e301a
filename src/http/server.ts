import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { requestIdFrom } from "../context.js";
import type { Logger } from "../logger.js";
import { sendJsonError } from "./graphql-handler.js";
import type { StaticBundle } from "./static-files.js";

export interface HealthInfo {
  status: "ok";
  version: string;
  uptimeSeconds: number;
  /** open-local: no admin key, everyone on this machine is an admin (development only). */
  auth: { mode: "open-local" | "api-keys"; detail?: string };
}

export interface Readiness {
  ready: boolean;
  /** Ready, but a non-essential check fails (e.g. Redis: this instance serves, other instances' live events are missing). */
  degraded?: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

export interface HttpRoutes {
  graphqlPath: string;
  graphql: (req: IncomingMessage, res: ServerResponse, url: URL, requestId: string) => Promise<void>;
  /** Other handlers by exact path (e.g. /export). */
  handlers: Record<string, (req: IncomingMessage, res: ServerResponse, url: URL, requestId: string) => Promise<void>>;
  graphiql: StaticBundle;
  health: () => HealthInfo;
  readiness: () => Promise<Readiness>;
}

const json = (res: ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" }).end(JSON.stringify(body));

/** One node:http server for every route; it counts in-flight requests so shutdown can wait for them. */
export function createHttpServer(routes: HttpRoutes, logger: Logger) {
  let inFlight = 0;
  const idleWaiters: (() => void)[] = [];

  const server = createServer(async (req, res) => {
    inFlight++;
    res.once("close", () => {
      inFlight--;
      if (inFlight === 0) idleWaiters.splice(0).forEach((resolve) => resolve());
    });
    const requestId = requestIdFrom(req.headers["x-request-id"]);
    try {
      const url = new URL(req.url ?? "/", "http://localhost");
      const path = url.pathname;
      if (path === routes.graphqlPath) return await routes.graphql(req, res, url, requestId);
      const handler = Object.hasOwn(routes.handlers, path) ? routes.handlers[path] : undefined;
      if (handler) return await handler(req, res, url, requestId);
      if (path === "/health") return json(res, 200, routes.health());
      if (path === "/ready") {
        const readiness = await routes.readiness();
        const status = !readiness.ready ? "not ready" : readiness.degraded ? "degraded" : "ready";
        return json(res, readiness.ready ? 200 : 503, { status, ...readiness });
      }
      if (routes.graphiql.serve(path, req.method ?? "GET", res)) return;
      if (path === "/") {
        res.writeHead(302, { location: "/graphiql" }).end();
        return;
      }
      res.writeHead(404, { "content-type": "text/plain" }).end("Not Found\n");
    } catch (error) {
      logger.error({ err: error, requestId, url: req.url }, "request failed");
      if (!res.headersSent) sendJsonError(res, 500, "INTERNAL_SERVER_ERROR", "Internal server error", { "x-request-id": requestId });
      else res.destroy();
    }
  });

  return {
    server,
    get inFlight() {
      return inFlight;
    },
    /** Resolves once no request is in flight. */
    drained(): Promise<void> {
      return inFlight === 0 ? Promise.resolve() : new Promise((resolve) => idleWaiters.push(resolve));
    },
  };
}
