import { print } from "graphql";
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  ArchivePromptDocument,
  CreatePromptDocument,
  DeletePromptDocument,
  PromptEventsDocument,
  RestorePromptDocument,
  UpdatePromptDocument,
  type PromptEventsSubscription,
} from "./generated/operations.js";
import { RollbackDocument, SetLabelDocument, StartBulkDocument } from "./generated/operations.js";
import { TEST_LIMITS, createTestApp, type TestApp } from "./helpers/app.js";

// These tests nest lists deeply to reach the depth limit; the cost limit has tests of its own.
const DEPTH_ONLY = { ...TEST_LIMITS, maxComplexity: 1_000_000_000 };

let t: TestApp;
let url: string;
let client: Client;

beforeAll(async () => {
  t = await createTestApp({ limits: DEPTH_ONLY });
  url = `ws://127.0.0.1:${await t.app.listen()}/graphql`;
  client = createClient({ url, webSocketImpl: WebSocket, retryAttempts: 0, lazy: false });
});
afterAll(async () => {
  await client.dispose();
  await t.close();
});

type Event = PromptEventsSubscription["promptEvents"];

/** Subscribes and collects events until `count` arrived (or the stream errors). */
function collect(variables: Record<string, unknown>, count: number) {
  const events: Event[] = [];
  let unsubscribe = () => {};
  const done = new Promise<Event[]>((resolve, reject) => {
    unsubscribe = client.subscribe<PromptEventsSubscription>(
      { query: print(PromptEventsDocument), variables },
      {
        next: (result) => {
          if (result.errors) return reject(new Error(JSON.stringify(result.errors)));
          events.push(result.data!.promptEvents);
          if (events.length === count) resolve(events);
        },
        error: (error) => reject(error instanceof Error ? error : new Error(JSON.stringify(error))),
        complete: () => resolve(events),
      },
    );
  });
  return { done, stop: () => unsubscribe() };
}

/** Waits until the server has `count` open subscriptions on the topic: then events cannot be missed. */
const subscribed = (topic: "prompt.events" | "notification.added", count: number) => until(() => t.app.bus.subscriberCount(topic) >= count);

