import { buildSchema, parse, type ExecutionResult, type GraphQLSchema } from "graphql";
import { MessageType, stringifyMessage } from "graphql-ws";
import { describe, expect, it } from "vitest";
import { deliverDirectly, MAX_BACKLOG_BYTES, SharedResult, type DirectSink } from "../src/subscriptions/direct-delivery.js";
import { EventBus, MAX_PENDING_EVENTS, type Subscription } from "../src/subscriptions/pubsub.js";
import { sharedSubscribe } from "../src/subscriptions/shared-execution.js";
import type { PromptEventPayload } from "../src/subscriptions/topics.js";

// A schema whose subscription field streams the bus's prompt events; its resolver counts its
// calls, and answers after a delay, or fails, for events named so.
function fixture() {
  const schema = buildSchema("type Query { ok: Boolean } type Subscription { names: String }");
  const bus = new EventBus();
  const streams: Subscription<PromptEventPayload>[] = [];
  let resolved = 0;
  const field = schema.getSubscriptionType()!.getFields().names!;
  field.subscribe = () => {
    const stream = bus.subscribe("prompt.events");
    streams.push(stream);
    return stream;
  };
  field.resolve = ((event: PromptEventPayload) => {
    resolved++;
    if (event.promptName === "boom") throw new Error("resolver failed");
    if (event.promptName.startsWith("slow")) return new Promise((resolve) => setTimeout(resolve, 20, event.promptName));
    return event.promptName;
  }) as never;
  const publish = (promptName: string) =>
    bus.publish("prompt.events", { type: "CREATED", promptId: "p1", promptName, versionNumber: 1, occurredAt: "2026-12-02T00:00:00.000Z" });
  return { schema, bus, streams, publish, resolved: () => resolved };
}

/** A socket stand-in: the frames it was given, and a backlog the test sets. */
function sink(id: string) {
  const frames: string[] = [];
  const state = { backlog: 0 };
  const value: DirectSink = {
    id,
    send: (frame) => void frames.push(frame),
    backlog: () => state.backlog,
    withErrors: (result) => ({ ...result, errors: (result.errors ?? []).map((e) => ({ message: `masked for ${id}: ${e.message}` })) }),
  };
  return { value, frames, state };
}

/** Operations of one server: they share executions when they ask the same way as the same principal. */
function operations(schema: GraphQLSchema) {
  const sinks = new Map<object, DirectSink>();
  const subscribe = sharedSubscribe(
    (context) => (context as { who: string }).who,
    (context) => sinks.get(context as object),
  );
  /** `subscription { names }` as `who`, written to `to` when given. */
  return (to?: DirectSink, who = "ann") => {
    const contextValue = { who };
    if (to) sinks.set(contextValue, to);
    return subscribe({ schema, document: parse("subscription { names }"), contextValue }) as Promise<AsyncGenerator<ExecutionResult, void, void>>;
  };
}

/** What graphql-ws itself would send for this result. */
const graphqlWsFrame = (id: string, payload: ExecutionResult) => stringifyMessage({ id, type: MessageType.Next, payload });

