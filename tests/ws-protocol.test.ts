// The graphql-transport-ws protocol, frame by frame, against the real server: what a conforming
// client gets, and what each way of breaking the protocol costs (an error for one operation, or
// which close code for the socket).
import { CloseCode, MessageType, stringifyMessage } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreatePromptDocument } from "./generated/operations.js";
import { createTestApp, type TestApp } from "./helpers/app.js";
import { connectionParams, KEYS_REQUIRED, muteGraphqlWsFaults, Wire, type WireMessage } from "./helpers/wire.js";

// Small, so that a frame over the limit is cheap to send.
const MAX_BODY_BYTES = 16 * 1024;
/** RFC 6455: the message is too big to process. */
const MESSAGE_TOO_BIG = 1009;

let t: TestApp;
let url: string;
const open: Wire[] = [];
const faults = muteGraphqlWsFaults();

beforeAll(async () => {
  t = await createTestApp({ maxBodyBytes: MAX_BODY_BYTES, ...KEYS_REQUIRED });
  url = `ws://127.0.0.1:${await t.app.listen()}/graphql`;
});
afterAll(async () => {
  await Promise.all(open.map((wire) => wire.close()));
  await t?.close();
  faults.restore();
});

const track = (wire: Wire) => (open.push(wire), wire);
const raw = async () => track(await Wire.open(url));
const connected = async () => track(await Wire.connect(url));

const subscribe = (id: string, query: string, extra: Record<string, unknown> = {}) => ({
  type: MessageType.Subscribe,
  id,
  payload: { query, ...extra },
});
const forId = (id: string, type?: MessageType) => (m: WireMessage) => m.id === id && (type === undefined || m.type === type);

/** The errors of an operation, whether they came as an `error` message or in a `next` result. */
const errorsOf = (m: WireMessage) =>
  (m.type === MessageType.Error ? m.payload : (m.payload as { errors?: unknown[] }).errors ?? []) as {
    message: string;
    extensions?: { code?: string };
  }[];

