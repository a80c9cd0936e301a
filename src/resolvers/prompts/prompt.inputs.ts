import { GraphQLJSONObject } from "../json-scalars.js";
import { Field, ID, InputType, Int } from "type-graphql";
import {
  ArchiveFilterValues,
  ChatRoleValues,
  PromptOrderFieldValues,
  PromptTypeValues,
  SortDirectionValues,
} from "./prompt.types.js";

@InputType("PromptRef", { description: "Identifies a prompt by id or by name: give exactly one." })
export class PromptRef {
  @Field(() => ID, { nullable: true, description: "The prompt's id." })
  id?: string | null;

  @Field(() => String, { nullable: true, description: "The prompt's unique name." })
  name?: string | null;
}

@InputType("ChatMessageInput", { description: "One message of a CHAT prompt." })
export class ChatMessageInput {
  @Field(() => ChatRoleValues, { description: "Who speaks the message." })
  role!: string;

  @Field({ description: "The message template; may contain {{variables}}." })
  content!: string;
}

@InputType("CreatePromptInput", { description: "A new prompt and its version 1." })
export class CreatePromptInput {
  @Field(() => PromptRef, {
    nullable: true,
    description: "Start from this prompt's latest content, config, tags and metadata (fields given here override); recorded as DERIVED_FROM.",
  })
  copyFrom?: PromptRef | null;

  @Field({ description: "Unique name: folder segments separated by `/`, each of letters, digits, `.`, `_`, `-` (at most 200 characters)." })
  name!: string;

  @Field(() => PromptTypeValues, { nullable: true, description: "TEXT (default) or CHAT." })
  type?: "TEXT" | "CHAT" | null;

  @Field(() => String, { nullable: true, description: "The template text of a TEXT prompt." })
  content?: string | null;

  @Field(() => [ChatMessageInput], { nullable: true, description: "The messages of a CHAT prompt." })
  messages?: ChatMessageInput[] | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Model settings (model, temperature, max tokens...)." })
  config?: Record<string, unknown> | null;

  @Field(() => String, { nullable: true, description: "What the prompt is for." })
  description?: string | null;

  @Field(() => String, { nullable: true, description: "A free-form grouping." })
  category?: string | null;

  @Field(() => [String], { nullable: true, description: "Tags: lowercase letters, digits, `.`, `_`, `:`, `-`." })
  tags?: string[] | null;

  @Field(() => String, { nullable: true, description: "Why this version was made." })
  commitMessage?: string | null;

  @Field(() => String, { nullable: true, description: "Who made this version." })
  author?: string | null;
}

@InputType("UpdatePromptInput", {
  description:
    "Changes to a prompt. A change of content or config creates the next version; metadata changes do not; " +
    "an update identical to the latest version creates nothing. Omitted fields keep their value.",
})
export class UpdatePromptInput {
  @Field(() => String, { nullable: true, description: "New template text (TEXT prompts)." })
  content?: string | null;

  @Field(() => [ChatMessageInput], { nullable: true, description: "New messages (CHAT prompts)." })
  messages?: ChatMessageInput[] | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "New model settings; replaces the whole object." })
  config?: Record<string, unknown> | null;

  @Field(() => String, { nullable: true, description: "New description; null or empty clears it." })
  description?: string | null;

  @Field(() => String, { nullable: true, description: "New category; null or empty clears it." })
  category?: string | null;

  @Field(() => [String], { nullable: true, description: "The complete new set of tags." })
  tags?: string[] | null;

  @Field(() => String, { nullable: true, description: "Why the new version was made." })
  commitMessage?: string | null;

  @Field(() => String, { nullable: true, description: "Who made the new version." })
  author?: string | null;

  @Field(() => Int, {
    nullable: true,
    description: "The latest version number this change is based on: CONFLICT if another writer created a version since.",
  })
  expectedVersion?: number | null;
}

@InputType("PromptFilter", { description: "Narrows a prompt listing. Criteria combine with AND." })
export class PromptFilter {
  @Field(() => [String], { nullable: true, description: "Prompts carrying every one of these tags." })
  tags?: string[] | null;

  @Field(() => String, { nullable: true, description: "Prompts of this category." })
  category?: string | null;

  @Field(() => String, { nullable: true, description: "Prompts whose name lies under this folder, e.g. `support` or `support/billing/`." })
  folder?: string | null;

  @Field(() => ArchiveFilterValues, { nullable: true, description: "ACTIVE (default), ARCHIVED or ALL." })
  archived?: "ACTIVE" | "ARCHIVED" | "ALL" | null;
}

@InputType("PromptOrder", { description: "Sort order of a prompt listing." })
export class PromptOrder {
  @Field(() => PromptOrderFieldValues, { description: "NAME or UPDATED_AT." })
  field!: "NAME" | "UPDATED_AT";

  @Field(() => SortDirectionValues, { nullable: true, description: "Default ASC for NAME, DESC for UPDATED_AT." })
  direction?: "ASC" | "DESC" | null;
}
