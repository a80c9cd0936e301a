import { Arg, Int, Query, Resolver } from "type-graphql";
import type { DiffService } from "../../domain/prompts/diff.service.js";
import { PromptVersionDiff } from "./diff.types.js";
import { PromptRef } from "./prompt.inputs.js";

@Resolver()
export class DiffResolver {
  constructor(private readonly diffs: DiffService) {}

  @Query(() => PromptVersionDiff, {
    complexity: 200,
    description: "Compares two versions of a prompt: line hunks with word-level changes, chat messages, config keys, variables.",
  })
  diffPromptVersions(
    @Arg("prompt", () => PromptRef, { description: "The prompt, by id or name." }) prompt: PromptRef,
    @Arg("from", () => Int, { description: "The older version number." }) from: number,
    @Arg("to", () => Int, { description: "The newer version number." }) to: number,
    @Arg("context", () => Int, { nullable: true, description: "Unchanged lines around each change (default 3)." }) context?: number,
  ) {
    return this.diffs.diffVersions(prompt, from, to, context);
  }
}
