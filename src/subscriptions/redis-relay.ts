import { randomUUID } from "node:crypto";
import { Redis, type RedisOptions } from "ioredis";
import { redactUrl, type RedisConfig } from "../config.js";
import type { Logger } from "../logger.js";
import type { EventRelay, RelayHealth, RelayStats } from "./pubsub.js";

/** What crosses Redis: the topic travels inside, so one channel keeps one instance's events in order. */
interface Envelope {
  /** The publishing instance: an instance skips its own messages (its subscribers already had them). */
  from: string;
  topic: string;
  payload: unknown;
}

const CONNECT_TIMEOUT_MS = 5_000;
const TIMED_OUT = "Command timed out";

export interface RelayOptions {
  instanceId?: string;
  /** How often each connection PINGs: a Redis that hangs or a network that drops packets sends no close. */
  heartbeatMs?: number;
  /** A command (PUBLISH, PING) unanswered this long fails, and its connection is recycled. */
  commandTimeoutMs?: number;
}

/**
 * Carries events between instances over one Redis pub/sub channel, `<prefix>:events`.
 *
 * Why not @graphql-yoga/redis-event-target: its dispatchEvent drops the promise of PUBLISH, so with a
 * fail-fast publisher every event during an outage becomes an unhandled rejection (which ends a Node
 * process), and it hands every message, our own echoes included, to every listener.
 *
 * Failure model: the publisher has no offline queue and no retries, so while Redis is away an event
 * is dropped for the other instances at once instead of queueing without bound (this instance's
 * subscribers got it already, see EventBus). The subscriber SUBSCRIBEs again on every `ready` itself:
 * ioredis's autoResubscribe only restores subscriptions Redis had confirmed, so a SUBSCRIBE issued
 * while Redis was down at start-up is lost after maxRetriesPerRequest reconnection attempts.
 */
export class RedisEventRelay implements EventRelay {
  readonly instanceId: string;
  readonly channel: string;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly logger: Logger;
  private deliver: ((topic: string, payload: unknown) => void) | undefined;
  private readonly counts: RelayStats = { sent: 0, notSent: 0, received: 0, echoesIgnored: 0, malformed: 0 };
  private subscribed = false;
  /** A publish failed while the connection looked fine (e.g. timed out); cleared by a success or a reconnect. */
  private publishFailing = false;
  private downSince: Date | null = new Date();
  private lastError: string | undefined;
  /** An outage is logged once, when first seen, and once more when it ends. */
  private outage: { notSentBefore: number } | null = null;
  private malformedLogged = false;
  private closing = false;
  private readonly heartbeat: NodeJS.Timeout;
  private readonly pinging = new Set<Redis>();

