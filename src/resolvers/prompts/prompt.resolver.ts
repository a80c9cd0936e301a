import { Arg, Ctx, FieldResolver, ID, Int, Query, Resolver, Root } from "type-graphql";
import type { AppContext } from "../../context.js";
import type { PromptRecord } from "../../domain/prompts/prompt.repository.js";
import type { PromptService } from "../../domain/prompts/prompt.service.js";
import { decodeCursor, encodeCursor, pageSize } from "../../domain/shared/pagination.js";
import { badInput } from "../../errors.js";
import { toConnection } from "../shared/connection.js";
import { PromptFilter, PromptOrder, PromptRef } from "./prompt.inputs.js";
import { Prompt, PromptConnection, PromptVersion, PromptVersionConnection } from "./prompt.types.js";

@Resolver(() => Prompt)
export class PromptResolver {
  constructor(private readonly promptService: PromptService) {}

  @Query(() => Prompt, { nullable: true, description: "One prompt by id or name; NOT_FOUND when there is none." })
  prompt(
    @Arg("id", () => ID, { nullable: true, description: "The prompt's id." }) id?: string,
    @Arg("name", () => String, { nullable: true, description: "The prompt's name." }) name?: string,
  ) {
    return this.promptService.get({ id, name }, "prompt");
  }

  @Query(() => PromptConnection, { description: "Prompts, a page at a time (Relay cursor connection)." })
  async prompts(
    @Arg("first", () => Int, { nullable: true, description: "Page size, 0 to 200 (default 20)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
    @Arg("filter", () => PromptFilter, { nullable: true, description: "Which prompts to list." }) filter?: PromptFilter,
    @Arg("orderBy", () => PromptOrder, { nullable: true, description: "Sort order (default NAME ascending)." })
    orderBy?: PromptOrder,
  ) {
    const query = { first, after, ...filter, orderBy: orderBy?.field, direction: orderBy?.direction };
    const page = await this.promptService.list(query);
    return toConnection(page, page.cursor, () => this.promptService.count(query));
  }

  @Query(() => PromptVersion, { nullable: true, description: "One version of a prompt; NOT_FOUND when there is none." })
  promptVersion(
    @Arg("prompt", () => PromptRef, { description: "The prompt, by id or name." }) prompt: PromptRef,
    @Arg("number", () => Int, { description: "The version number." }) number: number,
  ) {
    return this.promptService.version(prompt, number);
  }

  @FieldResolver(() => [String], { description: "Tags, sorted." })
  tags(@Root() prompt: PromptRecord, @Ctx() ctx: AppContext) {
    return ctx.loaders.prompts.tags.load(prompt.id);
  }

  @FieldResolver(() => Int, { description: "How many versions the prompt has (versions are never deleted one by one)." })
  versionCount(@Root() prompt: PromptRecord) {
    return prompt.latestVersionNumber;
  }

  @FieldResolver(() => PromptVersion, { description: "The newest version." })
  async latestVersion(@Root() prompt: PromptRecord, @Ctx() ctx: AppContext) {
    // Read with the versions field's page when both are asked for (one statement for both).
    const number = prompt.latestVersionNumber;
    const [version] = await ctx.loaders.prompts.versionRange.load({ promptId: prompt.id, from: number, to: number, type: prompt.type });
    if (!version) throw new Error(`prompt ${prompt.id} lacks its latest version ${prompt.latestVersionNumber}`);
    return version;
  }

  @FieldResolver(() => PromptVersionConnection, { description: "The versions, newest first." })
  async versions(
    @Root() prompt: PromptRecord,
    @Ctx() ctx: AppContext,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 0 to 200 (default 20)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
  ) {
    const limit = pageSize(first);
    // Versions are numbered 1 to latestVersionNumber without gaps (VersionSpan), so the page is
    // the `limit` numbers below the cursor, and more follow it while it does not reach 1. Bounded
    // by this prompt row's latest: a version added since is not on the page, as in totalCount.
    const to = Math.min(prompt.latestVersionNumber, (after ? versionCursor(after) : Number.POSITIVE_INFINITY) - 1);
    const from = Math.max(1, to - limit + 1);
    const items = limit === 0 || to < 1 ? [] : await ctx.loaders.prompts.versionRange.load({ promptId: prompt.id, from, to, type: prompt.type });
    const page = { items, hasNextPage: items.length > 0 && from > 1, hasPreviousPage: after != null };
    return toConnection(page, (v) => encodeCursor({ v: v.number }), () => prompt.latestVersionNumber);
  }
}

function versionCursor(after: string): number {
  const cursor = decodeCursor(after);
  if (typeof cursor.v !== "number" || !Number.isInteger(cursor.v)) throw badInput("after", "after is not a version cursor");
  return cursor.v;
}
