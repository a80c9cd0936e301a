import { Arg, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import type { AuditService } from "../../audit/audit.service.js";
import type { ApiKeyService } from "../../auth/api-key.service.js";
import type { AppContext } from "../../context.js";
import { toConnection } from "../shared/connection.js";
import { ApiKey, ApiKeyConnection, AuditEntry, AuditEntryConnection, AuditLogFilter, CreateApiKeyInput, CreateApiKeyPayload } from "./access.types.js";

/** API keys and the audit log: admins only (src/auth/policy.ts). */
@Resolver(() => AuditEntry)
export class AccessResolver {
  constructor(
    readonly keys: ApiKeyService,
    readonly audit: AuditService,
  ) {}

  @Mutation(() => CreateApiKeyPayload, { description: "Creates an API key and returns its secret, this once." })
  createApiKey(@Arg("input", () => CreateApiKeyInput, { description: "Name, role, expiry." }) input: CreateApiKeyInput, @Ctx() ctx: AppContext) {
    return this.keys.create(input.name, input.role, input.expiresAt ?? null, ctx.viewer);
  }

  @Mutation(() => ApiKey, { description: "Revokes an API key at once, on every instance (its open WebSockets are closed); revoking twice is harmless." })
  revokeApiKey(@Arg("id", () => ID, { description: "The key." }) id: string, @Ctx() ctx: AppContext) {
    return this.keys.revoke(id, ctx.viewer);
  }

  @Query(() => ApiKeyConnection, { description: "API keys, newest first, with their last use." })
  async apiKeys(
    @Arg("includeRevoked", { defaultValue: false, description: "Also list revoked keys." }) includeRevoked: boolean,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 0 to 200 (default 20)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
  ) {
    const page = await this.keys.list(first, after, includeRevoked);
    return toConnection(page, page.cursor, () => page.totalCount());
  }

  @Query(() => AuditEntryConnection, { description: "The audit log: every mutation, newest first." })
  async auditLog(
    @Arg("filter", () => AuditLogFilter, { nullable: true, description: "Which entries." }) filter?: AuditLogFilter,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 0 to 200 (default 20)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
  ) {
    const page = await this.audit.list(filter ?? {}, first, after);
    const items = page.items.map((entry) => ({ ...entry, details: entry.details ? (JSON.parse(entry.details) as Record<string, unknown>) : null }));
    return toConnection({ ...page, items }, page.cursor, () => page.totalCount());
  }
}
