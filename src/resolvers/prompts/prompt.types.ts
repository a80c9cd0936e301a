import { GraphQLDateTimeISO } from "graphql-scalars";
import { GraphQLJSONObject } from "../json-scalars.js";
import { Field, ID, Int, ObjectType, registerEnumType } from "type-graphql";
import type { PromptEventType } from "../../subscriptions/topics.js";
import { ConnectionType } from "../shared/connection.js";

export const PromptTypeValues = { TEXT: "TEXT", CHAT: "CHAT" } as const;
registerEnumType(PromptTypeValues, {
  name: "PromptType",
  description: "How a prompt's content is shaped.",
  valuesConfig: {
    TEXT: { description: "A single text template." },
    CHAT: { description: "An ordered list of chat messages, each with a role and content." },
  },
});

export const ChatRoleValues = {
  SYSTEM: "system",
  DEVELOPER: "developer",
  USER: "user",
  ASSISTANT: "assistant",
  TOOL: "tool",
} as const;
registerEnumType(ChatRoleValues, {
  name: "ChatRole",
  description: "Who speaks a chat message.",
  valuesConfig: {
    SYSTEM: { description: "Instructions that frame the conversation." },
    DEVELOPER: { description: "Instructions from the application developer (newer model APIs)." },
    USER: { description: "The end user's turn." },
    ASSISTANT: { description: "The model's turn, e.g. a few-shot example answer." },
    TOOL: { description: "The result of a tool call." },
  },
});

export const ArchiveFilterValues = { ACTIVE: "ACTIVE", ARCHIVED: "ARCHIVED", ALL: "ALL" } as const;
registerEnumType(ArchiveFilterValues, {
  name: "ArchiveFilter",
  description: "Which prompts a listing includes by archive state.",
  valuesConfig: {
    ACTIVE: { description: "Only prompts that are not archived (the default)." },
    ARCHIVED: { description: "Only archived prompts." },
    ALL: { description: "Both." },
  },
});

export const PromptOrderFieldValues = { NAME: "NAME", UPDATED_AT: "UPDATED_AT" } as const;
registerEnumType(PromptOrderFieldValues, {
  name: "PromptOrderField",
  description: "Sort key of a prompt listing.",
  valuesConfig: {
    NAME: { description: "By name (folders group together)." },
    UPDATED_AT: { description: "By the time of the last change." },
  },
});

export const SortDirectionValues = { ASC: "ASC", DESC: "DESC" } as const;
registerEnumType(SortDirectionValues, {
  name: "SortDirection",
  description: "Ascending or descending.",
  valuesConfig: { ASC: { description: "Smallest first." }, DESC: { description: "Largest first." } },
});

export const PromptEventTypeValues: { [K in PromptEventType]: K } = {
  CREATED: "CREATED",
  UPDATED: "UPDATED",
  VERSION_CREATED: "VERSION_CREATED",
  LABEL_MOVED: "LABEL_MOVED",
  ARCHIVED: "ARCHIVED",
  RESTORED: "RESTORED",
  DELETED: "DELETED",
};
registerEnumType(PromptEventTypeValues, {
  name: "PromptEventType",
  description: "What happened to a prompt.",
  valuesConfig: {
    CREATED: { description: "The prompt was created with version 1." },
    UPDATED: { description: "Metadata (description, category, tags) changed; no new version." },
    VERSION_CREATED: { description: "A new version was created." },
    LABEL_MOVED: { description: "A label was set, moved to another version, or removed." },
    ARCHIVED: { description: "The prompt was archived." },
    RESTORED: { description: "The prompt was restored from the archive." },
    DELETED: { description: "The prompt and its versions were deleted." },
  },
});

@ObjectType("ChatMessage", { description: "One message of a CHAT prompt." })
export class ChatMessage {
  @Field(() => ChatRoleValues, { description: "Who speaks the message." })
  role!: string;

  @Field({ description: "The message template; may contain {{variables}}." })
  content!: string;
}

@ObjectType("PromptVersion", { description: "An immutable version of a prompt's content and model configuration." })
export class PromptVersion {
  @Field(() => ID, { description: "Stable identifier of this version." })
  id!: string;

