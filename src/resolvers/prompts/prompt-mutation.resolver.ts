import { Arg, Ctx, Mutation, Resolver } from "type-graphql";
import type { AppContext } from "../../context.js";
import type { PromptService } from "../../domain/prompts/prompt.service.js";
import { CreatePromptInput, PromptRef, UpdatePromptInput } from "./prompt.inputs.js";
import { DeletePromptPayload, Prompt, UpdatePromptPayload } from "./prompt.types.js";

@Resolver()
export class PromptMutationResolver {
  constructor(private readonly prompts: PromptService) {}

  @Mutation(() => Prompt, { description: "Creates a prompt with its version 1." })
  async createPrompt(
    @Arg("input", () => CreatePromptInput, { description: "The prompt and its first version." }) input: CreatePromptInput,
    @Ctx() ctx: AppContext,
  ) {
    const { content, ...rest } = input;
    const { prompt } = await this.prompts.create({ ...rest, text: content }, ctx.actor);
    return prompt;
  }

  @Mutation(() => UpdatePromptPayload, {
    description: "Changes a prompt; a change of content or config creates the next version.",
  })
  async updatePrompt(
    @Arg("prompt", () => PromptRef, { description: "The prompt, by id or name." }) prompt: PromptRef,
    @Arg("input", () => UpdatePromptInput, { description: "What to change." }) input: UpdatePromptInput,
    @Ctx() ctx: AppContext,
  ) {
    const { content, ...rest } = input;
    const result = await this.prompts.update(prompt, { ...rest, text: content }, { actor: ctx.actor });
    return { prompt: result.prompt, version: result.version, versionCreated: result.version !== null };
  }

  @Mutation(() => Prompt, { description: "Archives a prompt: hidden from default listings and read-only. Idempotent." })
  archivePrompt(@Arg("prompt", () => PromptRef, { description: "The prompt, by id or name." }) prompt: PromptRef) {
    return this.prompts.archive(prompt);
  }

  @Mutation(() => Prompt, { description: "Restores an archived prompt. Idempotent." })
  restorePrompt(@Arg("prompt", () => PromptRef, { description: "The prompt, by id or name." }) prompt: PromptRef) {
    return this.prompts.restore(prompt);
  }

  @Mutation(() => DeletePromptPayload, { description: "Deletes a prompt and all its versions for good." })
  async deletePrompt(@Arg("prompt", () => PromptRef, { description: "The prompt, by id or name." }) prompt: PromptRef) {
    const deleted = await this.prompts.delete(prompt);
    return { id: deleted.id, name: deleted.name };
  }
}
