import type { IncomingMessage } from "node:http";
import { foreignRequest } from "../http/local-origin.js";
import type { ApiKeyService } from "./api-key.service.js";
import { ANONYMOUS, LOCAL_ADMIN, type Principal } from "./principal.js";

export type Authentication = { ok: true; principal: Principal } | { ok: false; message: string };

const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * Turns what a caller presented (an Authorization header over HTTP, connection_init's payload
 * over graphql-ws) into a principal. A presented key is always checked, also in open local
 * mode; without one the caller is the local admin (open local mode, from this machine's own
 * tools, not from another site's web page) or anonymous.
 */
export class Authenticator {
  constructor(
    private readonly keys: ApiKeyService,
    readonly openLocalMode: boolean,
  ) {}

  async fromHeader(header: string | string[] | undefined, req: IncomingMessage): Promise<Authentication> {
    const value = Array.isArray(header) ? header[0] : header;
    if (value === undefined || value.trim() === "") return this.withoutKey(req);
    const match = BEARER.exec(value);
    if (!match) return { ok: false, message: 'the Authorization header must be "Bearer <API key>"' };
    return this.withKey(match[1]!);
  }

  /** connection_init's payload: `{ "authorization": "Bearer <key>" }` or `{ "apiKey": "<key>" }`. */
  async fromConnectionParams(params: Readonly<Record<string, unknown>> | undefined, req: IncomingMessage): Promise<Authentication> {
    const apiKey = params?.apiKey;
    if (typeof apiKey === "string" && apiKey.length > 0) return this.withKey(apiKey);
    if (apiKey !== undefined && apiKey !== null) return { ok: false, message: "connection_init payload.apiKey must be a string" };
    const authorization = params?.authorization ?? params?.Authorization;
    if (authorization !== undefined && typeof authorization !== "string") return { ok: false, message: "connection_init payload.authorization must be a string" };
    return this.fromHeader(authorization, req);
  }

  private withoutKey(req: IncomingMessage): Authentication {
    return { ok: true, principal: this.openLocalMode && !foreignRequest(req) ? LOCAL_ADMIN : ANONYMOUS };
  }

  private async withKey(secret: string): Promise<Authentication> {
    if (secret.length > 512) return { ok: false, message: "the API key is not valid" };
    const verified = await this.keys.verify(secret);
    if (verified.ok) return verified;
    const why = { unknown: "is not valid", revoked: "has been revoked", expired: "has expired" }[verified.reason];
    return { ok: false, message: `the API key ${why}` };
  }
}

/** Whose bucket a request takes from: the key's, the admin's, or the client address's. */
export function rateLimitKey(principal: Principal, address: string | undefined): string {
  if (principal.keyId) return `key:${principal.keyId}`;
  if (principal.kind === "anonymous") return `ip:${address ?? "unknown"}`;
  return principal.kind;
}
