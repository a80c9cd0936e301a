// A refinement provider backed by an OpenAI-compatible chat model: builds the conversation,
// asks the completion client, and reads the reply (llm-reply.logic.ts).
import { buildRefinementMessages, parseRefinementReply, type RefinementMessage } from "./llm-reply.logic.js";
import type { ChatCompletion, ChatCompletionOptions } from "./llm/chat-completions.client.js";
import { ProviderError, type RefineHooks, type RefineRequest, type RefineResult, type RefinementProvider } from "./refiner.js";

/** The client's own shapes: the provider asks for nothing else. */
export type CompletionOptions = ChatCompletionOptions;
export type Completion = ChatCompletion;

/** What this provider needs of a chat-completions client (ChatCompletionsClient has this shape). */
export interface CompletionClient {
  complete(messages: RefinementMessage[], options: CompletionOptions): Promise<Completion>;
}

const cancelled = () => new ProviderError("the refinement was cancelled", { cancelled: true });

export class LlmRefinementProvider implements RefinementProvider {
  readonly kind = "openai-compatible" as const;
  readonly name: string;
  readonly defaultModel: string;
  private readonly client: CompletionClient;

  constructor(options: { name: string; defaultModel: string; client: CompletionClient }) {
    this.name = options.name;
    this.defaultModel = options.defaultModel;
    this.client = options.client;
  }

  async refine(request: RefineRequest, hooks: RefineHooks): Promise<RefineResult> {
    if (hooks.signal.aborted) throw cancelled();
    const model = request.model ?? this.defaultModel;
    const options: CompletionOptions = { model, signal: hooks.signal };
    if (request.temperature !== undefined) options.temperature = request.temperature;
    if (hooks.onDelta) options.onDelta = hooks.onDelta;
    if (hooks.onRetry) options.onRetry = hooks.onRetry;

    let reply: Completion;
    try {
      reply = await this.client.complete(buildRefinementMessages(request), options);
    } catch (error) {
      if (error instanceof ProviderError) throw error;
      if (hooks.signal.aborted) throw cancelled();
      throw new ProviderError(`the model could not be reached: ${error instanceof Error ? error.message : String(error)}`);
    }

    const parsed = parseRefinementReply(reply.content);
    if (!parsed.ok) {
      const cut = reply.finishReason === "length" ? " (the reply was cut off at the model's length limit)" : "";
      throw new ProviderError(`the model's reply could not be used: ${parsed.reason}${cut}`, { raw: reply.content, attempts: reply.attempts });
    }
    return {
      proposal: parsed.proposal,
      critique: parsed.critique,
      rationale: parsed.rationale,
      changes: parsed.changes,
      raw: reply.content,
      model: reply.model || model,
      usage: reply.usage,
      timings: { firstTokenMs: reply.firstTokenMs, totalMs: reply.totalMs },
      parsedAs: parsed.parsedAs,
      attempts: reply.attempts,
    };
  }
}
