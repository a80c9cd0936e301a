// A raw graphql-transport-ws client: it sends exactly the frames a test gives it, so tests can
// break the protocol on purpose, which graphql-ws's own client never does.
import { GRAPHQL_TRANSPORT_WS_PROTOCOL, MessageType } from "graphql-ws";
import WebSocket from "ws";

export interface WireMessage {
  type: string;
  id?: string;
  payload?: unknown;
}

export interface Closed {
  code: number;
  reason: string;
  /** True when this client sent the close frame first. */
  byClient: boolean;
}

/**
 * The protocol tests run a server that requires API keys (as in production), with this key as its
 * PROMPT_STORE_ADMIN_KEY; connection_init carries it.
 */
export const PROTOCOL_TEST_KEY = "protocol-tests-admin-key-0123456789abcdef";
export const connectionParams: Record<string, unknown> | undefined = { apiKey: PROTOCOL_TEST_KEY };

/** The config overrides of a server that requires keys, with PROTOCOL_TEST_KEY as its admin key. */
export const KEYS_REQUIRED = {
  auth: { adminKey: PROTOCOL_TEST_KEY, openLocalMode: false, protectedLabels: ["production"], anonymousIntrospection: false },
};

export class Wire {
  readonly messages: WireMessage[] = [];
  /** Every text frame as it came, in order (for tests of the exact bytes). */
  readonly frames: string[] = [];
  /** Frames that were not JSON (the server should never send one). */
  readonly garbage: string[] = [];
  readonly closed: Promise<Closed>;
  private closedWith: Closed | undefined;
  private closing = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      const text = String(data);
      this.frames.push(text);
      try {
        this.messages.push(JSON.parse(text) as WireMessage);
      } catch {
        this.garbage.push(text);
      }
      this.wake();
    });
    this.closed = new Promise((resolve) => {
      socket.once("close", (code, reason) => {
        this.closedWith = { code, reason: String(reason), byClient: this.closing };
        this.wake();
        resolve(this.closedWith);
      });
    });
    // Errors (e.g. a refused upgrade) also end in "close"; the listener keeps them from being thrown.
    socket.on("error", () => undefined);
  }

  /** Fails if the handshake has not completed within `timeoutMs` (the socket is then dropped). */
  static async open(url: string, protocols: string | string[] = GRAPHQL_TRANSPORT_WS_PROTOCOL, timeoutMs = 10_000): Promise<Wire> {
    const socket = new WebSocket(url, protocols);
    const wire = new Wire(socket);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.terminate();
        reject(new Error(`the WebSocket handshake did not complete within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once("open", () => {
        clearTimeout(timer);
        resolve();
      });
      socket.once("error", (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    return wire;
  }

  /** Opens a socket and completes the handshake (connection_init -> connection_ack). */
  static async connect(url: string): Promise<Wire> {
    const wire = await Wire.open(url);
    wire.send({ type: MessageType.ConnectionInit, ...(connectionParams ? { payload: connectionParams } : {}) });
    await wire.next((m) => m.type === MessageType.ConnectionAck);
    return wire;
  }

  get isOpen() {
    return this.socket.readyState === WebSocket.OPEN;
  }

  get closeInfo(): Closed | undefined {
    return this.closedWith;
  }

  /** Objects are sent as JSON text; strings and buffers as they are. */
  send(frame: object | string | Uint8Array, options: { binary?: boolean } = {}) {
    const data = typeof frame === "string" || frame instanceof Uint8Array ? frame : JSON.stringify(frame);
    this.socket.send(data, { binary: options.binary ?? false });
  }

  /** The first message (already received or arriving) that matches; fails if the socket closes first. */
  async next(match: (m: WireMessage) => boolean, timeoutMs = 5_000): Promise<WireMessage> {
    const found = await this.until(() => this.messages.find(match) ?? (this.closedWith ? null : undefined), timeoutMs);
    if (found === null) throw new Error(`socket closed (${JSON.stringify(this.closedWith)}) before an expected message; got ${JSON.stringify(this.messages)}`);
    return found;
  }

  /** Resolves with the server's close, failing if it does not come in time. */
  async closedByServer(timeoutMs = 5_000): Promise<Closed> {
    return this.until(() => this.closedWith, timeoutMs);
  }

  close(code = 1000) {
    this.closing = true;
    if (this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING) this.socket.close(code);
    return this.closed;
  }

  /**
   * close(), failing if the closing handshake has not ended within `timeoutMs`: ws's client would
   * otherwise wait 30 s for a server that never answers the close frame. The socket is dropped then.
   */
  async closeWithin(timeoutMs: number, code = 1000): Promise<Closed> {
    const closed = this.close(code);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => {
        this.socket.terminate();
        reject(new Error(`the server did not answer the close handshake within ${timeoutMs} ms; received ${JSON.stringify(this.messages).slice(0, 1_000)}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([closed, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  private wake() {
    this.waiters.splice(0).forEach((wake) => wake());
  }

  private async until<T>(probe: () => T | undefined, timeoutMs: number): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = probe();
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; received ${JSON.stringify(this.messages).slice(0, 2_000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }
}

/** What graphql-ws prints (console.error, with a stack) for a client's protocol fault (ws-server.ts now logs those itself, at debug level). */
const GRAPHQL_WS_FAULT = /^Internal error (emitted on a WebSocket socket|occurred during message handling)/;

/**
 * Keeps graphql-ws's reports of client faults out of the test output, where tests provoke them by
 * the hundred, and records them; anything else printed to console.error still goes through.
 */
export function muteGraphqlWsFaults() {
  const muted: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => {
    const first = args[0] instanceof Error ? args[0].message : String(args[0]);
    if (GRAPHQL_WS_FAULT.test(first)) muted.push(first);
    else original(...args);
  };
  return { muted, restore: () => void (console.error = original) };
}