  constructor(config: RedisConfig, logger: Logger, options: RelayOptions = {}) {
    const instanceId = (this.instanceId = options.instanceId ?? randomUUID());
    this.channel = `${config.prefix}:events`;
    this.logger = logger.child({ component: "event-relay" });
    const common: RedisOptions = {
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: options.commandTimeoutMs ?? 2_000,
      // Reconnect forever, backing off to the configured ceiling.
      retryStrategy: (attempt) => Math.min(attempt * 100, config.reconnectMaxMs),
      // Fail fast while disconnected; nothing is resent after a reconnect (an event late and
      // possibly twice is worse than one a client can re-read from the database).
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
    };
    this.publisher = new Redis(config.url, { ...common, connectionName: `prompt-store-pub-${instanceId}` });
    this.subscriber = new Redis(config.url, { ...common, autoResubscribe: false, connectionName: `prompt-store-sub-${instanceId}` });

    for (const client of [this.publisher, this.subscriber]) {
      client.on("error", (error: Error) => this.problem(error.message));
      client.on("close", () => {
        if (client === this.subscriber) this.subscribed = false;
        this.problem(this.lastError ?? "connection closed");
      });
    }
    this.publisher.on("ready", () => {
      this.publishFailing = false;
      this.recovered();
    });
    this.subscriber.on("ready", () => void this.subscribe());
    this.subscriber.on("message", (channel: string, message: string) => this.receive(channel, message));
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatMs ?? 5_000).unref();
    this.logger.info({ redis: redactUrl(config.url), channel: this.channel, instanceId }, "live events cross instances over redis");
  }

  start(deliver: (topic: string, payload: unknown) => void): void {
    this.deliver = deliver;
  }

  /** Never throws and never waits: the caller is a mutation that has already committed. */
  send(topic: string, payload: unknown): void {
    if (this.closing) return;
    if (this.publisher.status !== "ready") {
      // Not a problem of its own: connection events report outages (and at start-up this is just "connecting").
      this.counts.notSent++;
      return;
    }
    let message: string;
    try {
      message = JSON.stringify({ from: this.instanceId, topic, payload } satisfies Envelope);
    } catch (error) {
      this.counts.notSent++;
      this.logger.error({ err: error, topic }, "event payload is not JSON-safe: not sent to other instances");
      return;
    }
    this.publisher.publish(this.channel, message).then(
      () => {
        this.counts.sent++;
        if (this.publishFailing) {
          this.publishFailing = false;
          this.recovered();
        }
      },
      (error: Error) => {
        this.counts.notSent++;
        this.publishFailing = true;
        this.problem(error.message);
        if (error.message === TIMED_OUT) this.recycle(this.publisher);
      },
    );
  }

  health(): RelayHealth {
    if (this.connected()) return { ok: true };
    const state = `publisher ${this.publisher.status}, subscriber ${this.subscribed ? "subscribed" : this.subscriber.status}`;
    const since = this.downSince ? ` since ${this.downSince.toISOString()}` : "";
    const error = this.lastError ? `: ${this.lastError}` : "";
    const notSent = this.outage ? this.counts.notSent - this.outage.notSentBefore : 0;
    const lost = notSent > 0 ? `; ${notSent} events not sent to other instances` : "";
    return { ok: false, detail: `redis unavailable${since}${error} (${state})${lost}` };
  }

  stats(): RelayStats {
    return { ...this.counts };
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    clearInterval(this.heartbeat);
    await Promise.all([this.publisher, this.subscriber].map((client) => quit(client)));
  }

  private connected(): boolean {
    return this.publisher.status === "ready" && this.subscribed && !this.publishFailing;
  }

  private beat(): void {
    for (const client of [this.publisher, this.subscriber]) {
      if (client.status !== "ready" || this.pinging.has(client)) continue;
      this.pinging.add(client);
      client
        .ping()
        .catch((error: Error) => {
          this.problem(error.message);
          if (error.message === TIMED_OUT) this.recycle(client);
        })
        .finally(() => this.pinging.delete(client));
    }
  }

  /** Drops a connection that stopped answering; ioredis reconnects it (and `ready` subscribes again). */
  private recycle(client: Redis): void {
    if (this.closing || client.status !== "ready") return;
    if (client === this.subscriber) this.subscribed = false;
    this.problem(`${client === this.publisher ? "publisher" : "subscriber"}: ${TIMED_OUT.toLowerCase()}`);
    client.disconnect(true);
  }

  private async subscribe(): Promise<void> {
    try {
      await this.subscriber.subscribe(this.channel);
      this.subscribed = true;
      this.recovered();
    } catch (error) {
      // The connection dropped meanwhile (the next `ready` subscribes again) or Redis refused (ACL):
      // either way /ready shows it.
      this.problem((error as Error).message);
    }
  }

  private receive(channel: string, message: string): void {
    if (channel !== this.channel) return;
    let envelope: Partial<Envelope>;
    try {
      envelope = JSON.parse(message) as Partial<Envelope>;
    } catch {
      envelope = {};
    }
    if (typeof envelope.from !== "string" || typeof envelope.topic !== "string" || !("payload" in envelope)) {
      this.counts.malformed++;
      if (!this.malformedLogged) {
        this.malformedLogged = true;
        this.logger.warn({ channel, sample: message.slice(0, 200) }, "ignoring a message that is not a prompt-store event (logged once)");
      }
      return;
    }
    if (envelope.from === this.instanceId) {
      this.counts.echoesIgnored++;
      return;
    }
    this.counts.received++;
    try {
      this.deliver?.(envelope.topic, envelope.payload);
    } catch (error) {
      this.logger.error({ err: error, topic: envelope.topic }, "delivering an event from another instance failed");
    }
  }

  private problem(message: string): void {
    if (this.closing) return;
    // A command refused because its connection is going down says less than what brought it down.
    if (!message.startsWith("Stream isn't writeable")) this.lastError = message;
    if (this.outage || this.connected()) return;
    this.downSince ??= new Date();
    this.outage = { notSentBefore: this.counts.notSent };
    this.logger.warn(
      { reason: this.lastError ?? message, since: this.downSince.toISOString() },
      "redis unavailable: live events reach only this instance's subscribers until it returns",
    );
  }

  private recovered(): void {
    if (this.closing || !this.connected()) return;
    if (this.outage) {
      const notSent = this.counts.notSent - this.outage.notSentBefore;
      const downMs = this.downSince ? Date.now() - this.downSince.getTime() : 0;
      this.logger.info({ notSent, downMs }, "redis available again: live events cross instances again");
    }
    this.outage = null;
    this.downSince = null;
    this.lastError = undefined;
  }
}

/** QUIT when connected (flushes what is in flight), bounded; otherwise, or after that, just drop the socket. */
async function quit(client: Redis): Promise<void> {
  if (client.status === "ready") {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      client.quit().catch(() => undefined),
      new Promise((resolve) => (timer = setTimeout(resolve, 1_000))),
    ]);
    clearTimeout(timer);
  }
  client.disconnect();
}
