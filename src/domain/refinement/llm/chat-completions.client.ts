// The transport of the `openai-compatible` provider: one HTTP client for the Chat Completions
// wire format (OpenAI, vLLM, Ollama, LM Studio, llama.cpp server, LiteLLM...). Global fetch,
// SSE parsed by hand, per-attempt timeouts, retries with backoff, and a circuit breaker.
import { ProviderError, type RefineHooks, type TokenUsage } from "../refiner.js";
import { SseParser, type SseEvent } from "./sse.js";

export interface ChatMessage {
  role: "system" | "user" | "assistant";
  content: string;
}

export interface ChatCompletionOptions {
  model?: string;
  temperature?: number;
  signal: AbortSignal;
  onDelta?: (text: string) => void;
  onRetry?: RefineHooks["onRetry"];
}

export interface ChatCompletion {
  content: string;
  model: string;
  usage: TokenUsage | null;
  firstTokenMs: number | null;
  totalMs: number;
  attempts: number;
  finishReason: string | null;
}

export interface ChatCompletionsClientOptions {
  name: string;
  baseUrl: string;
  apiKey?: string;
  defaultModel: string;
  /** Bounds each attempt as a whole. */
  timeoutMs: number;
  /** Bounds the silence between received bytes; defaults to timeoutMs. */
  idleTimeoutMs?: number;
  maxRetries?: number;
  stream?: boolean;
  /** Ask for `stream_options.include_usage` (a few old servers reject it). Default true. */
  streamUsage?: boolean;
  retryBaseMs?: number;
  retryMaxMs?: number;
  breaker?: { failureThreshold?: number; cooldownMs?: number };
  now?: () => number;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

export type CircuitState = "closed" | "open" | "half-open";

/** Retry-After (delta seconds or HTTP date) in ms from `nowMs`; null when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | null {
  const v = value?.trim();
  if (!v) return null;
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - nowMs);
}

/** Exponential backoff with "equal jitter": half fixed, half random. `attempt` counts from 1. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + random() * (cap / 2));
}

// Why one attempt failed; turned into a ProviderError when no retry follows.
class AttemptFailure extends Error {
  constructor(
    message: string,
    readonly f: { retryable: boolean; breaker: boolean; status?: number; retryAfterMs?: number | null; raw?: string; cancelled?: boolean },
  ) {
    super(message);
  }
}

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const done = () => { signal.removeEventListener("abort", abort); resolve(); };
    const timer = setTimeout(done, ms);
    const abort = () => { clearTimeout(timer); reject(signal.reason); };
    signal.addEventListener("abort", abort, { once: true });
  });

const clip = (s: string, n = 500) => (s.length > n ? `${s.slice(0, n)}…` : s);
const rec = (x: unknown): Record<string, unknown> | undefined =>
  typeof x === "object" && x !== null && !Array.isArray(x) ? (x as Record<string, unknown>) : undefined;

function upstreamMessage(body: unknown): string | undefined {
  const err = rec(body)?.error;
  if (typeof err === "string") return err;
  const msg = rec(err)?.message;
  return typeof msg === "string" ? msg : undefined;
}

function readUsage(u: unknown): TokenUsage | null {
  const r = rec(u);
  if (!r || typeof r.prompt_tokens !== "number" || typeof r.completion_tokens !== "number") return null;
  const total = typeof r.total_tokens === "number" ? r.total_tokens : r.prompt_tokens + r.completion_tokens;
  return { promptTokens: r.prompt_tokens, completionTokens: r.completion_tokens, totalTokens: total };
}

export class ChatCompletionsClient {
  readonly name: string;
  readonly defaultModel: string;
  private readonly url: string;
  private readonly o: Required<Omit<ChatCompletionsClientOptions, "apiKey" | "breaker" | "name" | "baseUrl" | "defaultModel">>;
  private readonly threshold: number;
  private readonly cooldownMs: number;
  private failures = 0;
  private openUntil: number | null = null;
  private trialInFlight = false;

  constructor(private readonly opts: ChatCompletionsClientOptions) {
    this.name = opts.name;
    this.defaultModel = opts.defaultModel;
    this.url = `${opts.baseUrl.replace(/\/+$/, "")}/chat/completions`;
    this.o = {
      timeoutMs: opts.timeoutMs,
      idleTimeoutMs: opts.idleTimeoutMs ?? opts.timeoutMs,
      maxRetries: opts.maxRetries ?? 3,
      stream: opts.stream ?? true,
      streamUsage: opts.streamUsage ?? true,
      retryBaseMs: opts.retryBaseMs ?? 500,
      retryMaxMs: opts.retryMaxMs ?? 20_000,
      now: opts.now ?? Date.now,
      sleep: opts.sleep ?? defaultSleep,
      random: opts.random ?? Math.random,
    };
    this.threshold = opts.breaker?.failureThreshold ?? 5;
    this.cooldownMs = opts.breaker?.cooldownMs ?? 30_000;
  }

  get circuitState(): CircuitState {
    if (this.openUntil === null) return "closed";
    return this.o.now() < this.openUntil ? "open" : "half-open";
  }

  async complete(messages: ChatMessage[], opts: ChatCompletionOptions): Promise<ChatCompletion> {
    const t0 = this.o.now();
    if (opts.signal.aborted) throw this.error(`${this.name}: request cancelled`, { cancelled: true, attempts: 0 });
    const trial = this.admit();
    const st = { delivered: false, firstTokenMs: null as number | null };
    let attempts = 0;
    try {
      for (;;) {
        attempts++;
        try {
          const r = await this.attempt(messages, opts, t0, st);
          this.failures = 0;
          this.openUntil = null;
          return { ...r, firstTokenMs: st.firstTokenMs, totalMs: this.o.now() - t0, attempts };
        } catch (e) {
          const fail = e instanceof AttemptFailure ? e : new AttemptFailure(`${this.name}: ${String(e)}`, { retryable: false, breaker: true });
          const { f } = fail;
          if (f.cancelled) throw this.error(fail.message, { cancelled: true, attempts });
          if (!f.retryable || st.delivered || attempts > this.o.maxRetries) {
            if (f.breaker) this.recordFailure();
            let msg = fail.message;
            if (f.retryable && st.delivered) msg += " (after the reply had started streaming; not retried)";
            else if (attempts > 1) msg += ` (gave up after ${attempts} attempts)`;
            throw this.error(msg, { status: f.status, attempts, raw: f.raw });
          }
          const delayMs = Math.min(this.o.retryMaxMs, f.retryAfterMs ?? backoffDelay(attempts, this.o.retryBaseMs, this.o.retryMaxMs, this.o.random));
          opts.onRetry?.({ attempt: attempts, reason: this.redact(fail.message), delayMs });
          try {
            await this.o.sleep(delayMs, opts.signal);
          } catch {
            throw this.error(`${this.name}: request cancelled while waiting to retry`, { cancelled: true, attempts });
          }
        }
      }
    } finally {
      if (trial) this.trialInFlight = false;
    }
  }

  /** Lets a call through the breaker (returns true for the half-open trial) or fails it fast. */
  private admit(): boolean {
    const state = this.circuitState;
    if (state === "closed") return false;
    if (state === "half-open" && !this.trialInFlight) return (this.trialInFlight = true);
    const at = Math.max(this.openUntil!, this.o.now());
    const wait = state === "open" ? `will try again in ${Math.ceil((at - this.o.now()) / 1000)} s (at ${new Date(at).toISOString()})` : "a trial request is in progress";
    throw this.error(`${this.name}: upstream unavailable after ${this.failures} consecutive failures; ${wait}`, { circuitOpen: true, attempts: 0 });
  }

