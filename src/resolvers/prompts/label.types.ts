import { GraphQLDateTimeISO } from "graphql-scalars";
import { GraphQLJSONObject } from "../json-scalars.js";
import { Field, InputType, Int, ObjectType } from "type-graphql";
import { ConnectionType } from "../shared/connection.js";
import { PromptRef } from "./prompt.inputs.js";
import { ChatMessage, Prompt, PromptTypeValues, PromptVersion } from "./prompt.types.js";

@ObjectType("PromptLabel", { description: "A movable pointer from a name (production, staging...) to one version of a prompt." })
export class PromptLabel {
  @Field({ description: "The label; `latest` is maintained automatically and always points at the newest version." })
  name!: string;

  @Field(() => Int, { description: "The version number the label points at." })
  versionNumber!: number;

  @Field(() => GraphQLDateTimeISO, { description: "When the label last moved (for `latest`: when the prompt last changed)." })
  updatedAt!: Date;

  @Field(() => String, { nullable: true, description: "Who moved it last, when known." })
  updatedBy!: string | null;
}

@ObjectType("LabelMove", { description: "One move of a label: set, moved to another version, or removed." })
export class LabelMove {
  @Field({ description: "The label that moved." })
  label!: string;

  @Field(() => Int, { nullable: true, description: "The version it left; null when it was newly set." })
  fromVersion!: number | null;

  @Field(() => Int, { nullable: true, description: "The version it went to; null when it was removed." })
  toVersion!: number | null;

  @Field(() => String, { nullable: true, description: "Who moved it, when known." })
  actor!: string | null;

  @Field(() => String, { nullable: true, description: "Why it moved." })
  reason!: string | null;

  @Field(() => GraphQLDateTimeISO, { description: "When it moved." })
  createdAt!: Date;
}

@ObjectType("LabelMoveConnection", { description: "A page of label moves, newest first." })
export class LabelMoveConnection extends ConnectionType("LabelMove", LabelMove) {}

@ObjectType("IncludedPrompt", { description: "A prompt version pulled in by a `{{> include}}` while rendering." })
export class IncludedPrompt {
  @Field(() => Prompt, { description: "The included prompt." })
  prompt!: object;

  @Field(() => PromptVersion, { description: "The version that was included." })
  version!: object;
}

@ObjectType("RenderedPrompt", { description: "A prompt rendered with variables, includes resolved." })
export class RenderedPrompt {
  @Field(() => Prompt, { description: "The prompt." })
  prompt!: object;

  @Field(() => PromptVersion, { description: "The version that was rendered." })
  version!: object;

  @Field(() => String, { nullable: true, description: "The label that selected the version; null when a version number was given." })
  label!: string | null;

  @Field(() => PromptTypeValues, { description: "TEXT or CHAT: which of text and messages is set." })
  type!: string;

  @Field(() => String, { nullable: true, description: "The rendered text of a TEXT prompt." })
  text!: string | null;

  @Field(() => [ChatMessage], { nullable: true, description: "The rendered messages of a CHAT prompt." })
  messages!: ChatMessage[] | null;

  @Field(() => [String], { description: "The variables the template used." })
  variablesUsed!: string[];

  @Field(() => [String], { description: "Non-fatal problems, such as variables given but not used." })
  warnings!: string[];

  @Field(() => [IncludedPrompt], { description: "Every prompt version included, in order of first use." })
  includes!: IncludedPrompt[];
}

@InputType("RenderPromptInput", { description: "Which prompt to render, and with what." })
export class RenderPromptInput {
  @Field({ description: "The prompt's name." })
  name!: string;

  @Field(() => String, { nullable: true, description: "Render the version this label points at (default `latest`)." })
  label?: string | null;

  @Field(() => Int, { nullable: true, description: "Render this version number instead of a label." })
  version?: number | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "Values for the {{variables}}; non-strings are printed (objects as JSON)." })
  variables?: Record<string, unknown> | null;
}

@InputType("SetPromptLabelInput", { description: "Points a label at a version." })
export class SetPromptLabelInput {
  @Field(() => PromptRef, { description: "The prompt, by id or name." })
  prompt!: PromptRef;

  @Field({ description: "The label: 1 to 50 characters of a-z, 0-9, `_`, `-`; not `latest`." })
  label!: string;

  @Field(() => Int, { description: "The version to point at." })
  version!: number;

  @Field(() => String, { nullable: true, description: "Why, recorded in the label history." })
  reason?: string | null;
}

@InputType("RollbackPromptInput", { description: "Creates a new version equal to an old one." })
export class RollbackPromptInput {
  @Field(() => PromptRef, { description: "The prompt, by id or name." })
  prompt!: PromptRef;

  @Field(() => Int, { description: "The old version whose content and config the new version takes." })
  toVersion!: number;

  @Field(() => String, { nullable: true, description: "Commit message of the new version (default `Rollback to version N`)." })
  commitMessage?: string | null;

  @Field(() => [String], { nullable: true, description: "Labels to move to the new version in the same transaction." })
  moveLabels?: string[] | null;
}
