// A fake OpenAI-compatible upstream on loopback: it speaks the Chat Completions wire format
// (JSON and SSE) and answers each request with the next scripted behaviour.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface LlmRequest {
  body: { model?: string; messages?: { role: string; content: string }[]; stream?: boolean; temperature?: number };
  headers: IncomingMessage["headers"];
  /** Resolves when the client closed the connection (or the reply ended). */
  closed: Promise<void>;
}

export type Behaviour = (req: LlmRequest, res: ServerResponse) => void | Promise<void>;

export class FakeLlm {
  readonly requests: LlmRequest[] = [];
  private readonly script: Behaviour[] = [];
  private server!: Server;
  url = "";

  /** Used when the script is empty. */
  fallback: Behaviour = (_req, res) => json(res, 500, { error: { message: "no scripted reply" } });

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      let raw = "";
      req.on("data", (chunk) => (raw += String(chunk)));
      req.on("end", () => {
        const closed = new Promise<void>((resolve) => res.once("close", () => resolve()));
        const request: LlmRequest = { body: JSON.parse(raw || "{}") as LlmRequest["body"], headers: req.headers, closed };
        this.requests.push(request);
        void (this.script.shift() ?? this.fallback)(request, res);
      });
    });
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  /** Queues behaviours for the next requests, in order. */
  next(...behaviours: Behaviour[]): void {
    this.script.push(...behaviours);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

/** A whole reply as one JSON completion. */
export const replyJson =
  (content: string): Behaviour =>
  (req, res) =>
    json(res, 200, {
      id: "cmpl-1",
      model: req.body.model ?? "fake-model",
      choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
      usage: { prompt_tokens: 42, completion_tokens: 17, total_tokens: 59 },
    });

/** A reply streamed as SSE, one delta per piece, `delayMs` apart; `hold` keeps the stream open after the pieces (a stall). */
export const replyStream =
  (pieces: string[], options: { delayMs?: number; hold?: boolean } = {}): Behaviour =>
  async (req, res) => {
    res.writeHead(200, { "content-type": "text/event-stream" });
    let open = true;
    void req.closed.then(() => (open = false));
    const send = (data: unknown) => res.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
    const model = req.body.model ?? "fake-model";
    for (const piece of pieces) {
      if (!open) return;
      send({ id: "c", model, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
      if (options.delayMs) await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    }
    if (options.hold || !open) return;
    send({ id: "c", model, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] });
    send({ id: "c", model, choices: [], usage: { prompt_tokens: 40, completion_tokens: pieces.length, total_tokens: 40 + pieces.length } });
    send("[DONE]");
    res.end();
  };

/** The structured reply the provider asks the model for. */
export const structuredReply = (prompt: string, critique = "Too vague.", rationale = "Made it specific.") =>
  JSON.stringify({ critique, rationale, changes: ["Made the task specific."], prompt });