  private recordFailure(): void {
    this.failures++;
    if (this.openUntil !== null || this.failures >= this.threshold) this.openUntil = this.o.now() + this.cooldownMs;
  }

  private redact(s: string): string {
    const key = this.opts.apiKey;
    return key && key.length >= 4 ? s.split(key).join("***") : s;
  }

  private error(message: string, details: ProviderError["details"]): ProviderError {
    const d = { ...details };
    if (d.raw !== undefined) d.raw = this.redact(d.raw);
    else delete d.raw;
    if (d.status === undefined) delete d.status;
    return new ProviderError(this.redact(message), d);
  }

  private async attempt(
    messages: ChatMessage[],
    opts: ChatCompletionOptions,
    t0: number,
    st: { delivered: boolean; firstTokenMs: number | null },
  ): Promise<Omit<ChatCompletion, "firstTokenMs" | "totalMs" | "attempts">> {
    const { timeoutMs, idleTimeoutMs } = this.o;
    const ctl = new AbortController();
    const timeout = (why: string) => () => ctl.abort(new Error(why));
    const total = setTimeout(timeout(`timed out: no complete reply within ${timeoutMs} ms`), timeoutMs);
    let idle: NodeJS.Timeout | undefined;
    const touch = () => {
      clearTimeout(idle);
      idle = setTimeout(timeout(`timed out: the reply stalled (no data for ${idleTimeoutMs} ms)`), idleTimeoutMs);
    };
    const model = opts.model ?? this.defaultModel;
    const stream = this.o.stream;
    const body: Record<string, unknown> = { model, messages, temperature: opts.temperature, stream };
    if (stream && this.o.streamUsage) body.stream_options = { include_usage: true };
    const headers: Record<string, string> = { "content-type": "application/json", accept: stream ? "text/event-stream" : "application/json" };
    if (this.opts.apiKey) headers.authorization = `Bearer ${this.opts.apiKey}`;
    const reader: { r?: ReadableStreamDefaultReader<Uint8Array> } = {};
    try {
      touch();
      const res = await fetch(this.url, { method: "POST", headers, body: JSON.stringify(body), signal: AbortSignal.any([opts.signal, ctl.signal]) });
      touch();
      const r = (reader.r = res.body?.getReader());
      const isSse = (res.headers.get("content-type") ?? "").includes("text/event-stream");
      if (res.ok && isSse) return await this.readStream(r, touch, model, opts, t0, st);
      const text = await readAll(r, touch);
      if (!res.ok) throw this.httpFailure(res.status, text, res.headers);
      const out = this.parseJson(text, model);
      if (out.content) {
        st.firstTokenMs = this.o.now() - t0;
        this.deliver(opts, out.content);
      }
      return out;
    } catch (e) {
      if (opts.signal.aborted) throw new AttemptFailure(`${this.name}: request cancelled`, { retryable: false, breaker: false, cancelled: true });
      if (e instanceof AttemptFailure) throw e;
      if (ctl.signal.aborted) throw new AttemptFailure(`${this.name}: upstream ${(ctl.signal.reason as Error).message}`, { retryable: true, breaker: true });
      const cause = rec((e as { cause?: unknown }).cause);
      const why = typeof cause?.code === "string" ? cause.code : typeof cause?.message === "string" ? cause.message : (e as Error).message;
      throw new AttemptFailure(`${this.name}: could not reach upstream: ${why}`, { retryable: true, breaker: true });
    } finally {
      clearTimeout(total);
      clearTimeout(idle);
      reader.r?.cancel().catch(() => {});
    }
  }