describe("graphql-ws on the HTTP port", () => {
  it("streams prompt events published after commit, filtered by prompt and folder", async () => {
    const base = t.app.bus.subscriberCount("prompt.events");
    const all = collect({}, 3);
    const folder = collect({ folder: "ws-a" }, 2);
    await subscribed("prompt.events", base + 2);
    const a = await t.ok(CreatePromptDocument, { input: { name: "ws-a/one", content: "v1" } });
    const one = collect({ prompt: { id: a.createPrompt.id } }, 1);
    await subscribed("prompt.events", base + 3);
    await t.ok(UpdatePromptDocument, { prompt: { id: a.createPrompt.id }, input: { content: "v2" } });
    await t.ok(CreatePromptDocument, { input: { name: "ws-b/two", content: "v1" } });

    const [allEvents, folderEvents, oneEvents] = await Promise.all([all.done, folder.done, one.done]);
    expect(allEvents.map((e) => [e.type, e.promptName, e.versionNumber])).toEqual([
      ["CREATED", "ws-a/one", 1],
      ["VERSION_CREATED", "ws-a/one", 2],
      ["CREATED", "ws-b/two", 1],
    ]);
    expect(folderEvents.map((e) => e.type)).toEqual(["CREATED", "VERSION_CREATED"]);
    expect(oneEvents).toEqual([expect.objectContaining({ type: "VERSION_CREATED", promptId: a.createPrompt.id, versionNumber: 2 })]);
    expect(Date.parse(oneEvents[0]!.occurredAt)).not.toBeNaN();
    for (const s of [all, folder, one]) s.stop();
    // The server ends them asynchronously; the next test counts subscriptions from here.
    await until(() => t.app.bus.subscriberCount("prompt.events") <= base);
  });

  it("streams the whole lifecycle of one prompt: versions, label moves, archive, restore, delete", async () => {
    const { createPrompt } = await t.ok(CreatePromptDocument, { input: { name: "ws-life/one", content: "v1" } });
    const base = t.app.bus.subscriberCount("prompt.events");
    const stream = collect({ prompt: { id: createPrompt.id } }, 7);
    await subscribed("prompt.events", base + 1);
    await t.ok(UpdatePromptDocument, { prompt: { id: createPrompt.id }, input: { content: "v2" } });
    await t.ok(SetLabelDocument, { input: { prompt: { id: createPrompt.id }, label: "production", version: 2 } });
    await t.ok(RollbackDocument, { input: { prompt: { id: createPrompt.id }, toVersion: 1, moveLabels: ["production"] } });
    await t.ok(ArchivePromptDocument, { prompt: { id: createPrompt.id } });
    await t.ok(RestorePromptDocument, { prompt: { id: createPrompt.id } });
    await t.ok(DeletePromptDocument, { prompt: { id: createPrompt.id } });
    const events = await stream.done;
    expect(events.map((e) => [e.type, e.versionNumber, e.label, e.fromVersion])).toEqual([
      ["VERSION_CREATED", 2, null, null],
      ["LABEL_MOVED", 2, "production", null],
      ["VERSION_CREATED", 3, null, null],
      ["LABEL_MOVED", 3, "production", 2],
      ["ARCHIVED", 3, null, null],
      ["RESTORED", 3, null, null],
      ["DELETED", 3, null, null],
    ]);
    stream.stop();
  });

  it("fails one bad operation with an error and keeps the socket open", async () => {
    const raw = new WebSocket(url, "graphql-transport-ws");
    const messages: { type: string; id?: string; payload?: unknown }[] = [];
    raw.on("message", (data) => messages.push(JSON.parse(String(data))));
    await new Promise((resolve) => raw.once("open", resolve));
    raw.send(JSON.stringify({ type: "connection_init" }));
    await until(() => messages.some((m) => m.type === "connection_ack"));

    raw.send(JSON.stringify({ id: "bad-syntax", type: "subscribe", payload: { query: "subscription {" } }));
    raw.send(JSON.stringify({ id: "bad-field", type: "subscribe", payload: { query: "subscription { nope }" } }));
    raw.send(JSON.stringify({ id: "not-found", type: "subscribe", payload: { query: print(PromptEventsDocument), variables: { prompt: { name: "no/such" } } } }));
    await until(() => ["bad-syntax", "bad-field", "not-found"].every((id) => messages.some((m) => m.id === id)));

    const byId = (id: string) => messages.find((m) => m.id === id)!;
    expect(byId("bad-syntax").type).toBe("error");
    expect(JSON.stringify(byId("bad-syntax").payload)).toMatch(/Syntax Error/);
    expect(byId("bad-field").type).toBe("error");
    expect(JSON.stringify(byId("not-found").payload)).toMatch(/"code":"NOT_FOUND"/);
    expect(raw.readyState).toBe(WebSocket.OPEN);

    // Malformed payloads: an error for that operation, the socket stays open.
    raw.send(JSON.stringify({ id: "no-payload", type: "subscribe" }));
    raw.send(JSON.stringify({ id: "query-number", type: "subscribe", payload: { query: 42 } }));
    raw.send(JSON.stringify({ id: "variables-array", type: "subscribe", payload: { query: "{ __typename }", variables: [1] } }));
    await until(() => ["no-payload", "query-number", "variables-array"].every((id) => messages.some((m) => m.id === id)));
    for (const id of ["no-payload", "query-number", "variables-array"]) {
      expect(byId(id)).toMatchObject({ type: "error", payload: [{ extensions: { code: "BAD_REQUEST" } }] });
    }
    // The same validation rules as HTTP: an operation nested too deep is refused.
    const nest = (n: number): string => (n === 0 ? "name" : `relationships { source { ${nest(n - 1)} } }`);
    const deep = `{ prompts { nodes { ${nest(6)} } } }`;
    const tooDeep = `{ prompts { nodes { ${nest(7)} } } }`;
    raw.send(JSON.stringify({ id: "shallow", type: "subscribe", payload: { query: deep } }));
    raw.send(JSON.stringify({ id: "deep", type: "subscribe", payload: { query: tooDeep } }));
    await until(() => messages.some((m) => m.id === "deep") && messages.some((m) => m.id === "shallow" && m.type === "complete"));
    expect(byId("deep").type).toBe("error");
    expect(JSON.stringify(byId("deep").payload)).toMatch(/levels deep; the limit is 15/);
    expect(raw.readyState).toBe(WebSocket.OPEN);

    raw.send(JSON.stringify({ id: "ok", type: "subscribe", payload: { query: "{ __typename }" } }));
    await until(() => messages.some((m) => m.id === "ok" && m.type === "complete"));
    expect(messages.find((m) => m.id === "ok" && m.type === "next")!.payload).toEqual({ data: { __typename: "Query" } });
    raw.close();
  });
});

describe("notifications over graphql-ws", () => {
  it("pushes a notification when a bulk operation finishes", async () => {
    const received = new Promise<{ kind: string; data: Record<string, unknown> }>((resolve, reject) => {
      const stop = client.subscribe<{ notificationAdded: { kind: string; data: Record<string, unknown> } }>(
        { query: "subscription { notificationAdded { kind title data } }" },
        { next: (r) => (r.errors ? reject(new Error(JSON.stringify(r.errors))) : (stop(), resolve(r.data!.notificationAdded))), error: reject, complete: () => undefined },
      );
    });
    await subscribed("notification.added", 1);
    const { startBulkOperation } = await t.ok(StartBulkDocument, { input: { kind: "CREATE_PROMPTS", items: [{ name: "ws-notify/a", content: "x" }] } });
    expect(await received).toMatchObject({ kind: "BULK_OPERATION_COMPLETED", data: { operationId: startBulkOperation.id } });
  });
});

async function until(condition: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