  @Field(() => Int, { description: "1, 2, 3... in order of creation within its prompt." })
  number!: number;

  @Field(() => [String], { description: "The distinct {{variable}} names used by the content, in order of first use." })
  variables!: string[];

  @Field(() => GraphQLJSONObject, { description: "Model settings stored with the content: model, temperature, max tokens, anything else." })
  config!: Record<string, unknown>;

  @Field(() => String, { nullable: true, description: "Why this version was made." })
  commitMessage!: string | null;

  @Field(() => String, { nullable: true, description: "Who made this version." })
  author!: string | null;

  @Field(() => GraphQLDateTimeISO, { description: "When this version was created." })
  createdAt!: Date;

  @Field({ description: "SHA-256 (hex) of the content and config: equal hashes mean identical versions." })
  contentHash!: string;
}

@ObjectType("Prompt", { description: "A named prompt: metadata plus an append-only history of versions." })
export class Prompt {
  @Field(() => ID, { description: "Stable identifier." })
  id!: string;

  @Field({ description: "Unique name; folder-style paths such as `support/greeting` group prompts." })
  name!: string;

  @Field(() => String, { nullable: true, description: "What the prompt is for." })
  description!: string | null;

  @Field(() => String, { nullable: true, description: "A free-form grouping such as `support` or `marketing`." })
  category!: string | null;

  @Field(() => PromptTypeValues, { description: "TEXT or CHAT; fixed when the prompt is created." })
  type!: string;

  @Field(() => GraphQLDateTimeISO, { description: "When the prompt was created." })
  createdAt!: Date;

  @Field(() => GraphQLDateTimeISO, { description: "When the prompt or its versions last changed." })
  updatedAt!: Date;

  @Field(() => GraphQLDateTimeISO, { nullable: true, description: "When the prompt was archived; null while active." })
  archivedAt!: Date | null;
}

@ObjectType("PromptConnection", { description: "A page of prompts." })
export class PromptConnection extends ConnectionType("Prompt", Prompt) {}

@ObjectType("PromptVersionConnection", { description: "A page of a prompt's versions, newest first." })
export class PromptVersionConnection extends ConnectionType("PromptVersion", PromptVersion) {}

@ObjectType("UpdatePromptPayload", { description: "The result of updatePrompt." })
export class UpdatePromptPayload {
  @Field(() => Prompt, { description: "The prompt after the update." })
  prompt!: object;

  @Field(() => PromptVersion, {
    nullable: true,
    description: "The version this update created; null when content and config were unchanged.",
  })
  version!: object | null;

  @Field({ description: "True when a new version was created." })
  versionCreated!: boolean;
}

@ObjectType("DeletePromptPayload", { description: "The result of deletePrompt." })
export class DeletePromptPayload {
  @Field(() => ID, { description: "Id of the deleted prompt." })
  id!: string;

  @Field({ description: "Name of the deleted prompt (now free for reuse)." })
  name!: string;
}

@ObjectType("PromptEvent", { description: "Something that happened to a prompt, published after it was committed." })
export class PromptEvent {
  @Field(() => PromptEventTypeValues, { description: "What happened." })
  type!: PromptEventType;

  @Field(() => ID, { description: "The prompt's id." })
  promptId!: string;

  @Field({ description: "The prompt's name at the time of the event." })
  promptName!: string;

  @Field(() => Int, { nullable: true, description: "The version concerned (the new one for VERSION_CREATED)." })
  versionNumber!: number | null;

  @Field(() => GraphQLDateTimeISO, { description: "When it happened." })
  occurredAt!: Date;

  @Field(() => String, { nullable: true, description: "LABEL_MOVED: the label (versionNumber is where it went, null when removed)." })
  label!: string | null;

  @Field(() => Int, { nullable: true, description: "LABEL_MOVED: the version the label left; null when newly set." })
  fromVersion!: number | null;

  @Field(() => String, { nullable: true, description: "Who made the change, when known." })
  actor!: string | null;
}
