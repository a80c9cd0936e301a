import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from "graphql";
import { detached } from "../auth/scope.js";
import { deliverDirectly, SharedResult, type DirectSink } from "./direct-delivery.js";
import { Subscription } from "./pubsub.js";

type Outcome = ExecutionResult | Promise<ExecutionResult>;

/**
 * graphql-js's `subscribe`, except that an event is executed once for all the subscriptions that
 * asked for it the same way: the same document text and operation, the same variables, the same
 * principal. With a thousand clients watching one prompt, graphql-js would otherwise build an
 * execution context, coerce the variables and arguments, and resolve every field a thousand
 * times over for one and the same result (and the garbage of it all was most of the cost of a
 * fan-out, bench S7).
 *
 * Sharing relies on the event bus handing every subscriber the same payload object (EventBus
 * delivers one object to all, the Redis relay parses a message once): results are remembered per
 * payload object in a WeakMap, so they go when the event does. A stream whose events are fresh
 * objects per subscriber (a replay from the database) simply shares nothing. `principalOf` returns
 * undefined when a context's principal is unknown, and such subscriptions share nothing either.
 * Resolvers of subscription fields must therefore not depend on more of the context than the
 * principal: they are run with the first subscriber's context for all of them.
 *
 * When `sinkOf` gives a subscription's socket and its stream is the event bus's own, results go
 * straight to the socket as events are published (deliverDirectly), encoded once for all. The
 * execution then starts inside the publisher's call; like every execution here it runs detached
 * from any operation's scope, so it never sees the publishing mutation's principal or audit entry.
 */
export function sharedSubscribe(
  principalOf: (contextValue: unknown) => string | undefined,
  sinkOf: (contextValue: unknown) => DirectSink | undefined = () => undefined,
) {
  const results = new WeakMap<object, Map<string, SharedResult>>();
  return async function subscribe(args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult, void, void> | ExecutionResult> {
    const stream = await createSourceEventStream(args);
    if (!isAsyncIterable(stream)) return stream;
    const run = (event: unknown): Outcome => {
      try {
        return detached(() => execute({ ...args, rootValue: event }));
      } catch (error) {
        return Promise.reject(error);
      }
    };
    const key = shareKey(args, principalOf);
    if (key === undefined) return mapStream(stream, run);
    const resultFor = (event: unknown): SharedResult => {
      if (typeof event !== "object" || event === null) return new SharedResult(run(event));
      let byKey = results.get(event);
      if (!byKey) results.set(event, (byKey = new Map()));
      let shared = byKey.get(key);
      if (shared === undefined) byKey.set(key, (shared = new SharedResult(run(event))));
      return shared;
    };
    const sink = sinkOf(args.contextValue);
    if (sink && stream instanceof Subscription) return deliverDirectly(stream, sink, resultFor);
    return mapStream(stream, (event) => resultFor(event).outcome);
  };
}

/** What makes two subscriptions' results for one event the same; undefined: not known, do not share. */
function shareKey(args: ExecutionArgs, principalOf: (contextValue: unknown) => string | undefined): string | undefined {
  const source = args.document.loc?.source.body;
  const principal = principalOf(args.contextValue);
  if (source === undefined || principal === undefined) return undefined;
  let variables: string;
  try {
    variables = JSON.stringify(args.variableValues ?? null);
  } catch {
    return undefined;
  }
  return JSON.stringify([source, args.operationName ?? null, variables, principal]);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === "function";
}

/** graphql-js's mapAsyncIterator (internal to it): maps each event, forwards return/throw, closes the source when mapping fails. */
function mapStream(source: AsyncIterable<unknown>, map: (event: unknown) => Outcome): AsyncGenerator<ExecutionResult, void, void> {
  const iterator = source[Symbol.asyncIterator]();
  const closeQuietly = async () => {
    try {
      await iterator.return?.();
    } catch {
      // keep the mapping error
    }
  };
  const mapped = async (step: IteratorResult<unknown>): Promise<IteratorResult<ExecutionResult, void>> => {
    if (step.done) return { value: undefined, done: true };
    try {
      return { value: await map(step.value), done: false };
    } catch (error) {
      await closeQuietly();
      throw error;
    }
  };
  return {
    async next() {
      return mapped(await iterator.next());
    },
    async return() {
      return typeof iterator.return === "function" ? mapped(await iterator.return()) : { value: undefined, done: true };
    },
    async throw(error: unknown) {
      if (typeof iterator.throw === "function") return mapped(await iterator.throw(error));
      await closeQuietly();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  } as AsyncGenerator<ExecutionResult, void, void>;
}
