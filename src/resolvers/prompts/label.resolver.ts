import { Arg, Ctx, FieldResolver, Int, Mutation, Resolver, Root } from "type-graphql";
import type { AppContext } from "../../context.js";
import type { LabelRecord } from "../../domain/prompts/label.repository.js";
import { LATEST, type LabelService } from "../../domain/prompts/label.service.js";
import type { PromptRecord, PromptVersionRecord } from "../../domain/prompts/prompt.repository.js";
import { decodeCursor, encodeCursor, pageSize } from "../../domain/shared/pagination.js";
import { badInput } from "../../errors.js";
import { toConnection } from "../shared/connection.js";
import { LabelMoveConnection, PromptLabel, RollbackPromptInput, SetPromptLabelInput } from "./label.types.js";
import { PromptRef } from "./prompt.inputs.js";
import { Prompt, PromptVersion, UpdatePromptPayload } from "./prompt.types.js";

@Resolver(() => Prompt)
export class PromptLabelResolver {
  constructor(readonly labelService: LabelService) {}

  @Mutation(() => PromptLabel, { description: "Points a label at a version (creating or moving it); every move is recorded." })
  setPromptLabel(@Arg("input", () => SetPromptLabelInput, { description: "Prompt, label, version, reason." }) input: SetPromptLabelInput, @Ctx() ctx: AppContext) {
    return this.labelService.setLabel(input.prompt, input.label, input.version, input.reason ?? null, ctx.actor);
  }

  @Mutation(() => Prompt, { description: "Removes a label from a prompt; the removal is recorded." })
  removePromptLabel(
    @Arg("prompt", () => PromptRef, { description: "The prompt, by id or name." }) prompt: PromptRef,
    @Arg("label", { description: "The label to remove." }) label: string,
    @Arg("reason", () => String, { nullable: true, description: "Why, recorded in the label history." }) reason: string | null,
    @Ctx() ctx: AppContext,
  ) {
    return this.labelService.removeLabel(prompt, label, reason ?? null, ctx.actor);
  }

  @Mutation(() => UpdatePromptPayload, {
    description: "Creates a new version equal to an old one (history is never rewritten), optionally moving labels to it atomically.",
  })
  async rollbackPrompt(@Arg("input", () => RollbackPromptInput, { description: "Prompt, target version, labels to move." }) input: RollbackPromptInput, @Ctx() ctx: AppContext) {
    const result = await this.labelService.rollback(input.prompt, input.toVersion, input.commitMessage ?? null, input.moveLabels ?? [], ctx.actor);
    return { prompt: result.prompt, version: result.version, versionCreated: result.version !== null };
  }

  @FieldResolver(() => [PromptLabel], { description: "The labels, `latest` first, then by name." })
  async labels(@Root() prompt: PromptRecord, @Ctx() ctx: AppContext): Promise<Omit<LabelRecord, "promptId">[]> {
    const stored = await ctx.loaders.prompts.labels.load(prompt.id);
    return [{ name: LATEST, versionNumber: prompt.latestVersionNumber, updatedAt: prompt.updatedAt, updatedBy: null }, ...stored];
  }

  @FieldResolver(() => LabelMoveConnection, { description: "Every label move of this prompt, newest first." })
  async labelHistory(
    @Root() prompt: PromptRecord,
    @Ctx() ctx: AppContext,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 0 to 200 (default 20)." }) first?: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string,
  ) {
    const limit = pageSize(first);
    let beforeSeq: number | undefined;
    if (after) {
      const cursor = decodeCursor(after);
      if (typeof cursor.s !== "number") throw badInput("after", "after is not a label history cursor");
      beforeSeq = cursor.s;
    }
    const rows = limit === 0 ? [] : await ctx.loaders.prompts.labelHistory.load({ promptId: prompt.id, limit: limit + 1, beforeSeq });
    const page = { items: rows.slice(0, limit), hasNextPage: rows.length > limit, hasPreviousPage: after != null };
    return toConnection(page, (e) => encodeCursor({ s: e.seq }), () => this.labelService.historyCount(prompt.id));
  }
}

@Resolver(() => PromptVersion)
export class PromptVersionLabelResolver {
  @FieldResolver(() => [String], { description: "The labels pointing at this version (`latest` included)." })
  async labels(@Root() version: PromptVersionRecord, @Ctx() ctx: AppContext): Promise<string[]> {
    const [prompt, labels] = await Promise.all([
      ctx.loaders.prompts.byId.load(version.promptId),
      ctx.loaders.prompts.labels.load(version.promptId),
    ]);
    const names = labels.filter((l) => l.versionNumber === version.number).map((l) => l.name);
    return prompt?.latestVersionNumber === version.number ? [LATEST, ...names] : names;
  }
}
