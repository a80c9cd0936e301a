import { buildSchema, parse, type ExecutionResult } from "graphql";
import { describe, expect, it } from "vitest";
import { sharedSubscribe } from "../src/subscriptions/shared-execution.js";

// A subscription whose source hands every subscriber the same event objects (as the event bus
// does) and whose field resolver counts its calls.
function fixture() {
  const schema = buildSchema("type Query { ok: Boolean } type Subscription { tick: Int }");
  const events = [{ n: 1 }, { n: 2 }];
  let resolved = 0;
  const rootValue = {
    tick: {
      subscribe: async function* () {
        for (const event of events) yield event;
      },
      resolve: (event: { n: number }) => {
        resolved++;
        return event.n;
      },
    },
  };
  // graphql-js reads subscribe/resolve from the schema's fields: attach them.
  const field = schema.getSubscriptionType()!.getFields().tick!;
  field.subscribe = rootValue.tick.subscribe;
  field.resolve = rootValue.tick.resolve as never;
  return { schema, resolved: () => resolved };
}

async function collect(stream: unknown): Promise<ExecutionResult[]> {
  const out: ExecutionResult[] = [];
  for await (const result of stream as AsyncIterable<ExecutionResult>) out.push(result);
  return out;
}

describe("sharedSubscribe", () => {
  it("executes an event once for subscriptions with the same document, variables and principal", async () => {
    const { schema, resolved } = fixture();
    const subscribe = sharedSubscribe((context) => (context as { who: string }).who);
    const document = parse("subscription { tick }");
    const [a, b] = await Promise.all([
      subscribe({ schema, document, contextValue: { who: "ann" } }).then(collect),
      subscribe({ schema, document, contextValue: { who: "ann" } }).then(collect),
    ]);
    expect(a).toEqual([{ data: { tick: 1 } }, { data: { tick: 2 } }]);
    expect(b).toEqual(a);
    expect(resolved()).toBe(2);
  });

  it("does not share between principals, nor when the principal is unknown", async () => {
    const { schema, resolved } = fixture();
    const subscribe = sharedSubscribe((context) => (context as { who?: string }).who);
    const document = parse("subscription { tick }");
    await Promise.all([
      subscribe({ schema, document, contextValue: { who: "ann" } }).then(collect),
      subscribe({ schema, document, contextValue: { who: "bob" } }).then(collect),
      subscribe({ schema, document, contextValue: {} }).then(collect),
      subscribe({ schema, document, contextValue: {} }).then(collect),
    ]);
    expect(resolved()).toBe(8);
  });
});
