import { createPubSub, type PubSub, type Repeater } from "@graphql-yoga/subscription";
import type { AppConfig } from "../config.js";
import type { Logger } from "../logger.js";
import type { TopicName, Topics } from "./topics.js";

type PublishArgs = { [K in TopicName]: [Topics[K]] };

export interface RelayHealth {
  ok: boolean;
  detail?: string;
}

export interface RelayStats {
  /** Events handed to the transport for the other instances. */
  sent: number;
  /** Events the other instances did not get (transport down or failing); this instance's subscribers did. */
  notSent: number;
  /** Events from other instances delivered here. */
  received: number;
  /** This instance's own events coming back from the transport, skipped. */
  echoesIgnored: number;
  /** Messages on the channel that were not events. */
  malformed: number;
}

/** Carries events to and from the other instances (Redis when REDIS_URL is set). */
export interface EventRelay {
  /** `deliver` hands another instance's event to this instance's subscribers. */
  start(deliver: (topic: string, payload: unknown) => void): void;
  /** Fire and forget: must neither throw nor wait. */
  send(topic: TopicName, payload: unknown): void;
  health(): RelayHealth;
  stats(): RelayStats;
  close(): Promise<void>;
}

/**
 * Typed publish/subscribe over the topic catalog. Subscribers of this instance get an event at once,
 * in-process; with a relay the event also goes to the other instances, so an outage of the relay
 * only cuts cross-instance delivery.
 */
export class EventBus {
  private readonly local: PubSub<PublishArgs> = createPubSub<PublishArgs>();
  private readonly open = new Map<TopicName, number>();

  constructor(private readonly relay?: EventRelay) {
    relay?.start((topic, payload) => this.deliver(topic as TopicName, payload as Topics[TopicName]));
  }

  /** Call only after the transaction that made the change has committed. */
  publish<K extends TopicName>(topic: K, payload: Topics[K]): void {
    try {
      this.deliver(topic, payload);
    } finally {
      this.relay?.send(topic, payload);
    }
  }

  subscribe<K extends TopicName>(topic: K): Repeater<Topics[K]> {
    const source = (this.local.subscribe as (topic: K) => Repeater<Topics[K]>)(topic);
    this.open.set(topic, (this.open.get(topic) ?? 0) + 1);
    let ended = false;
    const end = () => {
      if (!ended) this.open.set(topic, (this.open.get(topic) ?? 1) - 1);
      ended = true;
    };
    // Counts open subscriptions per topic: the repeater keeps its state keyed by the instance,
    // so methods are bound to it rather than called on the proxy.
    return new Proxy(source, {
      get(target, property) {
        const value = Reflect.get(target, property, target) as unknown;
        if (property === "return" && typeof value === "function") {
          return (arg?: unknown) => {
            end();
            return (value as (a?: unknown) => unknown).call(target, arg);
          };
        }
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  }

  /** Subscriptions open on this instance for a topic (health, metrics, and tests waiting for a subscriber). */
  subscriberCount(topic: TopicName): number {
    return this.open.get(topic) ?? 0;
  }

  /** Null when events stay in this process (nothing to be unhealthy). */
  health(): RelayHealth | null {
    return this.relay?.health() ?? null;
  }

  stats(): RelayStats | null {
    return this.relay?.stats() ?? null;
  }

  /** Closes the relay's connections; local subscriptions end with their sockets. */
  async close(): Promise<void> {
    await this.relay?.close();
  }

  private deliver<K extends TopicName>(topic: K, payload: Topics[K]): void {
    (this.local.publish as (topic: K, payload: Topics[K]) => void)(topic, payload);
  }
}

/** In-process without `config.redis`; otherwise shared with the other instances over Redis. */
export async function createEventBus(config: Pick<AppConfig, "redis">, logger: Logger): Promise<EventBus> {
  if (!config.redis) return new EventBus();
  // Loaded only when used: an instance without Redis never loads ioredis.
  const { RedisEventRelay } = await import("./redis-relay.js");
  return new EventBus(new RedisEventRelay(config.redis, logger));
}
