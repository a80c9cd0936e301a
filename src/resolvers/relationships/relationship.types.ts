import { GraphQLDateTimeISO } from "graphql-scalars";
import { Field, ID, InputType, ObjectType, registerEnumType } from "type-graphql";
import { PromptRef } from "../prompts/prompt.inputs.js";

export const RelationshipDirectionValues = { OUTGOING: "OUTGOING", INCOMING: "INCOMING", BOTH: "BOTH" } as const;
registerEnumType(RelationshipDirectionValues, {
  name: "RelationshipDirection",
  description: "Which links of a prompt to list.",
  valuesConfig: {
    OUTGOING: { description: "Links from this prompt to others (this prompt is the source)." },
    INCOMING: { description: "Links from others to this prompt (this prompt is the target)." },
    BOTH: { description: "Both." },
  },
});

@ObjectType("PromptRelationship", { description: "A typed, directed link: source --type--> target (e.g. v2-draft DERIVED_FROM greeting)." })
export class PromptRelationship {
  @Field(() => ID, { description: "Stable identifier (deletePromptRelationship takes it)." })
  id!: string;

  @Field({ description: "DERIVED_FROM, DEPENDS_ON, SIMILAR_TO, ALTERNATIVE_OF, or a custom UPPER_SNAKE_CASE type." })
  type!: string;

  @Field(() => String, { nullable: true, description: "Free-text note." })
  note!: string | null;

  @Field(() => GraphQLDateTimeISO, { description: "When the link was made." })
  createdAt!: Date;

  @Field(() => String, { nullable: true, description: "Who made it, when known." })
  createdBy!: string | null;
}

@InputType("CreatePromptRelationshipInput", { description: "A new link between two prompts." })
export class CreatePromptRelationshipInput {
  @Field(() => PromptRef, { description: "Where the link starts." })
  source!: PromptRef;

  @Field(() => PromptRef, { description: "Where the link points." })
  target!: PromptRef;

  @Field({ description: "DERIVED_FROM, DEPENDS_ON, SIMILAR_TO, ALTERNATIVE_OF, or a custom type (normalised to UPPER_SNAKE_CASE)." })
  type!: string;

  @Field(() => String, { nullable: true, description: "Free-text note, at most 2000 characters." })
  note?: string | null;
}

@ObjectType("DeletePromptRelationshipPayload", { description: "The result of deletePromptRelationship." })
export class DeletePromptRelationshipPayload {
  @Field(() => ID, { description: "Id of the deleted link." })
  id!: string;
}
