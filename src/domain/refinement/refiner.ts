// The one small interface every refinement provider implements, and the shapes it trades in.
// A provider turns (prompt text, instructions, examples) into a proposal; it knows nothing about
// sessions, documents or the database.

export interface RefinementExample {
  input: string;
  idealOutput: string;
}

export interface RefineRequest {
  /** The prompt text to refine (a version's content, or a parent session's proposal). */
  content: string;
  /** What the person asked for; may be empty (then the provider improves the prompt generally). */
  instructions: string;
  examples: RefinementExample[];
  /** Provider-specific model name; undefined means the provider's default. */
  model?: string;
  temperature?: number;
}

export interface RefineHooks {
  /** Cancels the work, including an in-flight HTTP stream. */
  signal: AbortSignal;
  /** Called with each piece of generated text as it arrives (LLM token deltas). */
  onDelta?: (text: string) => void;
  /** Called before a retry, with the attempt number that failed, the reason and the wait. */
  onRetry?: (info: { attempt: number; reason: string; delayMs: number }) => void;
}

export interface TokenUsage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface RefineResult {
  /** The rewritten prompt. */
  proposal: string;
  /** What is wrong with / could be better in the original. */
  critique: string;
  /** Why the proposal looks the way it does. */
  rationale: string;
  /** Individual changes, one sentence each (the builtin refiner lists every rule it applied). */
  changes: string[];
  /** The provider's reply exactly as received (for an LLM: the concatenated completion text). */
  raw: string;
  /** The model that answered (as reported by the upstream when it says so). */
  model: string;
  usage: TokenUsage | null;
  /** Milliseconds from the request to the first generated text, and to the end. */
  timings: { firstTokenMs: number | null; totalMs: number };
  /** How the reply was understood: "json", "sections" (tagged/markdown sections), "prose" or "rules" (builtin). */
  parsedAs: "json" | "sections" | "prose" | "rules";
  attempts: number;
}

export interface RefinementProvider {
  /** Configured name, e.g. "builtin" or "openai". */
  readonly name: string;
  readonly kind: "builtin" | "openai-compatible";
  readonly defaultModel: string;
  refine(request: RefineRequest, hooks: RefineHooks): Promise<RefineResult>;
}

/**
 * Why an upstream call failed, in words for the person who started the session.
 * Providers throw this (never a raw fetch error); the session ends FAILED with
 * UPSTREAM_UNAVAILABLE (or CANCELLED when `cancelled`).
 */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly details: { status?: number; attempts?: number; cancelled?: boolean; circuitOpen?: boolean; raw?: string } = {},
  ) {
    super(message);
    this.name = "ProviderError";
  }
}
