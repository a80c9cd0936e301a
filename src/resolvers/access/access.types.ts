import { GraphQLDateTimeISO } from "graphql-scalars";
import { GraphQLJSONObject } from "../json-scalars.js";
import { Field, ID, InputType, ObjectType, registerEnumType } from "type-graphql";
import type { AuditOutcome } from "../../audit/audit.sql.js";
import type { Role } from "../../auth/principal.js";
import { ConnectionType } from "../shared/connection.js";

export const RoleValues: { [K in Role]: K } = { ADMIN: "ADMIN", EDITOR: "EDITOR", SERVICE: "SERVICE", VIEWER: "VIEWER" };
registerEnumType(RoleValues, {
  name: "Role",
  description: "What an API key may do.",
  valuesConfig: {
    ADMIN: { description: "Everything, API keys, the audit log and protected labels included." },
    EDITOR: { description: "Prompts, labels (except protected ones), relationships, refinement, A/B tests, bulk operations, and every read." },
    SERVICE: { description: "What an application needs: resolve and render prompts, hear prompt events, record usage and A/B outcomes." },
    VIEWER: { description: "Read only (and marking one's own notifications read)." },
  },
});

export const AuditOutcomeValues: { [K in AuditOutcome]: K } = { SUCCESS: "SUCCESS", FAILURE: "FAILURE", DENIED: "DENIED" };
registerEnumType(AuditOutcomeValues, {
  name: "AuditOutcome",
  description: "How a mutation ended.",
  valuesConfig: {
    SUCCESS: { description: "It did what it was asked (its change, if any, committed with this entry)." },
    FAILURE: { description: "It ran and failed; errorCode says why." },
    DENIED: { description: "It was refused before it ran (the caller's role)." },
  },
});

@ObjectType("ApiKey", { description: "An API key, without its secret (only a hash of it is stored)." })
export class ApiKey {
  @Field(() => ID, { description: "The key's id (revokeApiKey takes it)." })
  id!: string;

  @Field({ description: "A name for people: whose or what the key is for. Recorded as the actor of what it does." })
  name!: string;

  @Field(() => RoleValues, { description: "What the key may do." })
  role!: Role;

  @Field({ description: "The secret's first characters, to tell keys apart." })
  prefix!: string;

  @Field(() => GraphQLDateTimeISO, { description: "When it was created." })
  createdAt!: Date;

  @Field(() => String, { nullable: true, description: "Who created it." })
  createdBy!: string | null;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When it stops working; null: never." })
  expiresAt!: Date | null;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When it was revoked; null while it works." })
  revokedAt!: Date | null;

  @Field(() => String, { nullable: true, description: "Who revoked it." })
  revokedBy!: string | null;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When it was last used (kept to within about 15 seconds); null: never." })
  lastUsedAt!: Date | null;
}

@ObjectType("CreateApiKeyPayload", { description: "A new API key and its secret." })
export class CreateApiKeyPayload {
  @Field(() => ApiKey, { description: "The key." })
  key!: ApiKey;

  @Field({ description: "The secret, shown this once: send it as `Authorization: Bearer <secret>`." })
  secret!: string;
}

@ObjectType("ApiKeyConnection", { description: "A page of API keys, newest first." })
export class ApiKeyConnection extends ConnectionType("ApiKey", ApiKey) {}

@InputType("CreateApiKeyInput", { description: "Arguments of createApiKey." })
export class CreateApiKeyInput {
  @Field({ description: "1 to 100 letters, digits, spaces or . _ @ : / ( ) -." })
  name!: string;

  @Field(() => RoleValues, { description: "What the key may do." })
  role!: Role;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When it stops working (in the future); null: never." })
  expiresAt?: Date | null;
}

@ObjectType("AuditEntry", { description: "One mutation in the audit log." })
export class AuditEntry {
  @Field(() => ID, { description: "The entry's id." })
  id!: string;

  @Field(() => GraphQLDateTimeISO, { description: "When the mutation started." })
  occurredAt!: Date;

  @Field(() => String, { nullable: true, description: "Who: the key's name, `admin` (PROMPT_STORE_ADMIN_KEY), `local` (open local mode), or null (no key)." })
  actor!: string | null;

  @Field(() => ID, { nullable: true, description: "The API key used, if any." })
  keyId!: string | null;

  @Field(() => String, { nullable: true, description: "The caller's role at the time." })
  role!: string | null;

  @Field({ description: "The mutation, e.g. setPromptLabel." })
  operation!: string;

  @Field(() => String, { nullable: true, description: "What it acted on, as the caller named it (an id or a name)." })
  target!: string | null;

  @Field(() => AuditOutcomeValues, { description: "How it ended." })
  outcome!: AuditOutcome;

  @Field(() => String, { nullable: true, description: "The error's code when it failed or was refused." })
  errorCode!: string | null;

  @Field({ description: "The request's id (x-request-id), to find it in the server's log." })
  requestId!: string;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "The arguments, with long text shortened, lists counted and secrets left out." })
  details!: Record<string, unknown> | null;
}

@ObjectType("AuditEntryConnection", { description: "A page of the audit log, newest first." })
export class AuditEntryConnection extends ConnectionType("AuditEntry", AuditEntry) {}

@InputType("AuditLogFilter", { description: "Which audit entries to list; every given field must match." })
export class AuditLogFilter {
  @Field(() => String, { nullable: true, description: "Only this actor's." })
  actor?: string | null;

  @Field(() => ID, { nullable: true, description: "Only those made with this API key." })
  keyId?: string | null;

  @Field(() => String, { nullable: true, description: "Only this mutation (e.g. setPromptLabel)." })
  operation?: string | null;

  @Field(() => String, { nullable: true, description: "Only those on this target (an id or name, as given)." })
  target?: string | null;

  @Field(() => AuditOutcomeValues, { nullable: true, description: "Only those that ended so." })
  outcome?: AuditOutcome | null;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "From this time on (inclusive)." })
  from?: Date | null;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "Before this time (exclusive)." })
  to?: Date | null;
}
