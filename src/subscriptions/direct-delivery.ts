import type { ExecutionResult } from "graphql";
import { MAX_PENDING_EVENTS, type Subscription } from "./pubsub.js";

/**
 * Where one subscription's results go when they bypass graphql-ws's per-subscriber chain (see
 * deliverDirectly): the socket and operation id, as ws-server.ts knows them.
 */
export interface DirectSink {
  /** The operation's id, as its `next` frames carry it. */
  readonly id: string;
  /** Queues a text frame on the socket, in order with everything else sent on it. */
  send(frame: string): void;
  /** Bytes queued on the socket and not yet handed to the kernel. */
  backlog(): number;
  /** The `next` payload for a result with errors, formatted for this subscriber (as the onNext hook does). */
  withErrors(result: ExecutionResult): unknown;
}

/**
 * A subscriber whose socket holds more than this unsent is ended, as a Subscription whose queue
 * is full is (the client reconnects; progress streams resume with afterSequence). At about 300
 * bytes a `promptEvents` frame, some 14,000 events.
 */
export const MAX_BACKLOG_BYTES = 4 * 1024 * 1024;

/** One event's result for one way of asking (see sharedSubscribe): executed once, serialised once. */
export class SharedResult {
  state: "pending" | "done" | "failed";
  result: ExecutionResult | undefined;
  error: unknown;
  private json: string | undefined;
  private waiters: (() => void)[] | undefined;

  constructor(readonly outcome: ExecutionResult | Promise<ExecutionResult>) {
    if (!isPromise(outcome)) {
      this.state = "done";
      this.result = outcome;
      return;
    }
    this.state = "pending";
    outcome.then(
      (result) => this.settle("done", result, undefined),
      (error: unknown) => this.settle("failed", undefined, error),
    );
  }

  /** The payload of graphql-ws's `next` frame as JSON: one string for all subscribers unless the result has errors. */
  payloadJson(sink: DirectSink): string {
    const result = this.result!;
    if (result.errors?.length) return JSON.stringify(sink.withErrors(result));
    return (this.json ??= JSON.stringify(result));
  }

  /** Runs `fn` once the execution settles (now, if it has). */
  whenSettled(fn: () => void): void {
    if (this.state !== "pending") fn();
    else (this.waiters ??= []).push(fn);
  }

  private settle(state: "done" | "failed", result: ExecutionResult | undefined, error: unknown): void {
    this.state = state;
    this.result = result;
    this.error = error;
    const waiters = this.waiters ?? [];
    this.waiters = undefined;
    for (const waiter of waiters) waiter();
  }
}

/**
 * A subscription's results written straight to its socket, as its events are published.
 *
 * graphql-ws delivers each result through a chain of its own per subscriber: the stream's
 * next(), the mapping, `for await`, onNext, a JSON encoding of the whole message and a promise
 * per send. With a thousand subscribers of one stream that chain was most of the server's CPU
 * for a fan-out (bench S7: about 20 of 30 µs a delivered message, against 7 for the write itself).
 * Here the event bus hands each event to `resultFor` synchronously; the result, shared by every
 * subscriber asking the same way, is encoded once, and each subscriber's frame is that JSON with
 * its id around it, queued on its socket in event order. Results still executing (a resolver that
 * returns a promise) hold back the ones after them, so order per subscriber is kept.
 *
 * graphql-ws gets an iterator that yields nothing and ends when the stream does (it then sends
 * `complete`, after the frames queued before) or rejects when an execution failed (it then sends
 * `error`); its return() (the client's `complete`, a closed socket) stops delivery at once. The
 * frames are byte for byte what graphql-ws would send.
 */
export function deliverDirectly<T>(
  stream: Subscription<T>,
  sink: DirectSink,
  resultFor: (event: T) => SharedResult,
): AsyncGenerator<ExecutionResult, void, void> {
  const prefix = `{"id":${JSON.stringify(sink.id)},"type":"next","payload":`;
  /** Results of this subscriber not sent yet, in event order; the first is still executing. */
  const held: SharedResult[] = [];
  let ended = false;
  let stopped = false;
  let failure: { error: unknown } | undefined;
  let finish!: (step: IteratorResult<ExecutionResult, void>) => void;
  let fail!: (error: unknown) => void;
  const end = new Promise<IteratorResult<ExecutionResult, void>>((resolve, reject) => {
    finish = resolve;
    fail = reject;
  });
  // Nothing may be left unhandled should graphql-ws stop reading it.
  end.catch(() => undefined);

  const settleIfDone = () => {
    if (stopped) return;
    if (failure) {
      stopped = true;
      fail(failure.error);
    } else if (ended && held.length === 0) {
      stopped = true;
      finish({ value: undefined, done: true });
    }
  };
  const send = (shared: SharedResult) => {
    let payload: string;
    try {
      payload = shared.payloadJson(sink);
    } catch (error) {
      // A result JSON cannot encode: the operation fails with an error, as graphql-ws's own
      // encoding failing would make it, instead of the event going missing.
      failure = { error };
      held.length = 0;
      stream.return();
      return;
    }
    sink.send(`${prefix}${payload}}`);
    if (sink.backlog() > MAX_BACKLOG_BYTES) stream.fallBehind();
  };
  const drain = () => {
    while (!stopped && !failure && held.length > 0 && held[0]!.state !== "pending") {
      const shared = held.shift()!;
      if (shared.state === "failed") {
        failure = { error: shared.error };
        held.length = 0;
        stream.return();
      } else send(shared);
    }
    settleIfDone();
  };

  stream.listen({
    next(event) {
      if (stopped || failure) return;
      const shared = resultFor(event);
      if (held.length === 0 && shared.state === "done") return send(shared);
      // Results held behind one still executing are bounded as a Subscription's queue is.
      if (held.length >= MAX_PENDING_EVENTS) return stream.fallBehind();
      held.push(shared);
      shared.whenSettled(drain);
    },
    end() {
      ended = true;
      settleIfDone();
    },
  });

  const stop = () => {
    if (!stopped) {
      stopped = true;
      finish({ value: undefined, done: true });
    }
    held.length = 0;
    stream.return();
  };
  return {
    next: () => end,
    async return() {
      stop();
      return { value: undefined, done: true };
    },
    async throw(error: unknown) {
      stop();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  } as AsyncGenerator<ExecutionResult, void, void>;
}

function isPromise<T>(value: T | Promise<T>): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === "function";
}