  /** Hands text to the caller; its handler's own failure is neither retried nor the upstream's fault. */
  private deliver(opts: ChatCompletionOptions, text: string): void {
    try {
      opts.onDelta?.(text);
    } catch (e) {
      throw new AttemptFailure(`${this.name}: the onDelta handler failed: ${e instanceof Error ? e.message : String(e)}`, { retryable: false, breaker: false });
    }
  }

  private httpFailure(status: number, text: string, headers: Headers): AttemptFailure {
    let msg: string | undefined;
    try {
      msg = upstreamMessage(JSON.parse(text));
    } catch {
      msg = text.trim() ? clip(text.trim(), 300) : undefined;
    }
    const retryable = status === 408 || status === 429 || status >= 500;
    // Some proxies (Azure, LiteLLM) also say it in milliseconds.
    const ms = Number(headers.get("retry-after-ms") ?? NaN);
    const retryAfterMs = ms >= 0 ? ms : parseRetryAfter(headers.get("retry-after"), this.o.now());
    return new AttemptFailure(`${this.name}: upstream returned HTTP ${status}${msg ? `: ${msg}` : ""}`, {
      retryable,
      // A rejected request (bad model name, bad input) says nothing about the upstream's health.
      breaker: retryable || status === 401 || status === 403,
      status,
      retryAfterMs,
      raw: clip(text),
    });
  }

