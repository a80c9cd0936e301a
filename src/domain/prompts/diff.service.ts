import { badInput } from "../../errors.js";
import { diffPromptContent, type PromptDiff } from "./prompt-diff.logic.js";
import type { PromptVersionRecord } from "./prompt.repository.js";
import type { PromptRef } from "./prompt.commands.js";
import type { PromptService } from "./prompt.service.js";

export interface VersionDiff extends PromptDiff {
  from: PromptVersionRecord;
  to: PromptVersionRecord;
}

export class DiffService {
  constructor(private readonly prompts: PromptService) {}

  /** Compares two versions of one prompt: text hunks with word changes, chat messages, config keys, variables. */
  async diffVersions(ref: PromptRef, from: number, to: number, context?: number | null): Promise<VersionDiff> {
    if (context != null && (!Number.isInteger(context) || context < 0 || context > 1000)) {
      throw badInput("context", "context must be an integer from 0 to 1000");
    }
    const prompt = await this.prompts.get(ref);
    const [a, b] = await Promise.all([this.prompts.versionOf(prompt, from), this.prompts.versionOf(prompt, to)]);
    return { ...diffPromptContent(a, b, { context: context ?? undefined }), from: a, to: b };
  }
}
