import { once } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Authentication } from "../auth/authenticator.js";
import { ANONYMOUS, type Principal, type Role } from "../auth/principal.js";
import type { ExportService } from "../domain/prompts/export.service.js";
import { AppError } from "../errors.js";
import type { Logger } from "../logger.js";
import { refuseRateLimited, sendJsonError, type Admission } from "./graphql-handler.js";

const ARCHIVED = new Set(["ACTIVE", "ARCHIVED", "ALL"]);

/**
 * GET /export?folder=&tag=&category=&archived=: the export document, streamed batch by batch
 * with back-pressure, so memory stays flat however many prompts there are.
 */
export function createExportHandler(
  exporter: ExportService,
  logger: Logger,
  available: () => boolean,
  access: {
    authenticate: (req: IncomingMessage) => Promise<Authentication>;
    allowed: readonly Role[];
    admit: (principal: Principal, req: IncomingMessage, cost: number) => Promise<Admission>;
  },
) {
  return async (req: IncomingMessage, res: ServerResponse, url: URL, requestId: string) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD" }).end();
      return;
    }
    if (!available()) return sendJsonError(res, 503, "SERVICE_UNAVAILABLE", "the database is not migrated yet; see /ready");
    const authentication = await access.authenticate(req);
    const admission = await access.admit(authentication.ok ? authentication.principal : ANONYMOUS, req, 1);
    if (!admission.allowed) return refuseRateLimited(res, requestId, admission.retryAfterMs, authentication.ok && authentication.principal.keyId ? "API key" : "client");
    if (!authentication.ok) {
      return sendJsonError(res, 401, "UNAUTHENTICATED", authentication.message, { "www-authenticate": 'Bearer realm="prompt-store"', "x-request-id": requestId });
    }
    const role = authentication.principal.role;
    if (!role) return sendJsonError(res, 401, "UNAUTHENTICATED", 'the export needs an API key: send "Authorization: Bearer <key>"', { "www-authenticate": 'Bearer realm="prompt-store"', "x-request-id": requestId });
    if (!access.allowed.includes(role)) return sendJsonError(res, 403, "FORBIDDEN", `role ${role} may not export prompts`, { "x-request-id": requestId });
    const params = url.searchParams;
    const archived = params.get("archived")?.toUpperCase() ?? "ACTIVE";
    if (!ARCHIVED.has(archived)) {
      return sendJsonError(res, 400, "BAD_USER_INPUT", "archived must be ACTIVE, ARCHIVED or ALL", { "x-request-id": requestId });
    }
    const tags = params.getAll("tag").flatMap((t) => t.split(",")).filter((t) => t.length > 0);
    const chunks = exporter.stream({
      folder: params.get("folder") ?? undefined,
      category: params.get("category") ?? undefined,
      tags: tags.length > 0 ? tags : undefined,
      archived: archived as "ACTIVE" | "ARCHIVED" | "ALL",
    });
    let started = false;
    try {
      for await (const chunk of chunks) {
        if (!started) {
          res.writeHead(200, {
            "content-type": "application/json; charset=utf-8",
            "content-disposition": 'attachment; filename="prompt-store-export.json"',
            "cache-control": "no-store",
            "x-request-id": requestId,
          });
          started = true;
          if (req.method === "HEAD") break;
        }
        if (res.destroyed) break;
        if (!res.write(chunk)) {
          // Wait for the client to read on, or to go away (then stop producing pages).
          const stop = new AbortController();
          const gone = await Promise.race([
            once(res, "drain", { signal: stop.signal }).then(() => false),
            once(res, "close", { signal: stop.signal }).then(() => true),
          ]).catch(() => true);
          stop.abort();
          if (gone) break;
        }
      }
      res.end();
    } catch (error) {
      if (!started && error instanceof AppError) {
        return sendJsonError(res, 400, error.code, error.message, { "x-request-id": requestId });
      }
      logger.error({ err: error, requestId }, "export failed");
      if (!started) sendJsonError(res, 500, "INTERNAL_SERVER_ERROR", "Internal server error", { "x-request-id": requestId });
      // Mid-stream: cut the connection so the client sees an incomplete document, never a wrong one.
      else res.destroy();
    } finally {
      await chunks.return(undefined);
    }
  };
}
