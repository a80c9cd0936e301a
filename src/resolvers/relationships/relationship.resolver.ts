import { Arg, Ctx, FieldResolver, ID, Mutation, Resolver, Root } from "type-graphql";
import type { AppContext } from "../../context.js";
import type { PromptRecord } from "../../domain/prompts/prompt.repository.js";
import type { RelationshipRecord } from "../../domain/relationships/relationship.repository.js";
import { RelationshipService, validateRelationshipType, type Direction } from "../../domain/relationships/relationship.service.js";
import { Prompt } from "../prompts/prompt.types.js";
import {
  CreatePromptRelationshipInput,
  DeletePromptRelationshipPayload,
  PromptRelationship,
  RelationshipDirectionValues,
} from "./relationship.types.js";

@Resolver(() => PromptRelationship)
export class RelationshipResolver {
  constructor(private readonly relationships: RelationshipService) {}

  @Mutation(() => PromptRelationship, { description: "Links two prompts with a typed, directed relationship." })
  createPromptRelationship(
    @Arg("input", () => CreatePromptRelationshipInput, { description: "Source, target, type and note." }) input: CreatePromptRelationshipInput,
    @Ctx() ctx: AppContext,
  ) {
    return this.relationships.create(input, ctx.actor);
  }

  @Mutation(() => DeletePromptRelationshipPayload, { description: "Removes a link between two prompts." })
  async deletePromptRelationship(@Arg("id", () => ID, { description: "The link's id." }) id: string) {
    return { id: (await this.relationships.delete(id)).id };
  }

  @FieldResolver(() => Prompt, { description: "Where the link starts." })
  async source(@Root() link: RelationshipRecord, @Ctx() ctx: AppContext) {
    return ctx.loaders.prompts.byId.load(link.sourceId);
  }

  @FieldResolver(() => Prompt, { description: "Where the link points." })
  async target(@Root() link: RelationshipRecord, @Ctx() ctx: AppContext) {
    return ctx.loaders.prompts.byId.load(link.targetId);
  }
}

@Resolver(() => Prompt)
export class PromptRelationshipsResolver {
  @FieldResolver(() => [PromptRelationship], { description: "Links from and/or to this prompt, oldest first." })
  async relationships(
    @Root() prompt: PromptRecord,
    @Ctx() ctx: AppContext,
    @Arg("direction", () => RelationshipDirectionValues, { defaultValue: "BOTH", description: "OUTGOING, INCOMING or BOTH (default)." })
    direction: Direction,
    @Arg("type", () => String, { nullable: true, description: "Only links of this type." }) type?: string | null,
  ) {
    const links = await ctx.loaders.relationships.touching.load(prompt.id);
    return RelationshipService.select(prompt.id, links, direction, type ? validateRelationshipType(type) : null);
  }
}
