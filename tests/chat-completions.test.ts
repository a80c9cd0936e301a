// The Chat Completions transport against a real HTTP server on loopback that speaks the wire
// format (JSON and SSE), misbehaving in the ways real upstreams do. No fetch mocks.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  backoffDelay,
  ChatCompletionsClient,
  parseRetryAfter,
  type ChatCompletionsClientOptions,
} from "../src/domain/refinement/llm/chat-completions.client.js";
import { SseParser } from "../src/domain/refinement/llm/sse.js";
import { ProviderError } from "../src/domain/refinement/refiner.js";

// --- SSE parser and small pure helpers -------------------------------------------------------

describe("SseParser", () => {
  const stream =
    ": keep-alive\r\n" +
    'data: {"a":1}\r\n\r\n' +
    "event: note\ndata: line one\ndata:line two\n\n" +
    "data: x\rdata: y\r\r" +
    "data: a\r\ndata: b\r\n\r\n" +
    "id: 7\nretry: 100\nunknown\n\n" + // no data: no event
    "data: [DONE]\n\n";
  const expected = [{ data: '{"a":1}' }, { event: "note", data: "line one\nline two" }, { data: "x\ny" }, { data: "a\nb" }, { data: "[DONE]" }];

  it("parses a whole stream: comments, CRLF/CR/LF, multi-line data, event names", () => {
    const p = new SseParser();
    expect([...p.feed(stream), ...p.end()]).toEqual(expected);
  });

  it("gives the same events however the text is cut (every split point, and char by char)", () => {
    for (let cut = 0; cut <= stream.length; cut++) {
      const p = new SseParser();
      expect([...p.feed(stream.slice(0, cut)), ...p.feed(stream.slice(cut)), ...p.end()]).toEqual(expected);
    }
    const p = new SseParser();
    const events = [...stream].flatMap((ch) => p.feed(ch));
    expect([...events, ...p.end()]).toEqual(expected);
  });

  it("does not emit an event before its blank line, and flushes a trailing one at end()", () => {
    const p = new SseParser();
    expect(p.feed("data: par")).toEqual([]);
    expect(p.feed("tial\n")).toEqual([]);
    expect(p.end()).toEqual([{ data: "partial" }]);
  });
});

describe("retry helpers", () => {
  it("parseRetryAfter reads seconds and HTTP dates", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter("2", now)).toBe(2000);
    expect(parseRetryAfter(" 0.5 ", now)).toBe(500);
    expect(parseRetryAfter("Wed, 01 Jan 2025 00:00:03 GMT", now)).toBe(3000);
    expect(parseRetryAfter("Tue, 31 Dec 2024 23:00:00 GMT", now)).toBe(0);
    expect(parseRetryAfter("soon", now)).toBeNull();
    expect(parseRetryAfter(null, now)).toBeNull();
    expect(parseRetryAfter("", now)).toBeNull();
  });

  it("backoffDelay grows exponentially, jitters within [cap/2, cap] and is capped", () => {
    expect(backoffDelay(1, 100, 10_000, () => 0)).toBe(50);
    expect(backoffDelay(1, 100, 10_000, () => 1)).toBe(100);
    expect(backoffDelay(4, 100, 10_000, () => 1)).toBe(800);
    expect(backoffDelay(30, 100, 10_000, () => 1)).toBe(10_000);
    expect(backoffDelay(30, 100, 10_000, () => 0)).toBe(5_000);
  });
});

// --- a fake upstream on loopback ---------------------------------------------------------------

interface Hit {
  at: number;
  headers: IncomingMessage["headers"];
  body: Record<string, unknown>;
  closed: Promise<void>;
}
type Handler = (res: ServerResponse, hit: Hit, n: number) => void | Promise<void>;

let server: Server;
let baseUrl: string;
let handler: Handler;
let hits: Hit[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const closed = new Promise<void>((resolve) => res.on("close", () => resolve()));
      const hit: Hit = { at: Date.now(), headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString()), closed };
      hits.push(hit);
      void handler(res, hit, hits.length);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  hits = [];
});

const API_KEY = "sk-test-secret-0123456789";

