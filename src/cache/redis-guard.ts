// How this server uses an optional Redis (the cache's second level, shared rate limits): never
// waiting for it. The guard tracks whether a connection may be used now, skips a Redis whose
// commands fail for a while (so a hung Redis costs one timeout, not one per request), and
// reports each outage once when it starts and once when it ends.
import type { Redis } from "ioredis";

export interface RedisGuardHooks {
  /** The first failure of an outage. */
  down(reason: string): void;
  /** Redis answers again. `connectionLost`: a connection closed during the outage. */
  up(connectionLost: boolean): void;
}

export class RedisGuard {
  /** A command failed (not merely "not connected"): Redis is skipped until retryAt, then tried again. */
  private failing = false;
  private retryAt = 0;
  private down = false;
  private connectionLost = false;
  private closed = false;
  private error: string | undefined;
  private readonly listeners: [string, (error: Error) => void][];

  constructor(
    private readonly client: Redis,
    private readonly retryAfterMs: number,
    private readonly hooks: RedisGuardHooks,
  ) {
    this.listeners = [
      ["ready", () => this.succeeded()],
      ["error", (error: Error) => this.failed(error.message, false)],
      [
        "close",
        () => {
          if (!this.closed) this.connectionLost = true;
          this.failed(this.error ?? "connection closed", false);
        },
      ],
    ];
    for (const [event, listener] of this.listeners) client.on(event, listener);
  }

  /** Connected and the last command succeeded. */
  get healthy(): boolean {
    return !this.closed && this.client.status === "ready" && !this.failing;
  }

  /** What the current outage is about, if known. */
  get lastError(): string | undefined {
    return this.error;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Whether to send a command now: connected, and not failing (or failing, but due for another try). */
  usable(): boolean {
    if (this.closed || this.client.status !== "ready") return false;
    if (!this.failing) return true;
    const now = Date.now();
    if (now < this.retryAt) return false;
    // One command tries Redis again; the others keep skipping it until that one answers.
    this.retryAt = now + this.retryAfterMs;
    return true;
  }

  succeeded(): void {
    if (this.closed || this.client.status !== "ready") return;
    this.failing = false;
    if (!this.down) return;
    this.down = false;
    this.error = undefined;
    const connectionLost = this.connectionLost;
    this.connectionLost = false;
    this.hooks.up(connectionLost);
  }

  /** `command`: a command failed on a connection that looked ready (timeout, error reply). */
  failed(message: string, command: boolean): void {
    if (this.closed) return;
    if (!message.startsWith("Stream isn't writeable") && !message.startsWith("Connection is closed")) this.error = message;
    if (command) {
      this.failing = true;
      this.retryAt = Date.now() + this.retryAfterMs;
    }
    if (this.down) return;
    this.down = true;
    this.hooks.down(this.error ?? message);
  }

  /** Stops listening; later events mean nothing. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [event, listener] of this.listeners) this.client.removeListener(event, listener);
  }
}

/** EVALSHA, or EVAL when this Redis does not know the script yet (a restart empties its script cache). */
export async function evalScript(client: Redis, sha: string, lua: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
  try {
    return await client.evalsha(sha, keys.length, ...keys, ...args);
  } catch (error) {
    if (!(error as Error)?.message?.startsWith("NOSCRIPT")) throw error;
    return await client.eval(lua, keys.length, ...keys, ...args);
  }
}
