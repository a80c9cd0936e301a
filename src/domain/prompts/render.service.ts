import { AppError, badInput, notFound } from "../../errors.js";
import type { LabelService } from "./label.service.js";
import { LATEST } from "./label.service.js";
import type { ChatMessage } from "./prompt.logic.js";
import type { PromptRecord, PromptRepository, PromptVersionRecord } from "./prompt.repository.js";
import { parseIncludes, renderText, stringifyVariables, type IncludeRef } from "./template.logic.js";

/** How deep includes may nest: deep enough for real composition, shallow enough to stop abuse. */
export const MAX_INCLUDE_DEPTH = 10;

export interface RenderRequest {
  name: string;
  label?: string | null;
  version?: number | null;
  variables?: Record<string, unknown> | null;
}

export interface RenderResult {
  prompt: PromptRecord;
  version: PromptVersionRecord;
  /** The label that selected the version (null when a version number was asked for). */
  label: string | null;
  text: string | null;
  messages: ChatMessage[] | null;
  variablesUsed: string[];
  warnings: string[];
  /** Every prompt version pulled in by includes, in order of first use. */
  included: { prompt: PromptRecord; version: PromptVersionRecord }[];
}

/**
 * Where rendering reads prompts, labels and versions: the database by default, or the serving
 * cache (serving.cache.ts) on the hot path.
 */
export interface TemplateSource {
  promptByName(name: string): Promise<PromptRecord | null>;
  /** The version a label points at (`latest` included); null when the prompt has no such label. */
  labelVersion(prompt: PromptRecord, label: string): Promise<number | null>;
  version(prompt: PromptRecord, number: number): Promise<PromptVersionRecord | null>;
}

interface Accumulator {
  used: Set<string>;
  missing: Set<string>;
  included: Map<string, { prompt: PromptRecord; version: PromptVersionRecord }>;
}

export class RenderService {
  /** The database, through the services' own lookups. */
  readonly database: TemplateSource;

  constructor(
    repo: PromptRepository,
    labels: LabelService,
    /** Largest rendered text (per template or message), in characters. */
    private readonly maxRenderedChars: number,
  ) {
    this.database = {
      promptByName: (name) => repo.findByName(name),
      labelVersion: (prompt, label) => labels.resolve(prompt, label).catch((error: unknown) => {
        if (error instanceof AppError && error.code === "NOT_FOUND") return null;
        throw error;
      }),
      version: async (prompt, number) => (await repo.versionsByKeys([{ promptId: prompt.id, number }]))[0] ?? null,
    };
  }

  async render(request: RenderRequest, source: TemplateSource = this.database): Promise<RenderResult> {
    if (request.label != null && request.version != null) throw badInput("version", "give a label or a version, not both");
    const name = request.name?.trim() ?? "";
    const prompt = name ? await source.promptByName(name) : null;
    if (!prompt) throw notFound("prompt", "name", request.name);
    const label = request.version != null ? null : (request.label ?? LATEST);
    const number = label !== null ? await source.labelVersion(prompt, label) : request.version!;
    if (number === null) throw notFound(`label ${label} on prompt ${prompt.name}`, "label", label);
    const version = await source.version(prompt, number);
    if (!version) throw notFound(`version ${number} of prompt ${prompt.name}`, "version", number);
    return this.renderVersion(prompt, version, label, request.variables ?? {}, source);
  }

  /** Renders a version already looked up (serving has it from its cache). */
  async renderVersion(
    prompt: PromptRecord,
    version: PromptVersionRecord,
    label: string | null,
    values: Record<string, unknown>,
    source: TemplateSource = this.database,
  ): Promise<RenderResult> {
    const variables = stringifyVariables(values);
    const acc: Accumulator = { used: new Set(), missing: new Set(), included: new Map() };

    let text: string | null = null;
    let messages: ChatMessage[] | null = null;
    if (version.content.type === "TEXT") {
      text = await this.renderOne(version.content.text, variables, acc, [prompt.name], source);
    } else {
      messages = [];
      for (const message of version.content.messages) {
        messages.push({ role: message.role, content: await this.renderOne(message.content, variables, acc, [prompt.name], source) });
      }
    }
    if (acc.missing.size > 0) {
      const missing = [...acc.missing];
      throw badInput("variables", `missing variable${missing.length > 1 ? "s" : ""}: ${missing.join(", ")}`, { missing });
    }
    const unused = Object.keys(variables).filter((name) => !acc.used.has(name));
    return {
      prompt,
      version,
      label,
      text,
      messages,
      variablesUsed: [...acc.used],
      warnings: unused.map((name) => `variable "${name}" is not used by this prompt`),
      included: [...acc.included.values()],
    };
  }

  /** Renders one template, rendering its includes first (depth-first, each once per stack). */
  private async renderOne(template: string, variables: Record<string, string>, acc: Accumulator, stack: string[], source: TemplateSource): Promise<string> {
    const refs = parseIncludes({ type: "TEXT", text: template });
    const included = new Map<string, string>();
    for (const ref of refs) included.set(ref.raw, await this.renderInclude(ref, variables, acc, stack, source));
    // Includes repeated at every level multiply the output: check its size before building it.
    let size = template.length;
    for (const [raw, text] of included) size += text.length * (template.split(raw).length - 1);
    if (size > this.maxRenderedChars) {
      throw badInput("name", `the rendered prompt would exceed ${this.maxRenderedChars} characters (includes repeat too much)`, {
        limit: this.maxRenderedChars,
      });
    }
    const outcome = renderText(template, variables, included);
    if (outcome.text.length > this.maxRenderedChars) {
      throw badInput("variables", `the rendered prompt would exceed ${this.maxRenderedChars} characters`, { limit: this.maxRenderedChars });
    }
    outcome.used.forEach((name) => acc.used.add(name));
    outcome.missing.forEach((name) => acc.missing.add(name));
    return outcome.text;
  }

  private async renderInclude(ref: IncludeRef, variables: Record<string, string>, acc: Accumulator, stack: string[], source: TemplateSource): Promise<string> {
    if (stack.includes(ref.name)) {
      throw badInput("name", `include cycle: ${[...stack, ref.name].join(" -> ")}`, { cycle: [...stack, ref.name] });
    }
    if (stack.length > MAX_INCLUDE_DEPTH) throw badInput("name", `includes nest deeper than ${MAX_INCLUDE_DEPTH} levels at ${ref.raw}`);
    const target = await source.promptByName(ref.name);
    if (!target) throw badInput("name", `${ref.raw} includes a prompt that no longer exists: ${ref.name}`, { include: ref.name });
    const number = ref.version ?? (await source.labelVersion(target, ref.label ?? LATEST));
    if (number === null) throw badInput("name", `${ref.raw}: ${ref.name} has no label ${ref.label}`, { include: ref.name });
    const version = await source.version(target, number);
    if (!version) throw badInput("name", `${ref.raw}: ${ref.name} has no version ${number}`, { include: ref.name });
    if (version.content.type !== "TEXT") {
      throw badInput("name", `${ref.raw}: only TEXT prompts can be included, ${ref.name} is ${version.content.type}`, { include: ref.name });
    }
    const key = `${target.id}:${number}`;
    if (!acc.included.has(key)) acc.included.set(key, { prompt: target, version });
    return this.renderOne(version.content.text, variables, acc, [...stack, ref.name], source);
  }
}