  private malformed(why: string, raw: string): AttemptFailure {
    return new AttemptFailure(`${this.name}: upstream returned malformed JSON: ${why}`, { retryable: false, breaker: true, raw: clip(raw) });
  }

  private parseJson(text: string, model: string): Omit<ChatCompletion, "firstTokenMs" | "totalMs" | "attempts"> {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw this.malformed((e as Error).message, text);
    }
    const upstream = upstreamMessage(json);
    if (upstream) throw new AttemptFailure(`${this.name}: upstream error: ${upstream}`, { retryable: false, breaker: true, raw: clip(text) });
    const choices = rec(json)?.choices;
    const choice = Array.isArray(choices) ? rec(choices[0]) : undefined;
    if (!choice) throw this.malformed("the reply has no choices", text);
    const content = rec(choice.message)?.content ?? "";
    if (typeof content !== "string") throw this.malformed("choices[0].message.content is not a string", text);
    const m = rec(json)?.model;
    const finish = choice.finish_reason;
    return { content, model: typeof m === "string" && m ? m : model, usage: readUsage(rec(json)?.usage), finishReason: typeof finish === "string" ? finish : null };
  }

  private async readStream(
    reader: ReadableStreamDefaultReader<Uint8Array> | undefined,
    touch: () => void,
    requestedModel: string,
    opts: ChatCompletionOptions,
    t0: number,
    st: { delivered: boolean; firstTokenMs: number | null },
  ): Promise<Omit<ChatCompletion, "firstTokenMs" | "totalMs" | "attempts">> {
    const parser = new SseParser();
    const decoder = new TextDecoder();
    let content = "";
    let model = "";
    let usage: TokenUsage | null = null;
    let finishReason: string | null = null;
    let done = false;
    const handle = (ev: SseEvent) => {
      if (done) return;
      if (ev.data.trim() === "[DONE]") return void (done = true);
      let chunk: Record<string, unknown> | undefined;
      try {
        chunk = rec(JSON.parse(ev.data));
      } catch (e) {
        throw this.malformed(`bad stream event: ${(e as Error).message}`, ev.data);
      }
      if (!chunk) throw this.malformed("stream event is not an object", ev.data);
      const upstream = upstreamMessage(chunk);
      if (upstream) {
        // Servers put an HTTP-like code on it; a 4xx one (bar 429) rejects the request itself.
        const code = Number(rec(chunk.error)?.code ?? rec(chunk.error)?.status ?? NaN);
        const retryable = !(code >= 400 && code < 500 && code !== 429);
        throw new AttemptFailure(`${this.name}: upstream error mid-stream: ${upstream}`, { retryable, breaker: retryable, raw: clip(ev.data) });
      }
      if (typeof chunk.model === "string" && chunk.model) model = chunk.model;
      usage = readUsage(chunk.usage) ?? usage;
      const choice = Array.isArray(chunk.choices) ? rec(chunk.choices[0]) : undefined;
      const piece = rec(choice?.delta)?.content;
      if (typeof piece === "string" && piece) {
        if (st.firstTokenMs === null) st.firstTokenMs = this.o.now() - t0;
        st.delivered = true;
        content += piece;
        this.deliver(opts, piece);
      }
      if (typeof choice?.finish_reason === "string") finishReason = choice.finish_reason;
    };
    while (reader && !done) {
      const { value, done: ended } = await reader.read();
      if (ended) {
        for (const ev of [...parser.feed(decoder.decode()), ...parser.end()]) handle(ev);
        break;
      }
      touch();
      for (const ev of parser.feed(decoder.decode(value, { stream: true }))) handle(ev);
    }
    if (!done && finishReason === null) throw new AttemptFailure(`${this.name}: upstream closed the stream before the reply was complete`, { retryable: true, breaker: true });
    return { content, model: model || requestedModel, usage, finishReason };
  }
}

async function readAll(reader: ReadableStreamDefaultReader<Uint8Array> | undefined, touch: () => void): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const { value, done } = (await reader?.read()) ?? { done: true, value: undefined };
    if (done) return text + decoder.decode();
    touch();
    text += decoder.decode(value, { stream: true });
  }
}
