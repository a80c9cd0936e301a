import { Field, Float, Int, ObjectType, registerEnumType } from "type-graphql";
import type { PromptRecord } from "../../domain/prompts/prompt.repository.js";
import type { SearchColumn } from "../../domain/search/search.logic.js";
import { Prompt } from "../prompts/prompt.types.js";
import { ConnectionType } from "../shared/connection.js";

export const PromptSearchFieldValues = {
  NAME: "name",
  DESCRIPTION: "description",
  TAGS: "tags",
  CONTENT: "content",
} as const satisfies Record<string, SearchColumn>;
registerEnumType(PromptSearchFieldValues, {
  name: "PromptSearchField",
  description: "A searchable part of a prompt.",
  valuesConfig: {
    NAME: { description: "The prompt's name." },
    DESCRIPTION: { description: "The prompt's description." },
    TAGS: { description: "The prompt's tags." },
    CONTENT: { description: "The latest version's content (for CHAT prompts, the messages' contents)." },
  },
});

@ObjectType("TextRange", { description: "A range of characters in a text." })
export class TextRange {
  @Field(() => Int, { description: "Offset of the first character, in UTF-16 code units (JavaScript string indices)." })
  start!: number;

  @Field(() => Int, { description: "Length in UTF-16 code units." })
  length!: number;
}

@ObjectType("SearchSnippet", { description: "A short passage around the matches, as plain text with the matched words marked by ranges." })
export class SearchSnippet {
  @Field({ description: "The passage, plain text (no markup); `…` marks text left out before or after it." })
  text!: string;

  @Field(() => [TextRange], { description: "Where the matched words are in `text`, in order." })
  highlights!: TextRange[];
}

@ObjectType("PromptSearchHit", { description: "A prompt that matches a search, with why and how well." })
export class PromptSearchHit {
  @Field(() => Prompt, { description: "The matching prompt." })
  prompt!: PromptRecord;

  @Field(() => Float, {
    description:
      "Relevance (bm25, name and tag matches weigh most, then description, then content): higher is better. " +
      "Comparable between hits of one search only.",
  })
  score!: number;

  @Field(() => PromptSearchFieldValues, { description: "The field that contributes most to the score; the snippet comes from it." })
  matchedField!: SearchColumn;

  @Field(() => SearchSnippet, { description: "The best passage of matchedField with the matches highlighted." })
  snippet!: SearchSnippet;
}

@ObjectType("PromptSearchHitConnection", { description: "A page of search results, best first." })
export class PromptSearchHitConnection extends ConnectionType("PromptSearchHit", PromptSearchHit) {}

@ObjectType("SimilarPrompt", { description: "A prompt whose content resembles another prompt's, with how much." })
export class SimilarPrompt {
  @Field(() => Prompt, { description: "The similar prompt." })
  prompt!: PromptRecord;

  @Field(() => Float, {
    description: "Similarity from 0 to 1: this prompt's relevance for the other's distinctive terms, relative to the other prompt's own.",
  })
  score!: number;
}
