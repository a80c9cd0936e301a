import { Arg, Int, Query, Resolver } from "type-graphql";
import type { SearchService } from "../../domain/search/search.service.js";
import { SEARCH_CANDIDATE_LIMIT } from "../../domain/search/search.service.js";
import { PromptFilter, PromptRef } from "../prompts/prompt.inputs.js";
import { toConnection } from "../shared/connection.js";
import { PromptSearchHitConnection, SimilarPrompt } from "./search.types.js";

const QUERY_SYNTAX =
  "Words are ANDed; \"exact phrase\"; welc* for a prefix (at least 2 letters before *); -word or -\"phrase\" to exclude; " +
  "a OR b for either (OR binds tighter than the space); name:, description:, tags: or content: before a term " +
  "limits it to that field (e.g. tags:billing, -content:draft, name:\"order status\"). Case and accents are ignored. " +
  "A malformed query is BAD_USER_INPUT with field `query`.";

@Resolver()
export class SearchResolver {
  constructor(private readonly searchService: SearchService) {}

  @Query(() => PromptSearchHitConnection, {
    complexity: 200,
    description:
      "Full-text search over prompts' names, descriptions, tags and latest content, best match first. " +
      `Only the ${SEARCH_CANDIDATE_LIMIT} newest matching prompts are ranked, so a query matching more prompts than that ` +
      "can miss older ones (narrow it down); totalCount counts those ranked candidates that pass the filter. " +
      "Pages are positions in the ranking: a page taken after prompts changed may repeat or skip a hit.",
  })
  async searchPrompts(
    @Arg("query", () => String, { description: `What to look for. ${QUERY_SYNTAX}` }) query: string,
    @Arg("filter", () => PromptFilter, { nullable: true, description: "Which prompts to consider (default: active ones)." })
    filter?: PromptFilter,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 0 to 200 (default 20)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page of the same search." })
    after?: string,
  ) {
    const page = await this.searchService.search({ query, first, after, ...filter });
    return toConnection(page, page.cursor, () => page.count());
  }

  @Query(() => [SimilarPrompt], {
    complexity: 500,
    description:
      "Active prompts whose content resembles this prompt's latest content, most similar first: its most distinctive " +
      "words (TF-IDF) are searched for in other prompts' content. Considers the same newest candidates as searchPrompts.",
  })
  similarPrompts(
    @Arg("prompt", () => PromptRef, { description: "The prompt to compare with, by id or name." }) prompt: PromptRef,
    @Arg("first", () => Int, { nullable: true, description: "How many, 0 to 200 (default 20)." }) first?: number,
  ) {
    return this.searchService.similar(prompt, first);
  }
}
