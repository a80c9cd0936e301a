import type { LlmConfig } from "../../config.js";
import { badInput } from "../../errors.js";
import { BuiltinRefinementProvider } from "./builtin.provider.js";
import { ChatCompletionsClient, type CircuitState } from "./llm/chat-completions.client.js";
import { LlmRefinementProvider } from "./llm.provider.js";
import type { RefinementProvider } from "./refiner.js";

export interface ProviderInfo {
  name: string;
  kind: RefinementProvider["kind"];
  defaultModel: string;
  isDefault: boolean;
  /** For an LLM: the circuit breaker's state ("closed" is healthy). */
  circuit: CircuitState | null;
}

/** The configured providers by name: always `builtin`, plus the LLM when one is configured (then the default). */
export class ProviderRegistry {
  private readonly byName = new Map<string, { provider: RefinementProvider; circuit: () => CircuitState | null }>();

  constructor(
    providers: { provider: RefinementProvider; circuit?: () => CircuitState }[],
    private readonly defaultName: string,
  ) {
    for (const { provider, circuit } of providers) this.byName.set(provider.name, { provider, circuit: circuit ?? (() => null) });
  }

  static fromConfig(llm: LlmConfig | undefined): ProviderRegistry {
    const builtin = { provider: new BuiltinRefinementProvider() };
    if (!llm) return new ProviderRegistry([builtin], builtin.provider.name);
    const client = new ChatCompletionsClient({
      name: llm.name,
      baseUrl: llm.baseUrl,
      ...(llm.apiKey && { apiKey: llm.apiKey }),
      defaultModel: llm.defaultModel,
      timeoutMs: llm.timeoutMs,
      idleTimeoutMs: llm.idleTimeoutMs,
      maxRetries: llm.maxRetries,
      stream: llm.stream,
    });
    const provider = new LlmRefinementProvider({ name: llm.name, defaultModel: llm.defaultModel, client });
    return new ProviderRegistry([builtin, { provider, circuit: () => client.circuitState }], llm.name);
  }

  /** The named provider, or the default; BAD_USER_INPUT naming the known ones otherwise. */
  get(name: string | null | undefined): RefinementProvider {
    const wanted = name?.trim() || this.defaultName;
    const entry = this.byName.get(wanted);
    if (!entry) throw badInput("provider", `unknown provider "${wanted}"; configured: ${[...this.byName.keys()].join(", ")}`);
    return entry.provider;
  }

  list(): ProviderInfo[] {
    return [...this.byName.values()].map(({ provider, circuit }) => ({
      name: provider.name,
      kind: provider.kind,
      defaultModel: provider.defaultModel,
      isDefault: provider.name === this.defaultName,
      circuit: circuit(),
    }));
  }
}
