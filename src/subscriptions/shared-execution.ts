import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from "graphql";

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
 */
export function sharedSubscribe(principalOf: (contextValue: unknown) => string | undefined) {
  const results = new WeakMap<object, Map<string, Outcome>>();
  return async function subscribe(args: ExecutionArgs): Promise<AsyncGenerator<ExecutionResult, void, void> | ExecutionResult> {
    const stream = await createSourceEventStream(args);
    if (!isAsyncIterable(stream)) return stream;
    const run = (event: unknown) => execute({ ...args, rootValue: event });
    const key = shareKey(args, principalOf);
    if (key === undefined) return mapStream(stream, run);
    return mapStream(stream, (event) => {
      if (typeof event !== "object" || event === null) return run(event);
      let byKey = results.get(event);
      if (!byKey) results.set(event, (byKey = new Map()));
      let outcome = byKey.get(key);
      if (outcome === undefined) byKey.set(key, (outcome = run(event)));
      return outcome;
    });
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
