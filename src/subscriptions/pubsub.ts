import { createPubSub, type PubSub, type Repeater } from "@graphql-yoga/subscription";
import type { TopicName, Topics } from "./topics.js";

type PublishArgs = { [K in TopicName]: [Topics[K]] };

/**
 * Typed publish/subscribe over the topic catalog. In-process for now; a Redis-backed
 * event target plugs in here when cross-instance delivery lands.
 */
export class EventBus {
  private readonly pubsub: PubSub<PublishArgs> = createPubSub<PublishArgs>();

  /** Call only after the transaction that made the change has committed. */
  publish<K extends TopicName>(topic: K, payload: Topics[K]): void {
    (this.pubsub.publish as (topic: K, payload: Topics[K]) => void)(topic, payload);
  }

  subscribe<K extends TopicName>(topic: K): Repeater<Topics[K]> {
    return (this.pubsub.subscribe as (topic: K) => Repeater<Topics[K]>)(topic);
  }
}
