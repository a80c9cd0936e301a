import type { AppConfig } from "../config.js";
import type { Logger } from "../logger.js";
import type { TopicName, Topics } from "./topics.js";

/** Events one subscription may have waiting; a subscriber that falls further behind is ended. */
export const MAX_PENDING_EVENTS = 1_000;

/** What Subscription.listen hands events to. */
export interface SubscriptionConsumer<T> {
  next(value: T): void;
  end(): void;
}

/**
 * One subscriber's stream: listening from the moment it is created (so a service can subscribe,
 * then read the database, and miss nothing published in between), with a bounded queue. A
 * consumer that stops reading (a stalled socket) gets what is queued, then the end of the
 * stream, instead of growing the queue without bound; a client reconnects with afterSequence.
 */
export class Subscription<T> implements AsyncIterableIterator<T> {
  private readonly queue: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | undefined;
  /** Set by listen: events go to it as they are pushed instead of into the queue. */
  private consumer: SubscriptionConsumer<T> | undefined;
  private ended = false;
  /** True when the stream ended because its consumer fell behind. */
  overflowed = false;

  constructor(
    private readonly accept: (value: T) => boolean,
    private readonly onEnd: () => void,
    private readonly maxPending = MAX_PENDING_EVENTS,
  ) {}

  /** Never throws: called from the publisher's loop. */
  push(value: T): void {
    if (this.ended) return;
    try {
      if (!this.accept(value)) return;
    } catch {
      return;
    }
    if (this.consumer) {
      try {
        this.consumer.next(value);
      } catch {
        // the consumer's own failure; the publisher's loop goes on
      }
    } else if (this.waiting) {
      const resolve = this.waiting;
      this.waiting = undefined;
      resolve({ value, done: false });
    } else if (this.queue.length >= this.maxPending) {
      this.fallBehind();
    } else {
      this.queue.push(value);
    }
  }

  /**
   * From now on each event goes to `consumer` synchronously, as it is pushed (those queued so far
   * first), and the end of the stream to consumer.end; next() is not to be used any more. For a
   * consumer with nowhere to wait (see deliverDirectly): it bounds what it holds itself, and ends
   * the stream with fallBehind when its client does not keep up.
   */
  listen(consumer: SubscriptionConsumer<T>): void {
    this.consumer = consumer;
    for (const value of this.queue.splice(0)) consumer.next(value);
    if (this.ended) consumer.end();
  }

  /** Ends the stream because its consumer fell behind (as a full queue does). */
  fallBehind(): void {
    this.overflowed = true;
    this.finish();
  }

  /** Events queued and not read yet. */
  get pending(): number {
    return this.queue.length;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.queue.length > 0) return Promise.resolve({ value: this.queue.shift()!, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiting = resolve));
  }

  return(): Promise<IteratorResult<T>> {
    this.queue.length = 0;
    this.finish();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Stops listening; what is queued can still be read. */
  private finish(): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd();
    this.consumer?.end();
    const resolve = this.waiting;
    this.waiting = undefined;
    resolve?.({ value: undefined, done: true });
  }
}

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
  private readonly subscribers = new Map<TopicName, Set<Subscription<unknown>>>();

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

  /**
   * A stream of the topic's events that `accept` lets through (filtering here, not in the
   * consumer, keeps other entities' events out of its queue). Listening starts at once.
   */
  subscribe<K extends TopicName>(topic: K, accept: (payload: Topics[K]) => boolean = () => true): Subscription<Topics[K]> {
    let set = this.subscribers.get(topic);
    if (!set) this.subscribers.set(topic, (set = new Set()));
    const subscription = new Subscription<Topics[K]>(accept, () => set.delete(subscription as Subscription<unknown>));
    set.add(subscription as Subscription<unknown>);
    return subscription;
  }

  /** Subscriptions open on this instance for a topic (health, metrics, and tests waiting for a subscriber). */
  subscriberCount(topic: TopicName): number {
    return this.subscribers.get(topic)?.size ?? 0;
  }

  /** Subscriptions open on this instance, all topics. */
  totalSubscribers(): number {
    let total = 0;
    for (const set of this.subscribers.values()) total += set.size;
    return total;
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
    const set = this.subscribers.get(topic);
    if (!set) return;
    for (const subscription of [...set]) subscription.push(payload);
  }
}

/** In-process without `config.redis`; otherwise shared with the other instances over Redis. */
export async function createEventBus(config: Pick<AppConfig, "redis">, logger: Logger): Promise<EventBus> {
  if (!config.redis) return new EventBus();
  // Loaded only when used: an instance without Redis never loads ioredis.
  const { RedisEventRelay } = await import("./redis-relay.js");
  return new EventBus(new RedisEventRelay(config.redis, logger));
}