describe("results written straight to the socket (deliverDirectly)", () => {
  it("sends graphql-ws's exact frames, executing and encoding each event once for all its subscribers", async () => {
    const { schema, publish, resolved } = fixture();
    const a = sink("1");
    const b = sink("op-\"2\"");
    const subscribe = operations(schema);
    const streams = await Promise.all([subscribe(a.value), subscribe(b.value)]);
    publish("alpha");
    publish("beta");
    expect(a.frames).toEqual([graphqlWsFrame("1", { data: { names: "alpha" } }), graphqlWsFrame("1", { data: { names: "beta" } })]);
    expect(b.frames).toEqual([graphqlWsFrame("op-\"2\"", { data: { names: "alpha" } }), graphqlWsFrame("op-\"2\"", { data: { names: "beta" } })]);
    expect(resolved()).toBe(2);
    for (const stream of streams) await stream.return(undefined);
  });

  it("keeps each subscriber's order while an execution is still running, and formats errors per subscriber", async () => {
    const { schema, publish } = fixture();
    const a = sink("1");
    const stream = await operations(schema)(a.value);
    publish("slow-1");
    publish("fast");
    publish("slow-2");
    expect(a.frames).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 60));
    const names = a.frames.map((frame) => (JSON.parse(frame) as { payload: { data: { names: string } } }).payload.data.names);
    expect(names).toEqual(["slow-1", "fast", "slow-2"]);
    // A field error: the result still comes, with the errors as this subscriber's sink formats them.
    publish("boom");
    const last = JSON.parse(a.frames.at(-1)!) as { payload: { data: unknown; errors: { message: string }[] } };
    expect(last.payload.data).toEqual({ names: null });
    expect(last.payload.errors).toEqual([{ message: "masked for 1: resolver failed" }]);
    await stream.return(undefined);
  });

  it("ends when the stream ends, after what was held back, and stops at once on return()", async () => {
    const { schema, publish, streams } = fixture();
    const a = sink("1");
    const stream = await operations(schema)(a.value);
    const ended = stream.next();
    publish("slow-1");
    streams[0]!.return();
    expect(await ended).toEqual({ value: undefined, done: true });
    expect(a.frames).toHaveLength(1);

    const b = sink("2");
    const second = await operations(schema)(b.value);
    publish("one");
    expect(await second.return(undefined)).toEqual({ value: undefined, done: true });
    publish("two");
    expect(b.frames).toHaveLength(1);
    expect(await second.next()).toEqual({ value: undefined, done: true });
  });

  it("rejects next() when an execution fails as a whole, so graphql-ws sends an error, and stops listening", async () => {
    const bus = new EventBus();
    const a = sink("1");
    const stream = deliverDirectly(bus.subscribe("prompt.events"), a.value, () => new SharedResult(Promise.reject(new Error("execution failed"))));
    const ended = stream.next();
    bus.publish("prompt.events", { type: "CREATED", promptId: "p1", promptName: "x", versionNumber: 1, occurredAt: "2026-12-02T00:00:00.000Z" });
    await expect(ended).rejects.toThrow("execution failed");
    expect(a.frames).toEqual([]);
    expect(bus.subscriberCount("prompt.events")).toBe(0);
  });

  it("ends a subscriber whose socket holds too much unsent", async () => {
    const { schema, publish, streams } = fixture();
    const a = sink("1");
    const stream = await operations(schema)(a.value);
    publish("one");
    a.state.backlog = MAX_BACKLOG_BYTES + 1;
    publish("two");
    publish("three");
    expect(a.frames).toHaveLength(2);
    expect(streams[0]!.overflowed).toBe(true);
    expect(await stream.next()).toEqual({ value: undefined, done: true });
  });

  it("fails the operation, rather than dropping the event, when a result cannot be encoded", async () => {
    const bus = new EventBus();
    const a = sink("1");
    const stream = deliverDirectly(bus.subscribe("prompt.events"), a.value, () => new SharedResult({ data: { big: 1n } as never }));
    const ended = stream.next();
    bus.publish("prompt.events", { type: "CREATED", promptId: "p1", promptName: "x", versionNumber: 1, occurredAt: "2026-12-02T00:00:00.000Z" });
    await expect(ended).rejects.toThrow(/BigInt/);
    expect(a.frames).toEqual([]);
    expect(bus.subscriberCount("prompt.events")).toBe(0);
  });

  it("ends a subscriber whose results pile up behind an execution that does not finish", async () => {
    const bus = new EventBus();
    const a = sink("1");
    const stuck = new SharedResult(new Promise<ExecutionResult>(() => undefined));
    const subscription = bus.subscribe("prompt.events");
    deliverDirectly(subscription, a.value, () => stuck);
    for (let i = 0; i <= MAX_PENDING_EVENTS + 10; i++) {
      bus.publish("prompt.events", { type: "CREATED", promptId: "p1", promptName: `x${i}`, versionNumber: 1, occurredAt: "2026-12-02T00:00:00.000Z" });
    }
    expect(subscription.overflowed).toBe(true);
    expect(bus.subscriberCount("prompt.events")).toBe(0);
    expect(a.frames).toEqual([]);
  });

  it("leaves operations without a sink to graphql-ws's own path", async () => {
    const { schema, publish } = fixture();
    const stream = await operations(schema)();
    const next = stream.next();
    publish("alpha");
    expect(await next).toEqual({ value: { data: { names: "alpha" } }, done: false });
    await stream.return(undefined);
  });
});
