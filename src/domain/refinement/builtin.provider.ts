// The offline provider: deterministic rules (builtin-refiner.logic.ts), no model, no network.
import { refineWithRules } from "./builtin-refiner.logic.js";
import { ProviderError, type RefineHooks, type RefineRequest, type RefineResult, type RefinementProvider } from "./refiner.js";

const MODEL = "rules-v1";

export class BuiltinRefinementProvider implements RefinementProvider {
  readonly kind = "builtin" as const;
  readonly defaultModel = MODEL;

  constructor(readonly name = "builtin") {}

  async refine(request: RefineRequest, hooks: RefineHooks): Promise<RefineResult> {
    const started = performance.now();
    if (hooks.signal.aborted) throw new ProviderError("the refinement was cancelled", { cancelled: true });
    const outcome = refineWithRules(request.content, request.instructions);
    const rationale =
      request.examples.length > 0
        ? `${outcome.rationale} The rules do not use examples, so the ${request.examples.length === 1 ? "example was" : `${request.examples.length} examples were`} not taken into account.`
        : outcome.rationale;
    let firstTokenMs: number | null = null;
    if (hooks.onDelta) {
      firstTokenMs = Math.round(performance.now() - started);
      hooks.onDelta(outcome.proposal);
    }
    return {
      proposal: outcome.proposal,
      critique: outcome.critique,
      rationale,
      changes: outcome.changes,
      raw: JSON.stringify({ ...outcome, rationale }, null, 2),
      model: MODEL,
      usage: null,
      timings: { firstTokenMs, totalMs: Math.round(performance.now() - started) },
      parsedAs: "rules",
      attempts: 1,
    };
  }
}
