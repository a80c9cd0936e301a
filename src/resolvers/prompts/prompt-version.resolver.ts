import { FieldResolver, Resolver, Root } from "type-graphql";
import type { PromptVersionRecord } from "../../domain/prompts/prompt.repository.js";
import { ChatMessage, PromptTypeValues, PromptVersion } from "./prompt.types.js";

@Resolver(() => PromptVersion)
export class PromptVersionResolver {
  @FieldResolver(() => PromptTypeValues, { description: "TEXT or CHAT, as the prompt's type." })
  type(@Root() version: PromptVersionRecord) {
    return version.content.type;
  }

  @FieldResolver(() => String, { nullable: true, description: "The template text of a TEXT prompt; null for CHAT." })
  content(@Root() version: PromptVersionRecord) {
    return version.content.type === "TEXT" ? version.content.text : null;
  }

  @FieldResolver(() => [ChatMessage], { nullable: true, description: "The messages of a CHAT prompt; null for TEXT." })
  messages(@Root() version: PromptVersionRecord) {
    return version.content.type === "CHAT" ? version.content.messages : null;
  }
}
