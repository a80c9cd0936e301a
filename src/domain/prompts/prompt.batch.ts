// Bulk creation's rules, shared by PromptService.createMany and the bulk worker: the same
// validation as create(), one result per command, names checked once for the whole batch.
import { AppError, badInput } from "../../errors.js";
import type { CreatePromptCommand, ServiceLimits } from "./prompt.commands.js";
import { LIMITS, optionalText, validateConfig, validateContent, validateName, validateTags } from "./prompt.logic.js";
import type { NewVersion, PromptRecord } from "./prompt.repository.js";
import { buildVersion, newPrompt } from "./version.factory.js";

export interface NewPromptRow {
  prompt: PromptRecord;
  version: NewVersion;
  tags: string[];
}

export type CreateManyResult = { prompt: PromptRecord } | { error: AppError };
export type Planned = NewPromptRow | { error: AppError };

export const nameTaken = (name: string) => new AppError("CONFLICT", `a prompt named ${name} already exists`, { field: "name", value: name });

/** Whether a batch can take this command (no copyFrom, no includes to resolve). */
export function batchable(command: CreatePromptCommand): boolean {
  const texts = [command.text ?? "", ...(command.messages ?? []).map((m) => m.content)];
  return command.copyFrom == null && !texts.some((t) => t.includes("{{>"));
}

/** Each command validated on its own: its rows, or its error. */
export function planBatch(commands: CreatePromptCommand[], actor: string | null, now: Date, limits: ServiceLimits): Planned[] {
  return commands.map((command): Planned => {
    try {
      if (!batchable(command)) throw badInput("copyFrom", "createMany takes no copyFrom or includes");
      const type = command.type ?? "TEXT";
      const content = validateContent(type, command, limits.maxContentBytes);
      const config = validateConfig(command.config);
      const prompt = newPrompt(
        {
          name: validateName(command.name),
          type,
          description: optionalText(command.description, "description", LIMITS.descriptionLength) ?? null,
          category: optionalText(command.category, "category", LIMITS.categoryLength) ?? null,
        },
        now,
      );
      const version = buildVersion(1, content, config, { ...command, author: command.author ?? actor }, now);
      return { prompt, version, tags: validateTags(command.tags ?? []) };
    } catch (error) {
      if (error instanceof AppError) return { error };
      // Commands come from user JSON: a field of the wrong type surfaces as a TypeError.
      if (error instanceof TypeError) return { error: badInput("item", `malformed item: ${error.message}`) };
      throw error;
    }
  });
}

export const namesOf = (planned: Planned[]) => planned.flatMap((p) => ("prompt" in p ? [p.prompt.name] : []));

/** A name that exists, or that an earlier command of the same batch takes, is that command's error. */
export function settleNames(planned: Planned[], taken: Set<string>): Planned[] {
  const seen = new Set<string>();
  return planned.map((p): Planned => {
    if ("error" in p) return p;
    if (taken.has(p.prompt.name) || seen.has(p.prompt.name)) return { error: nameTaken(p.prompt.name) };
    seen.add(p.prompt.name);
    return p;
  });
}