function client(over: Partial<ChatCompletionsClientOptions> = {}) {
  return new ChatCompletionsClient({
    name: "fake",
    baseUrl,
    apiKey: API_KEY,
    defaultModel: "m-default",
    timeoutMs: 3000,
    retryBaseMs: 10,
    retryMaxMs: 3000,
    ...over,
  });
}

const msgs = [
  { role: "system" as const, content: "You refine prompts." },
  { role: "user" as const, content: "Improve: say hi" },
];

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(typeof body === "string" ? body : JSON.stringify(body));
}

const completion = (content: string) => ({
  id: "c1",
  model: "m-upstream",
  choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
  usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 },
});

function sseHead(res: ServerResponse) {
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  res.flushHeaders();
}

const chunk = (content: string | null, extra: Record<string, unknown> = {}) =>
  `data: ${JSON.stringify({ id: "c1", model: "m-streamed", choices: [{ index: 0, delta: content === null ? {} : { content }, finish_reason: null }], ...extra })}`;

async function failure(p: Promise<unknown>): Promise<ProviderError> {
  const e = await p.then(
    () => {
      throw new Error("expected the call to fail");
    },
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ProviderError);
  return e as ProviderError;
}

const signal = () => new AbortController().signal;

// --- behaviour -----------------------------------------------------------------------------------

