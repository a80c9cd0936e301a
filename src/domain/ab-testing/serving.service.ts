import { badInput, notFound } from "../../errors.js";
import { validateLabel, LATEST } from "../prompts/label.service.js";
import type { PromptVersionRecord } from "../prompts/prompt.repository.js";
import type { RenderResult, RenderService } from "../prompts/render.service.js";
import { newId } from "../shared/ids.js";
import { assignVariant } from "./ab-assignment.logic.js";
import type { AbTestRecord, AbVariantRecord } from "./ab-test.repository.js";
import type { ExposureBuffer } from "./exposure.buffer.js";
import type { ServingCache } from "./serving.cache.js";

export interface ResolveInput {
  name: string;
  /** The label asked for (default production). */
  label?: string | null;
  /** Who is served: the same subject always gets the same variant of a test. */
  subjectKey?: string | null;
  variables?: Record<string, unknown> | null;
}

export interface Resolved extends RenderResult {
  test: AbTestRecord | null;
  variant: AbVariantRecord | null;
  /** The subject the answer was for: the caller's, or one made up for an anonymous caller inside a test (report outcomes with it). */
  subjectKey: string | null;
}

/**
 * The hot path: which prompt an application gets. From memory (ServingCache) after the first
 * request; a running test on the label picks the variant by a hash of test and subject, and
 * the exposure is buffered (ExposureBuffer), so a request writes nothing and, warm, reads
 * nothing from the database.
 */
export class ServingService {
  constructor(
    private readonly cache: ServingCache,
    private readonly renderer: RenderService,
    private readonly exposures: ExposureBuffer,
  ) {}

  async resolve(input: ResolveInput): Promise<Resolved> {
    const label = input.label == null || input.label.trim() === LATEST ? (input.label?.trim() ?? "production") : validateLabel(input.label);
    const subject = input.subjectKey?.trim() || null;
    if (subject !== null && subject.length > 200) throw badInput("subjectKey", "subjectKey must be at most 200 characters");
    const name = input.name?.trim() ?? "";
    if (name.length > 200) throw badInput("name", "name must be at most 200 characters");
    const prompt = name ? await this.cache.promptByName(name) : null;
    if (!prompt) throw notFound("prompt", "name", input.name);

    const served = await this.cache.served(prompt, label);
    if (!served) throw notFound("prompt", "name", input.name);
    const test = served.test;
    let variant: AbVariantRecord | null = null;
    let subjectKey = subject;
    let version: PromptVersionRecord | null;
    if (test) {
      // An anonymous caller gets a made-up key, assigned like any other, so reusing it keeps the variant.
      subjectKey ??= `anonymous-${newId()}`;
      variant = test.variants[assignVariant(test.id, subjectKey, test.variants.map((v) => v.weight))]!;
      let number = variant.versionNumber ?? (await this.cache.labelVersion(prompt, variant.versionLabel!));
      if (number === null) {
        // The variant's label was removed while the test runs: serve the label's own version, and count nothing.
        variant = null;
        number = served.target;
        if (number === null) throw notFound(`label ${label} on prompt ${prompt.name}`, "label", label);
      }
      version = number === served.target ? served.version : await this.cache.version(prompt, number);
      if (!version) throw notFound(`version ${number} of prompt ${prompt.name}`, "version", number);
    } else {
      if (served.target === null) throw notFound(`label ${label} on prompt ${prompt.name}`, "label", label);
      version = served.version;
      if (!version) throw notFound(`version ${served.target} of prompt ${prompt.name}`, "version", served.target);
    }
    const rendered = await this.renderer.renderVersion(prompt, version, label, input.variables ?? {}, this.cache);
    // Recorded once the answer is certain (a missing variable throws above: no exposure).
    if (test && variant) this.exposures.record(test.id, subjectKey!, variant.index);
    return { ...rendered, test: variant ? test : null, variant, subjectKey: variant ? subjectKey : subject };
  }
}