async function until(condition: () => boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("handshake", () => {
  it("acknowledges connection_init", async () => {
    const wire = await raw();
    wire.send({ type: MessageType.ConnectionInit, ...(connectionParams ? { payload: connectionParams } : {}) });
    expect(await wire.next(() => true)).toEqual({ type: MessageType.ConnectionAck });
  });

  it("closes with 4408 when no connection_init comes within the init timeout", async () => {
    const timeoutMs = t.app.config.limits.wsInitTimeoutMs;
    const started = Date.now();
    const wire = await raw();
    const closed = await wire.closedByServer(timeoutMs + 2_000);
    expect(closed).toMatchObject({ code: CloseCode.ConnectionInitialisationTimeout, byClient: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(timeoutMs - 100);
  });

  it("closes with 4429 on a second connection_init", async () => {
    const wire = await connected();
    wire.send({ type: MessageType.ConnectionInit });
    expect(await wire.closedByServer()).toMatchObject({ code: CloseCode.TooManyInitialisationRequests });
  });

  it("closes with 4401 on a subscribe before connection_ack", async () => {
    const wire = await raw();
    wire.send(subscribe("early", "{ __typename }"));
    expect(await wire.closedByServer()).toMatchObject({ code: CloseCode.Unauthorized });
    expect(wire.messages).toEqual([]);
  });

  it("closes with 4406 when the client offers no subprotocol", async () => {
    // A client offering only other subprotocols aborts the handshake itself (the server picks none).
    const wire = track(await Wire.open(url, []));
    expect(await wire.closedByServer()).toMatchObject({ code: CloseCode.SubprotocolNotAcceptable });
  });
});

describe("invalid messages", () => {
  it.each([
    ["not JSON", "{ type: connection_init"],
    ["JSON but not an object", "42"],
    ["an object without a type", JSON.stringify({ id: "1" })],
    ["an unknown type", JSON.stringify({ type: "start", id: "1", payload: { query: "{ __typename }" } })],
    ["a ping whose payload is not an object", JSON.stringify({ type: MessageType.Ping, payload: [1] })],
    ["a subscribe without an id", JSON.stringify({ type: MessageType.Subscribe, payload: { query: "{ __typename }" } })],
    ["a subscribe with an empty id", JSON.stringify(subscribe("", "{ __typename }"))],
  ])("closes with 4400 on %s", async (_what, frame) => {
    const wire = await connected();
    wire.send(frame);
    expect(await wire.closedByServer()).toMatchObject({ code: CloseCode.BadRequest });
  });

  it("closes with 4400 on an unknown type before connection_init too", async () => {
    const wire = await raw();
    wire.send({ type: "hello" });
    expect(await wire.closedByServer()).toMatchObject({ code: CloseCode.BadRequest });
  });

  // graphql-ws would throw on these and close with 4500; ws-server.ts refuses them as the client's error.
  it.each([MessageType.ConnectionAck, MessageType.Next, MessageType.Error])(
    "closes with 4400, not 4500, when the client sends the server-only message %s",
    async (type) => {
      const wire = await connected();
      wire.send({ type, id: "x", payload: type === MessageType.Error ? [{ message: "x" }] : {} });
      expect(await wire.closedByServer()).toMatchObject({ code: CloseCode.BadRequest });
    },
  );

  it("closes with 1009 on a frame larger than the body limit, and accepts one just under it", async () => {
    const wire = await connected();
    // Padding in a comment keeps the document valid at any size.
    const padded = (bytes: number) => {
      const frame = subscribe("padded", "{ __typename }");
      const base = JSON.stringify({ ...frame, payload: { query: "{ __typename }\n#" } }).length;
      return { ...frame, payload: { query: `{ __typename }\n#${"x".repeat(bytes - base)}` } };
    };
    const under = padded(MAX_BODY_BYTES);
    expect(JSON.stringify(under).length).toBe(MAX_BODY_BYTES);
    wire.send(under);
    expect(await wire.next(forId("padded", MessageType.Complete))).toBeTruthy();

    wire.send(padded(MAX_BODY_BYTES + 1));
    expect(await wire.closedByServer()).toMatchObject({ code: MESSAGE_TOO_BIG });
  });

  // graphql-ws would print such client faults to stderr as internal errors, with a stack, outside the logger.
  it("does not report a client's oversized frame as an internal error", async () => {
    const before = faults.muted.length;
    const wire = await connected();
    wire.send("x".repeat(MAX_BODY_BYTES + 1));
    expect(await wire.closedByServer()).toMatchObject({ code: MESSAGE_TOO_BIG });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(faults.muted.slice(before)).toEqual([]);
  });
});

describe("ping and pong", () => {
  it("answers ping with pong, echoing a payload, and ignores an unsolicited pong", async () => {
    const wire = await connected();
    wire.send({ type: MessageType.Pong, payload: { unsolicited: true } });
    wire.send({ type: MessageType.Ping });
    wire.send({ type: MessageType.Ping, payload: { at: 42 } });
    await until(() => wire.messages.length >= 3);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(wire.messages).toEqual([
      { type: MessageType.ConnectionAck },
      { type: MessageType.Pong },
      { type: MessageType.Pong, payload: { at: 42 } },
    ]);
    expect(wire.isOpen).toBe(true);
  });

  it("answers ping before connection_init too", async () => {
    const wire = await raw();
    wire.send({ type: MessageType.Ping });
    expect(await wire.next(() => true)).toEqual({ type: MessageType.Pong });
  });
});

describe("operations", () => {
  it("runs a query as a single result: next, then complete", async () => {
    const wire = await connected();
    wire.send(subscribe("q", "{ __typename }"));
    await wire.next(forId("q", MessageType.Complete));
    expect(wire.messages.filter((m) => m.id === "q")).toEqual([
      { id: "q", type: MessageType.Next, payload: { data: { __typename: "Query" } } },
      { id: "q", type: MessageType.Complete },
    ]);
  });

  it("closes with 4409 on a subscribe whose id is still in use", async () => {
    const wire = await connected();
    const before = t.app.bus.subscriberCount("notification.added");
    wire.send(subscribe("live", "subscription { notificationAdded { kind } }"));
    await until(() => t.app.bus.subscriberCount("notification.added") > before);
    wire.send(subscribe("live", "{ __typename }"));
    expect(await wire.closedByServer()).toMatchObject({ code: CloseCode.SubscriberAlreadyExists });
  });

  it("lets an id be used again once its operation completed", async () => {
    const wire = await connected();
    for (let round = 0; round < 3; round++) {
      wire.send(subscribe("again", "{ __typename }"));
      await until(() => wire.messages.filter((m) => m.id === "again" && m.type === MessageType.Complete).length > round);
    }
    expect(wire.isOpen).toBe(true);
  });

  it("stops a live subscription on the client's complete, without answering it", async () => {
    const wire = await connected();
    const before = t.app.bus.subscriberCount("prompt.events");
    const fields = "{ type promptName }";
    wire.send(subscribe("stopped", `subscription { promptEvents ${fields} }`));
    wire.send(subscribe("watch", `subscription { promptEvents ${fields} }`));
    await until(() => t.app.bus.subscriberCount("prompt.events") === before + 2);

    wire.send({ type: MessageType.Complete, id: "stopped" });
    await until(() => t.app.bus.subscriberCount("prompt.events") === before + 1);
    await t.ok(CreatePromptDocument, { input: { name: "ws-protocol/after-complete", content: "x" } });
    // The watcher sees the event, so the stopped subscription would have seen it by now.
    expect(await wire.next(forId("watch", MessageType.Next))).toMatchObject({
      payload: { data: { promptEvents: { type: "CREATED", promptName: "ws-protocol/after-complete" } } },
    });
    expect(wire.messages.filter((m) => m.id === "stopped")).toEqual([]);

    // A complete for an id that is not running is ignored.
    wire.send({ type: MessageType.Complete, id: "never-started" });
    wire.send({ type: MessageType.Complete, id: "stopped" });
    wire.send({ type: MessageType.Ping });
    await wire.next((m) => m.type === MessageType.Pong);
    expect(wire.isOpen).toBe(true);
  });

  it("sends bus events as graphql-ws's own next frames, each subscriber's under its own id", async () => {
    const wire = await connected();
    const before = t.app.bus.subscriberCount("prompt.events");
    const fields = "{ type promptName versionNumber }";
    const ids = ["plain", 'quoted "id" \\ é'];
    for (const id of ids) wire.send(subscribe(id, `subscription { promptEvents ${fields} }`));
    await until(() => t.app.bus.subscriberCount("prompt.events") === before + 2);
    await t.ok(CreatePromptDocument, { input: { name: "ws-protocol/frames", content: "x" } });
    await wire.next(forId(ids[0]!, MessageType.Next));
    await wire.next(forId(ids[1]!, MessageType.Next));
    const frames = wire.frames.filter((frame) => frame.includes("ws-protocol/frames"));
    const expected = (id: string) =>
      stringifyMessage({ id, type: MessageType.Next, payload: { data: { promptEvents: { type: "CREATED", promptName: "ws-protocol/frames", versionNumber: 1 } } } });
    expect(frames).toEqual(ids.map(expected));
    for (const id of ids) wire.send({ type: MessageType.Complete, id });
  });

  it("answers a malformed subscribe payload that names an id with an error for that id, and stays open", async () => {
    const wire = await connected();
    const malformed: [string, unknown][] = [
      ["no-payload", undefined],
      ["null-payload", null],
      ["array-payload", [{ query: "{ __typename }" }]],
      ["no-query", {}],
      ["number-query", { query: 42 }],
      ["array-variables", { query: "{ __typename }", variables: [1] }],
      ["string-extensions", { query: "{ __typename }", extensions: "x" }],
      ["number-operation-name", { query: "{ __typename }", operationName: 7 }],
    ];
    for (const [id, payload] of malformed) wire.send({ type: MessageType.Subscribe, id, ...(payload === undefined ? {} : { payload }) });
    for (const [id] of malformed) {
      const answer = await wire.next(forId(id));
      expect(answer, id).toMatchObject({ type: MessageType.Error, payload: [{ extensions: { code: "BAD_REQUEST" } }] });
    }
    // Nothing was started: each id is free again, and the socket still serves.
    wire.send(subscribe("no-payload", "{ __typename }"));
    expect(await wire.next(forId("no-payload", MessageType.Next))).toMatchObject({ payload: { data: { __typename: "Query" } } });
    expect(wire.isOpen).toBe(true);
  });

  it("answers a document that does not parse or validate with an error for that id", async () => {
    const wire = await connected();
    wire.send(subscribe("syntax", "subscription {"));
    wire.send(subscribe("unknown-field", "subscription { nope }"));
    wire.send(subscribe("two-fields", "subscription { notificationAdded { kind } promptEvents { type } }"));
    const codes = async (id: string) => errorsOf(await wire.next(forId(id))).map((e) => e.extensions?.code);
    expect(await codes("syntax")).toEqual(["GRAPHQL_PARSE_FAILED"]);
    expect(await codes("unknown-field")).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    expect(await codes("two-fields")).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    expect(wire.isOpen).toBe(true);
  });

  // graphql-ws coerces variables and picks the operation after onSubscribe, where GraphQL's errors
  // carry no code; ws-server.ts does both first, with the codes HTTP gives them.
  it.each([
    ["variables that do not coerce", subscribe("v", "query ($n: Int) { prompts(first: $n) { totalCount } }", { variables: { n: "ten" } }), "BAD_USER_INPUT"],
    ["a missing required variable", subscribe("v", "subscription ($p: PromptRef!) { promptEvents(prompt: $p) { type } }"), "BAD_USER_INPUT"],
    ["an operationName that names no operation", subscribe("v", "query A { __typename }", { operationName: "B" }), "OPERATION_RESOLUTION_FAILURE"],
    ["several operations and no operationName", subscribe("v", "query A { __typename } query B { __typename }"), "OPERATION_RESOLUTION_FAILURE"],
  ])("answers %s with a client error code, as HTTP does, not INTERNAL_SERVER_ERROR", async (_what, frame, code) => {
    const wire = await connected();
    wire.send(frame);
    const answer = await wire.next(forId("v"));
    expect(errorsOf(answer).map((e) => e.extensions?.code)).toEqual([code]);
  });
});