describe("ChatCompletionsClient", () => {
  it("non-streaming: sends the wire format with the bearer key and reads the JSON reply", async () => {
    handler = (res) => json(res, 200, completion("Say hello, warmly."));
    const deltas: string[] = [];
    const r = await client({ stream: false }).complete(msgs, { signal: signal(), temperature: 0.2, onDelta: (t) => deltas.push(t) });
    expect(r).toMatchObject({
      content: "Say hello, warmly.",
      model: "m-upstream",
      usage: { promptTokens: 11, completionTokens: 3, totalTokens: 14 },
      finishReason: "stop",
      attempts: 1,
    });
    expect(r.firstTokenMs).not.toBeNull();
    expect(deltas).toEqual(["Say hello, warmly."]);
    expect(hits).toHaveLength(1);
    expect(hits[0].headers.authorization).toBe(`Bearer ${API_KEY}`);
    expect(hits[0].body).toEqual({ model: "m-default", messages: msgs, temperature: 0.2, stream: false });
  });

  it("sends no Authorization header without a key, and the caller's model", async () => {
    handler = (res) => json(res, 200, completion("ok"));
    await client({ stream: false, apiKey: undefined }).complete(msgs, { signal: signal(), model: "llama3" });
    expect(hits[0].headers.authorization).toBeUndefined();
    expect(hits[0].body.model).toBe("llama3");
  });

  it("streaming: parses SSE delivered in many TCP writes split mid-line, with CRLF, comments and usage", async () => {
    const wire =
      ": ping\r\n\r\n" +
      chunk("") + "\r\n\r\n" + // role-only first chunk
      chunk("Say ") + "\r\n\r\n" +
      chunk("hello, ") + "\n\n" +
      chunk("wärmly 😀.") + "\n\n" +
      `data: ${JSON.stringify({ id: "c1", model: "m-streamed", choices: [{ index: 0, delta: {}, finish_reason: "stop" }] })}\n\n` +
      `data: ${JSON.stringify({ id: "c1", model: "m-streamed", choices: [], usage: { prompt_tokens: 20, completion_tokens: 5, total_tokens: 25 } })}\n\n` +
      "data: [DONE]\n\n";
    const bytes = Buffer.from(wire);
    handler = async (res) => {
      sseHead(res);
      // Cut at odd places: mid "data:", mid JSON, between CR and LF, inside the 4-byte emoji.
      // (Byte offsets; the text is ASCII up to the "ä".)
      const cuts = [3, 17, wire.indexOf("\r\n\r\n", 40) + 1, wire.indexOf("Say") + 2, bytes.indexOf(Buffer.from("😀")) + 2, bytes.length - 5];
      expect([...cuts].sort((a, b) => a - b)).toEqual(cuts);
      let from = 0;
      for (const cut of [...cuts, bytes.length]) {
        res.write(bytes.subarray(from, cut));
        from = cut;
        await delay(15);
      }
      res.end();
    };
    const deltas: string[] = [];
    const r = await client().complete(msgs, { signal: signal(), onDelta: (t) => deltas.push(t) });
    expect(deltas).toEqual(["Say ", "hello, ", "wärmly 😀."]);
    expect(r.content).toBe("Say hello, wärmly 😀.");
    expect(r.usage).toEqual({ promptTokens: 20, completionTokens: 5, totalTokens: 25 });
    expect(r.model).toBe("m-streamed");
    expect(r.finishReason).toBe("stop");
    expect(r.firstTokenMs).toBeGreaterThan(0);
    expect(r.totalMs).toBeGreaterThanOrEqual(r.firstTokenMs!);
    expect(hits[0].body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(hits[0].headers.authorization).toBe(`Bearer ${API_KEY}`);
  });

  it("streaming requested but the server answers plain JSON: still works", async () => {
    handler = (res) => json(res, 200, completion("plain"));
    const r = await client().complete(msgs, { signal: signal() });
    expect(r.content).toBe("plain");
  });

  it("429 with Retry-After: waits that long, then retries", async () => {
    handler = (res, _hit, n) => (n === 1 ? json(res, 429, { error: { message: "Rate limit reached" } }, { "retry-after": "1" }) : json(res, 200, completion("ok")));
    const retries: unknown[] = [];
    const r = await client({ stream: false }).complete(msgs, { signal: signal(), onRetry: (i) => retries.push(i) });
    expect(r.attempts).toBe(2);
    expect(hits).toHaveLength(2);
    expect(hits[1].at - hits[0].at).toBeGreaterThanOrEqual(900);
    expect(retries).toEqual([{ attempt: 1, reason: expect.stringMatching(/HTTP 429: Rate limit reached/), delayMs: 1000 }]);
  });

  it("500 then success: retried", async () => {
    handler = (res, _hit, n) => (n === 1 ? json(res, 500, { error: { message: "boom" } }) : json(res, 200, completion("ok")));
    const r = await client({ stream: false }).complete(msgs, { signal: signal() });
    expect(r).toMatchObject({ content: "ok", attempts: 2 });
  });

  it("500 every time: fails after maxRetries + 1 attempts with the status and upstream message", async () => {
    handler = (res) => json(res, 500, { error: { message: "model crashed" } });
    const e = await failure(client({ maxRetries: 2 }).complete(msgs, { signal: signal() }));
    expect(hits).toHaveLength(3);
    expect(e.details).toMatchObject({ status: 500, attempts: 3 });
    expect(e.message).toMatch(/HTTP 500: model crashed/);
    expect(e.message).toMatch(/3 attempts/);
  });

  it("400 is not retried, and says why", async () => {
    handler = (res) => json(res, 400, { error: { message: "Unknown model 'gpt-9'", type: "invalid_request_error" } });
    const e = await failure(client().complete(msgs, { signal: signal() }));
    expect(hits).toHaveLength(1);
    expect(e.details).toMatchObject({ status: 400, attempts: 1 });
    expect(e.message).toBe("fake: upstream returned HTTP 400: Unknown model 'gpt-9'");
  });

  it("401 is not retried, and the API key never shows in the error even if the upstream echoes it", async () => {
    handler = (res) => json(res, 401, { error: { message: `Incorrect API key provided: ${API_KEY}` } });
    const e = await failure(client().complete(msgs, { signal: signal() }));
    expect(hits).toHaveLength(1);
    expect(e.details.status).toBe(401);
    expect(e.message).toMatch(/HTTP 401: Incorrect API key provided/);
    expect(JSON.stringify({ m: e.message, d: e.details })).not.toContain(API_KEY);
  });

  it("a reply that stalls after its headers times out (and is retried) instead of hanging", async () => {
    handler = (res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.flushHeaders();
    };
    const t0 = Date.now();
    const e = await failure(client({ timeoutMs: 300, maxRetries: 1 }).complete(msgs, { signal: signal() }));
    const elapsed = Date.now() - t0;
    expect(e.message).toMatch(/timed out/);
    expect(e.details.attempts).toBe(2);
    expect(hits).toHaveLength(2);
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(1500);
    await Promise.all(hits.map((h) => h.closed)); // the client dropped both connections
  });

  it("a stream that stalls mid-way times out and is not retried once text was delivered", async () => {
    handler = (res) => {
      sseHead(res);
      res.write(chunk("Hel") + "\n\n");
    };
    const deltas: string[] = [];
    const t0 = Date.now();
    const e = await failure(client({ timeoutMs: 5000, idleTimeoutMs: 300 }).complete(msgs, { signal: signal(), onDelta: (t) => deltas.push(t) }));
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(deltas).toEqual(["Hel"]);
    expect(hits).toHaveLength(1);
    expect(e.message).toMatch(/timed out: the reply stalled \(no data for 300 ms\)/);
    expect(e.message).toMatch(/not retried/);
    expect(e.details.attempts).toBe(1);
  });

  it("a slow but steady stream is fine: the idle timer restarts with every chunk", async () => {
    handler = async (res) => {
      sseHead(res);
      for (let i = 0; i < 8; i++) {
        res.write(chunk(`${i}`) + "\n\n");
        await delay(60);
      }
      res.end("data: [DONE]\n\n");
    };
    const r = await client({ idleTimeoutMs: 150, maxRetries: 0 }).complete(msgs, { signal: signal() });
    expect(r.content).toBe("01234567");
    expect(r.totalMs).toBeGreaterThan(400);
  });

    it("timeoutMs bounds the whole attempt even while bytes keep trickling in", async () => {
    handler = async (res) => {
      sseHead(res);
      for (let i = 0; i < 40 && !res.destroyed; i++) {
        res.write(": still thinking\n\n");
        await delay(25);
      }
      res.end();
    };
    const t0 = Date.now();
    const e = await failure(client({ timeoutMs: 300, maxRetries: 0 }).complete(msgs, { signal: signal() }));
    expect(Date.now() - t0).toBeLessThan(800);
    expect(e.message).toMatch(/timed out: no complete reply within 300 ms/);
  });

  it("a malformed JSON body fails at once with the reason and a piece of what came", async () => {
    handler = (res) => json(res, 200, "<html>502 Bad Gateway</html>");
    const e = await failure(client({ stream: false }).complete(msgs, { signal: signal() }));
    expect(hits).toHaveLength(1);
    expect(e.message).toMatch(/^fake: upstream returned malformed JSON: /);
    expect(e.details.raw).toContain("<html>502 Bad Gateway");

    handler = (res) => json(res, 200, { id: "x", object: "chat.completion" });
    const e2 = await failure(client({ stream: false }).complete(msgs, { signal: signal() }));
    expect(e2.message).toMatch(/malformed JSON: the reply has no choices/);
  });

  it("a malformed SSE data line fails at once with the line in details.raw", async () => {
    handler = (res) => {
      sseHead(res);
      res.end(`${chunk("ok")}\n\ndata: {"choices": [oops\n\ndata: [DONE]\n\n`);
    };
    const e = await failure(client().complete(msgs, { signal: signal() }));
    expect(hits).toHaveLength(1);
    expect(e.message).toMatch(/malformed JSON: bad stream event/);
    expect(e.details.raw).toBe('{"choices": [oops');
  });

  it("an error object in the stream before any text is retried like a server error", async () => {
    handler = (res, _hit, n) => {
      sseHead(res);
      res.end(n === 1 ? `data: {"error":{"message":"overloaded","code":503}}\n\n` : `${chunk("fine")}\n\ndata: [DONE]\n\n`);
    };
    const r = await client().complete(msgs, { signal: signal() });
    expect(r).toMatchObject({ content: "fine", attempts: 2 });
  });

  it("the caller's abort cancels mid-stream at once, the server sees the connection close, and it is not a breaker failure", async () => {
    handler = (res) => {
      sseHead(res);
      res.write(chunk("first ") + "\n\n");
    };
    const ctl = new AbortController();
    const c = client({ breaker: { failureThreshold: 1 } });
    let abortedAt = 0;
    const p = c.complete(msgs, {
      signal: ctl.signal,
      onDelta: () => {
        abortedAt = Date.now();
        ctl.abort();
      },
    });
    const e = await failure(p);
    expect(Date.now() - abortedAt).toBeLessThan(200);
    expect(e.details.cancelled).toBe(true);
    expect(e.message).toMatch(/cancelled/);
    await Promise.race([hits[0].closed, delay(1000).then(() => Promise.reject(new Error("server never saw the close")))]);
    expect(c.circuitState).toBe("closed");
  });

  it("an abort while waiting to retry ends the wait at once; an aborted signal never reaches the server", async () => {
    handler = (res) => json(res, 503, { error: { message: "busy" } }, { "retry-after": "30" });
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 150);
    const t0 = Date.now();
    const e = await failure(client().complete(msgs, { signal: ctl.signal }));
    expect(Date.now() - t0).toBeLessThan(600);
    expect(e.details.cancelled).toBe(true);
    expect(hits).toHaveLength(1);

    const e2 = await failure(client().complete(msgs, { signal: ctl.signal }));
    expect(e2.details.cancelled).toBe(true);
    expect(hits).toHaveLength(1);
  });

  it("a refused connection is a network error, retried, and reported without a raw TypeError", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const e = await failure(client({ baseUrl: `http://127.0.0.1:${port}`, maxRetries: 1 }).complete(msgs, { signal: signal() }));
    expect(e.message).toMatch(/could not reach upstream: ECONNREFUSED/);
    expect(e.details).toEqual({ attempts: 2 });
  });

  it("circuit breaker: opens after N failed calls, fails fast while open, half-open trial closes it on success", async () => {
    let healthy = false;
    handler = (res) => (healthy ? json(res, 200, completion("back")) : json(res, 503, { error: { message: "down" } }));
    const c = client({ maxRetries: 1, breaker: { failureThreshold: 2, cooldownMs: 300 } });
    expect(c.circuitState).toBe("closed");
    await failure(c.complete(msgs, { signal: signal() }));
    expect(c.circuitState).toBe("closed"); // one failed call (of two attempts) is not enough
    await failure(c.complete(msgs, { signal: signal() }));
    expect(c.circuitState).toBe("open");
    expect(hits).toHaveLength(4);

    const t0 = Date.now();
    const fast = await failure(c.complete(msgs, { signal: signal() }));
    expect(Date.now() - t0).toBeLessThan(50);
    expect(fast.details.circuitOpen).toBe(true);
    expect(fast.message).toMatch(/upstream unavailable after 2 consecutive failures; will try again in 1 s \(at /);
    expect(hits).toHaveLength(4); // the server was not hit

    // After the cooldown a failing trial reopens the circuit at once (one call, no threshold).
    await delay(320);
    expect(c.circuitState).toBe("half-open");
    await failure(c.complete(msgs, { signal: signal() }));
    expect(c.circuitState).toBe("open");
    expect(hits).toHaveLength(6);

    // The next trial succeeds and closes it.
    await delay(320);
    expect(c.circuitState).toBe("half-open");
    healthy = true;
    const r = await c.complete(msgs, { signal: signal() });
    expect(r.content).toBe("back");
    expect(c.circuitState).toBe("closed");
  });

  it("rejected requests (400/404) and a failing onDelta handler do not trip the breaker", async () => {
    const c = client({ breaker: { failureThreshold: 1 } });
    handler = (res) => json(res, 404, { error: { message: "model not found" } });
    await failure(c.complete(msgs, { signal: signal() }));
    expect(c.circuitState).toBe("closed");

    handler = (res) => json(res, 200, completion("text"));
    const e = await failure(
      c.complete(msgs, {
        signal: signal(),
        onDelta: () => {
          throw new Error("socket to browser gone");
        },
      }),
    );
    expect(e.message).toBe("fake: the onDelta handler failed: socket to browser gone");
    expect(hits).toHaveLength(2); // not retried
    expect(c.circuitState).toBe("closed");
  });

    it("half-open lets exactly one trial through; a concurrent call fails fast", async () => {
    let now = 0;
    handler = async (res, _hit, n) => {
      if (n === 1) return json(res, 500, {});
      await delay(100);
      json(res, 200, completion("ok"));
    };
    const c = client({ maxRetries: 0, now: () => now, breaker: { failureThreshold: 1, cooldownMs: 1000 } });
    await failure(c.complete(msgs, { signal: signal() }));
    expect(c.circuitState).toBe("open");
    now = 1000;
    const trial = c.complete(msgs, { signal: signal() });
    const other = await failure(c.complete(msgs, { signal: signal() }));
    expect(other.details.circuitOpen).toBe(true);
    expect(other.message).toMatch(/trial request is in progress/);
    await expect(trial).resolves.toMatchObject({ content: "ok" });
    expect(c.circuitState).toBe("closed");
    expect(hits).toHaveLength(2);
  });
});
