import type { Subscription } from "./pubsub.js";

export interface Sequenced {
  sequence: number;
  final: boolean;
}

export interface LiveOptions<E extends Sequenced> {
  /** Listening since before the caller read the database. */
  live: Subscription<E>;
  /** The last sequence number the client has. */
  after: number;
  /** Recorded events after a sequence number (the database is the truth). */
  recorded(after: number): Promise<E[]>;
  /** Whether the entity still exists, its last sequence, and whether more events can come. */
  state(): Promise<{ exists: boolean; lastSequence: number; open: boolean }>;
  /** With no live event for this long, the database is checked (events lost between instances, a deleted entity). */
  pollMs: number;
}

/**
 * The live part of a replayable progress stream: events in sequence order, each once, until a
 * final one. Live events come from this instance's bus; when none arrive for `pollMs`, the
 * recorded ones are read instead, so an event another instance published while the bus between
 * them was down, or the end of an entity that was deleted, still reaches the client.
 */
export async function* liveAfter<E extends Sequenced>(options: LiveOptions<E>): AsyncGenerator<E> {
  const { live } = options;
  let last = options.after;
  let pending: Promise<IteratorResult<E>> | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    for (;;) {
      pending ??= live.next();
      const outcome = await Promise.race([pending, new Promise<"poll">((resolve) => (timer = setTimeout(resolve, options.pollMs, "poll")))]);
      clearTimeout(timer);
      if (outcome !== "poll") {
        pending = undefined;
        if (outcome.done) return; // the subscriber fell behind (the client reconnects with afterSequence) or was closed
        const event = outcome.value;
        if (event.sequence <= last) continue;
        yield event;
        last = event.sequence;
        if (event.final) return;
        continue;
      }
      for (const event of await options.recorded(last)) {
        yield event;
        last = event.sequence;
        if (event.final) return;
      }
      const state = await options.state();
      if (!state.exists || (!state.open && state.lastSequence <= last)) return;
    }
  } finally {
    clearTimeout(timer);
    await live.return();
  }
}

/**
 * Makes a stream's return() also run `cleanup`: a generator that was never started does not
 * run its finally blocks, and a subscription made before it started must still be closed.
 */
export function closing<T>(generator: AsyncGenerator<T>, cleanup: () => Promise<unknown>): AsyncGenerator<T> {
  const original = generator.return.bind(generator);
  generator.return = async (value) => {
    await cleanup();
    return original(value);
  };
  return generator;
}

export interface ReplayOptions<E extends Sequenced> extends Omit<LiveOptions<E>, "after"> {
  /** Yields what the client missed (from the database); returns the sequence reached, and whether nothing more will come. */
  replay: () => AsyncGenerator<E, { after: number; ended: boolean }>;
}

/**
 * A replayable progress stream: the recorded events first, then live ones (liveAfter). The live
 * subscription, made before the database was read, is closed however the stream ends: after its
 * last event, on an error, or when the client leaves (even before the stream started).
 */
export function replayThenLive<E extends Sequenced>(options: ReplayOptions<E>): AsyncGenerator<E> {
  const { replay, ...live } = options;
  const stream = (async function* () {
    try {
      const { after, ended } = yield* replay();
      if (!ended) yield* liveAfter({ ...live, after });
    } finally {
      await options.live.return();
    }
  })();
  return closing(stream, () => options.live.return());
}
