import { Arg, Ctx, FieldResolver, Query, Resolver, Root } from "type-graphql";
import type { AppContext } from "../../context.js";
import type { PromptRecord } from "../../domain/prompts/prompt.repository.js";
import type { RenderService } from "../../domain/prompts/render.service.js";
import { RenderedPrompt, RenderPromptInput } from "./label.types.js";
import { Prompt } from "./prompt.types.js";

@Resolver(() => Prompt)
export class PromptRenderResolver {
  constructor(private readonly renderer: RenderService) {}

  @Query(() => RenderedPrompt, {
    complexity: 50,
    description:
      "Renders a prompt's version (by label, default `latest`, or number) with variables and includes. " +
      "A missing variable is BAD_USER_INPUT naming each one; unused variables come back as warnings.",
  })
  async renderPrompt(@Arg("input", () => RenderPromptInput, { description: "Prompt, label or version, variables." }) input: RenderPromptInput) {
    const result = await this.renderer.render(input);
    return { ...result, type: result.version.content.type, includes: result.included };
  }

  @FieldResolver(() => [Prompt], { description: "The prompts this prompt's latest version includes with {{> name}}." })
  async dependencies(@Root() prompt: PromptRecord, @Ctx() ctx: AppContext) {
    const edges = await ctx.loaders.prompts.includes.load(prompt.id);
    const found = await ctx.loaders.prompts.byId.loadMany(edges.map((e) => e.includedId));
    return found.filter((p): p is PromptRecord => p !== null && !(p instanceof Error)).sort((a, b) => a.name.localeCompare(b.name));
  }

  @FieldResolver(() => [Prompt], {
    description: "The prompts whose latest version includes this one: what a change here affects. Set transitive for the whole chain.",
  })
  async dependents(
    @Root() prompt: PromptRecord,
    @Ctx() ctx: AppContext,
    @Arg("transitive", { defaultValue: false, description: "Also the dependents of dependents, and so on." }) transitive: boolean,
  ) {
    const seen = new Set<string>();
    let frontier = [prompt.id];
    while (frontier.length > 0) {
      const next = (await ctx.loaders.prompts.includedBy.loadMany(frontier)).flatMap((ids) => (Array.isArray(ids) ? ids : []));
      frontier = next.filter((id) => id !== prompt.id && !seen.has(id));
      frontier.forEach((id) => seen.add(id));
      if (!transitive) break;
    }
    const found = await ctx.loaders.prompts.byId.loadMany([...seen]);
    return found.filter((p): p is PromptRecord => p !== null && !(p instanceof Error)).sort((a, b) => a.name.localeCompare(b.name));
  }
}
