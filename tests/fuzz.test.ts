// Property-based tests against the real server, over HTTP and WebSocket: whatever a client sends,
// the server answers in the protocol (JSON, never 5xx) or closes with a protocol close code, and
// keeps serving afterwards.
//
// Reproduce a failure with the seed fast-check prints: PROMPT_STORE_FUZZ_SEED=<seed>.
// PROMPT_STORE_FUZZ_RUNS=<factor> multiplies every property's number of runs (for a long soak).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import {
  buildSchema,
  getNamedType,
  getOperationAST,
  GraphQLEnumType,
  GraphQLInputObjectType,
  GraphQLList,
  GraphQLNonNull,
  GraphQLScalarType,
  Kind,
  parse,
  print,
  separateOperations,
  typeFromAST,
  type GraphQLInputType,
  type OperationDefinitionNode,
} from "graphql";
import { MessageType } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "./helpers/app.js";
import { REPO_ROOT } from "./helpers/paths.js";
import { KEYS_REQUIRED, PROTOCOL_TEST_KEY, Wire, connectionParams, muteGraphqlWsFaults, type WireMessage } from "./helpers/wire.js";

const seed = process.env.PROMPT_STORE_FUZZ_SEED ? Number(process.env.PROMPT_STORE_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
const runsFactor = Number(process.env.PROMPT_STORE_FUZZ_RUNS ?? 1);
/**
 * How long one property may take, shrinking included: under the test's own timeout (30 s), so that
 * a failure found late, or a shrink that replays slow runs, ends with fast-check's report (seed,
 * path, counterexample) rather than a bare "test timed out" that names no input.
 */
const PROPERTY_TIME_LIMIT_MS = 20_000;
/**
 * Runs per property, chosen so the whole file takes well under 40 s on two cores. A property cut
 * short by the time limit after some runs passed (a slow machine) passes with a warning; one cut
 * short before its first run ended fails, as does any failure, with fast-check's report.
 */
const runs = <Ts extends unknown[]>(n: number): fc.Parameters<Ts> => ({
  seed,
  numRuns: Math.max(1, Math.round(n * runsFactor)),
  plugins: runsFactor === 1 ? [fc.interruptAfterTimeLimit(PROPERTY_TIME_LIMIT_MS)] : [],
  reporter(details: fc.RunDetails<Ts>) {
    if (details.failed) throw new Error(fc.defaultReportMessage(details), { cause: details.errorInstance });
    if (details.interrupted) console.warn(`[fuzz] seed ${seed}: ${details.numRuns} of ${Math.round(n * runsFactor)} runs in the ${PROPERTY_TIME_LIMIT_MS} ms limit`);
  },
});

// Small, so that bodies and frames over the limit are cheap to generate, yet room for JSON nested
// deep enough to matter (the JSON scalars refuse more than 100 levels).
const MAX_BODY_BYTES = 64 * 1024;
/** Over the limit a socket closes with 1009; invalid UTF-8 in a text frame is 1007 (RFC 6455). */
const MESSAGE_TOO_BIG = 1009;
const INVALID_PAYLOAD = 1007;

/** Sent with every HTTP request: the server requires keys (the WebSocket handshake sends `connectionParams`). */
const AUTH_HEADERS: Record<string, string> = { authorization: `Bearer ${PROTOCOL_TEST_KEY}` };

let t: TestApp;
let base: string;
let wsUrl: string;
const faults = muteGraphqlWsFaults();

beforeAll(async () => {
  t = await createTestApp({ maxBodyBytes: MAX_BODY_BYTES, ...KEYS_REQUIRED });
  const port = await t.app.listen();
  base = `http://127.0.0.1:${port}`;
  wsUrl = `ws://127.0.0.1:${port}/graphql`;
});
afterAll(async () => {
  await t?.close();
  faults.restore();
});

// ---------------------------------------------------------------------------------------------
// The real operations, and the schema their variables are typed by.

const schema = buildSchema(readFileSync(join(REPO_ROOT, "schema.graphql"), "utf8"));
const operationsDir = join(REPO_ROOT, "tests/operations");
const operations = readdirSync(operationsDir)
  .filter((file) => file.endsWith(".graphql"))
  .flatMap((file) => Object.values(separateOperations(parse(readFileSync(join(operationsDir, file), "utf8")))))
  .map((document) => {
    const operation = getOperationAST(document) as OperationDefinitionNode;
    return { name: operation.name?.value, source: print(document), variables: operation.variableDefinitions ?? [] };
  });
type Operation = (typeof operations)[number];

// ---------------------------------------------------------------------------------------------
// Generators.

const utf8 = (text: string) => new TextEncoder().encode(text);
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });
const smallJson = fc.jsonValue({ maxDepth: 3 });
const anyString = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 20 }), fc.string({ unit: "binary", maxLength: 20 }));

const PUNCTUATION = ["{", "}", "(", ")", "[", "]", ":", "$", "!", "@", "...", "=", "|", "&", ",", '"', '"""', "#", "\\", "\u0000"];
const KEYWORDS = ["query", "mutation", "subscription", "fragment", "on", "true", "null", "__typename", "__schema", "prompts", "prompt", "first", "name", "id", "nodes", "createPrompt", "input", "$x", "Int", "String!", "1e999", "-0", '"s"'];
/** Splits GraphQL source into tokens, keeping strings and comments whole. */
const tokenize = (source: string) => source.match(/"""[\s\S]*?"""|"(?:\\.|[^"\\\n])*"|#[^\n]*|\.\.\.|[A-Za-z_][A-Za-z0-9_]*|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|\S/g) ?? [];

/** A real operation with a few tokens deleted, duplicated, or punctuation inserted. */
const mutatedOperation = fc
  .record({
    operation: fc.constantFrom(...operations),
    edits: fc.array(fc.record({ kind: fc.constantFrom("delete", "duplicate", "insert"), at: fc.nat(), token: fc.constantFrom(...PUNCTUATION, ...KEYWORDS) }), {
      minLength: 1,
      maxLength: 4,
    }),
  })
  .map(({ operation, edits }) => {
    const tokens = tokenize(operation.source);
    for (const edit of edits) {
      const at = edit.at % (tokens.length + 1);
      if (edit.kind === "delete") tokens.splice(at, 1);
      else if (edit.kind === "duplicate" && tokens[at] !== undefined) tokens.splice(at, 0, tokens[at]!);
      else tokens.splice(at, 0, edit.token);
    }
    // Comments run to the end of the line: keep them from swallowing the rest of the document.
    return tokens.map((token) => (token.startsWith("#") ? `${token}\n` : token)).join(" ");
  });

const documentArb: fc.Arbitrary<string> = fc.oneof(
  anyString,
  fc.array(fc.constantFrom(...PUNCTUATION, ...KEYWORDS), { maxLength: 30 }).map((tokens) => tokens.join(" ")),
  mutatedOperation,
  fc.constantFrom(...operations.map((o) => o.source)),
);

/**
 * A JSON object nested `depth` deep. It stands in the generated value and becomes text only in
 * the request (see `toText`): JSON.stringify would overflow this process's stack as well.
 */
class DeepJson {
  constructor(readonly depth: number) {}
  toJSON() {
    return `\u0000deep:${this.depth}`;
  }
}
const deepJson = fc.integer({ min: 500, max: 25_000 }).map((depth) => new DeepJson(depth));
/** JSON text of a generated value, with each DeepJson written out. */
const toText = (value: unknown) =>
  JSON.stringify(value).replace(/"\\u0000deep:(\d+)"/g, (_match, depth: string) => `{"a":${"[".repeat(Number(depth))}${"]".repeat(Number(depth))}}`);
const toBody = (value: unknown) => utf8(toText(value));
/** How deep brackets nest in JSON text, outside strings. */
function nesting(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") deepest = Math.max(deepest, ++depth);
    else if (c === "}" || c === "]") depth--;
  }
  return deepest;
}

/** A value of a GraphQL input type, mostly well-typed, sometimes at its edges. */
function valueOf(type: GraphQLInputType, depth = 0): fc.Arbitrary<unknown> {
  if (type instanceof GraphQLNonNull) return valueOfNullable(type.ofType, depth);
  return fc.option(valueOfNullable(type, depth), { nil: null, freq: 6 });
}

function valueOfNullable(type: GraphQLInputType, depth: number): fc.Arbitrary<unknown> {
  if (type instanceof GraphQLNonNull) return valueOfNullable(type.ofType, depth);
  if (type instanceof GraphQLList) return fc.array(valueOf(type.ofType, depth + 1), { maxLength: 3 });
  if (type instanceof GraphQLEnumType) {
    return fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...type.getValues().map((v) => v.name)) }, { weight: 1, arbitrary: anyString });
  }
  if (type instanceof GraphQLInputObjectType) {
    if (depth > 3) return fc.constant({});
    const fields = Object.values(type.getFields());
    const required = fields.filter((f) => f.type instanceof GraphQLNonNull).map((f) => f.name);
    return fc.record(Object.fromEntries(fields.map((f) => [f.name, valueOf(f.type, depth + 1)])), { requiredKeys: required });
  }
  const byName: Record<string, fc.Arbitrary<unknown>> = {
    Int: fc.oneof(fc.integer({ min: -3, max: 300 }), fc.constantFrom(2 ** 31 - 1, -(2 ** 31), 2 ** 31, 1e300, 0.5)),
    Float: fc.double({ noNaN: true, noDefaultInfinity: true }),
    Boolean: fc.boolean(),
    String: fc.oneof(anyString, fc.constantFrom("fuzz/a", "fuzz/b", "production", "latest", "")),
    ID: fc.oneof(fc.uuid(), anyString),
    DateTimeISO: fc.oneof(fc.date({ noInvalidDate: true }).map((d) => d.toISOString()), anyString),
    JSON: fc.oneof({ weight: 12, arbitrary: smallJson }, { weight: 1, arbitrary: deepJson }),
    JSONObject: fc.oneof({ weight: 12, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), smallJson, { maxKeys: 4 }) }, { weight: 1, arbitrary: deepJson }),
  };
  return byName[(getNamedType(type) as GraphQLScalarType).name] ?? smallJson;
}

/** Variables for an operation: typed by its definitions, or any JSON under its names, or any JSON at all. */
const variablesFor = (operation: Operation): fc.Arbitrary<unknown> => {
  const names = operation.variables.map((v) => v.variable.name.value);
  const typed = fc.record(
    Object.fromEntries(operation.variables.map((v) => [v.variable.name.value, valueOf(typeFromAST(schema, v.type) as GraphQLInputType)])),
    { requiredKeys: operation.variables.filter((v) => v.type.kind === Kind.NON_NULL_TYPE).map((v) => v.variable.name.value) },
  );
  const untyped = names.length ? fc.record(Object.fromEntries(names.map((n) => [n, smallJson])), { requiredKeys: [] }) : fc.constant({});
  return fc.oneof({ weight: 4, arbitrary: typed }, { weight: 2, arbitrary: untyped }, { weight: 1, arbitrary: smallJson });
};

/** A well-formed request for a real operation with random variables. */
const operationRequest = fc
  .constantFrom(...operations)
  .chain((operation) => fc.record({ operation: fc.constant(operation), variables: variablesFor(operation) }))
  .map(({ operation, variables }) => ({ query: operation.source, operationName: operation.name, variables }));

/** A JSON body of any shape, often almost a GraphQL request. */
const jsonBody = fc.oneof(
  smallJson,
  fc.record(
    { query: fc.oneof(documentArb, smallJson), variables: smallJson, operationName: fc.oneof(anyString, smallJson), extensions: smallJson },
    { requiredKeys: [] },
  ),
  fc.record({ query: documentArb }),
  fc.array(fc.record({ query: documentArb }), { maxLength: 3 }),
  operationRequest,
);

const CONTENT_TYPES = ["application/json", "application/json; charset=utf-8", "application/graphql-response+json"];
const ODD_CONTENT_TYPES = [
  "",
  "application/json; charset=latin1",
  "application/graphql",
  "text/plain",
  "text/json",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=fuzz",
  "multipart/mixed",
];
const ACCEPTS = [undefined, "application/json", "application/graphql-response+json", "*/*", "application/graphql-response+json, application/json;q=0.9"];
const ODD_ACCEPTS = ["text/html", "multipart/mixed; deferSpec=20220824", "multipart/mixed; subscriptionSpec=1.0", "application/json;q=0", "*/*;q=0"];
/** Mostly what real clients send, so that most requests get past negotiation to GraphQL itself. */
const headerValue = (usual: (string | undefined)[], unusual: string[]) =>
  fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...usual) }, { weight: 3, arbitrary: fc.constantFrom(...unusual) }, { weight: 1, arbitrary: printable });

const multipart = (part: string) => utf8(`--fuzz\r\nContent-Disposition: form-data; name="operations"\r\n\r\n${part}\r\n--fuzz--\r\n`);
/** Sizes around the body limit, mostly over it: the 413 path. */
const oversize = fc.integer({ min: MAX_BODY_BYTES - 64, max: MAX_BODY_BYTES * 2 }).map((n) => utf8(`{"query":"{ __typename }","pad":"${"x".repeat(n)}"}`));
const bodyBytes = fc.oneof(
  { weight: 4, arbitrary: jsonBody.map(toBody) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }) },
  { weight: 2, arbitrary: documentArb.map(utf8) },
  { weight: 1, arbitrary: jsonBody.map((body) => multipart(toText(body))) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array()) },
  { weight: 1, arbitrary: oversize },
);

interface HttpCase {
  method: string;
  query?: string;
  headers: Record<string, string>;
  body?: Uint8Array;
}

const headersArb = (contentType: boolean) =>
  fc
    .record({
      contentType: contentType ? fc.option(headerValue(CONTENT_TYPES, ODD_CONTENT_TYPES), { nil: undefined, freq: 10 }) : fc.constant(undefined),
      accept: headerValue(ACCEPTS, ODD_ACCEPTS),
      preflight: fc.boolean(),
    })
    .map(({ contentType, accept, preflight }) => {
      const headers: Record<string, string> = {};
      if (contentType !== undefined) headers["content-type"] = contentType;
      if (accept !== undefined) headers.accept = accept;
      // Apollo's CSRF prevention refuses "simple" requests without it; both sides are worth testing.
      if (preflight) headers["apollo-require-preflight"] = "1";
      return headers;
    });

const postCase: fc.Arbitrary<HttpCase> = fc.record({
  method: fc.oneof({ weight: 8, arbitrary: fc.constant("POST") }, { weight: 1, arbitrary: fc.constantFrom("PUT", "PATCH", "DELETE", "OPTIONS") }),
  headers: headersArb(true),
  body: bodyBytes,
});

const queryString = fc.oneof(
  fc
    .array(
      fc.tuple(
        fc.constantFrom("query", "query", "variables", "operationName", "extensions", "x"),
        fc.oneof(documentArb, smallJson.map((v) => JSON.stringify(v)), anyString),
      ),
      { maxLength: 5 },
    )
    .map((pairs) => new URLSearchParams(pairs).toString()),
  operationRequest.map(({ query, operationName, variables }) =>
    new URLSearchParams({ query, ...(operationName ? { operationName } : {}), variables: JSON.stringify(variables) }).toString(),
  ),
  // Raw, so broken percent-escapes and odd separators reach the server as they are.
  printable,
);
const getCase: fc.Arbitrary<HttpCase> = fc.record({ method: fc.constant("GET"), query: queryString, headers: headersArb(false) });

// ---------------------------------------------------------------------------------------------
// Checking an HTTP answer.

interface Answer {
  status: number;
  contentType: string | null;
  text: string;
}

async function send(c: HttpCase): Promise<Answer | "refused-oversize"> {
  const url = `${base}/graphql${c.query !== undefined ? `?${c.query}` : ""}`;
  try {
    const res = await fetch(url, { method: c.method, headers: { ...AUTH_HEADERS, ...c.headers }, body: c.body });
    return { status: res.status, contentType: res.headers.get("content-type"), text: await res.text() };
  } catch (error) {
    // Over the limit the server answers 413 and closes without reading the rest; a client still
    // writing the body may see the reset before the answer.
    if ((c.body?.length ?? 0) > MAX_BODY_BYTES) return "refused-oversize";
    throw error;
  }
}

const describeCase = (c: HttpCase) => {
  const text = c.body && new TextDecoder().decode(c.body);
  const body = text && text.length > 400 ? `${text.slice(0, 300)}... (${c.body!.length} bytes, brackets nested ${nesting(text)} deep)` : text;
  return JSON.stringify({ ...c, body });
};

/** Makes fast-check print a counterexample's body as text rather than as a list of bytes. */
const readable = (c: HttpCase): HttpCase => Object.assign(c, { [fc.toStringMethod]: () => describeCase(c) });

type Result = { data?: unknown; errors?: { extensions?: { code?: string } }[] };
const isResult = (value: unknown): value is Result =>
  value !== null &&
  typeof value === "object" &&
  !Array.isArray(value) &&
  ("data" in value || (Array.isArray((value as Result).errors) && (value as Result).errors!.length > 0));

async function checkAnswer(c: HttpCase, answer: Answer | "refused-oversize") {
  if (answer === "refused-oversize") return;
  const context = `request ${describeCase(c)}\nanswer ${answer.status} ${answer.contentType} ${answer.text.slice(0, 500)}`;
  expect(answer.status, context).toBeLessThan(500);
  expect(answer.contentType, context).toMatch(/^application\/(graphql-response\+)?json(;|$)/);
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    throw new Error(`the body is not JSON\n${context}`);
  }
  // A batch (a JSON array of requests) is answered with an array of results.
  const results = Array.isArray(body) ? body : [body];
  expect(results.length > 0 && results.every(isResult), `not a GraphQL result\n${context}`).toBe(true);
  // Whatever a client sends is the client's problem or a success, never an internal error.
  const internal = (results as Result[]).flatMap((r) => r.errors ?? []).some((e) => e.extensions?.code === "INTERNAL_SERVER_ERROR");
  if (internal) throw new Error(`an internal error\n${context}`);
}

const postJson = (request: object) =>
  fetch(`${base}/graphql`, { method: "POST", headers: { ...AUTH_HEADERS, "content-type": "application/json" }, body: toBody(request) });

const httpProperty = (arb: fc.Arbitrary<HttpCase>) =>
  fc.asyncProperty(arb.map(readable), async (c) => {
    await checkAnswer(c, await send(c));
  });

describe("HTTP /graphql never fails with 5xx and always answers JSON", () => {
  it("random and mutated documents", async () => {
    const arb = fc
      .record({ query: documentArb, operationName: fc.option(anyString, { nil: undefined }), headers: headersArb(false) })
      .map(({ query, operationName, headers }) => ({
        method: "POST",
        headers: { ...headers, "content-type": "application/json" },
        body: toBody({ query, operationName }),
      }));
    await fc.assert(httpProperty(arb), runs(400));
  });

  it("real operations with random variables", async () => {
    const arb = operationRequest.map((request) => ({ method: "POST", headers: { "content-type": "application/json" }, body: toBody(request) }));
    await fc.assert(httpProperty(arb), runs(300));
  });

  it("random bodies, methods, content types and accept headers", async () => {
    await fc.assert(httpProperty(postCase), runs(300));
  });

  it("random GET query strings", async () => {
    await fc.assert(httpProperty(getCase), runs(300));
  });
});

/** Every argument that takes a JSON object, inside an operation that is otherwise valid. */
const JSON_ARGUMENT_OPERATIONS = [
  'mutation ($v: JSONObject, $n: String!) { createPrompt(input: { name: $n, content: "x", config: $v }) { id } }',
  'mutation ($v: JSONObject) { updatePrompt(prompt: { name: "fuzz/deep" }, input: { config: $v }) { __typename } }',
  'query ($v: JSONObject) { renderPrompt(input: { name: "fuzz/deep", variables: $v }) { __typename } }',
  'mutation ($v: JSONObject) { recordUsage(events: [{ prompt: { name: "fuzz/deep" }, metadata: $v }]) { __typename } }',
  "mutation ($v: JSONObject!) { startBulkOperation(input: { kind: CREATE_PROMPTS, items: [$v], dryRun: true }) { id } }",
  "mutation ($v: JSONObject!) { importPrompts(document: $v) { created } }",
];

describe("HTTP: JSON arguments nested deep", () => {
  beforeAll(async () => {
    await postJson({ query: 'mutation { createPrompt(input: { name: "fuzz/deep", content: "Hello {{who}}" }) { id } }' });
  });

  it("never fail with 5xx or an internal error, however deep (the JSON scalars bound the depth)", async () => {
    const arb = fc
      .record({
        query: fc.constantFrom(...JSON_ARGUMENT_OPERATIONS),
        depth: fc.oneof(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 1_000, max: 25_000 })),
        name: fc.uuid().map((id) => `fuzz/deep-${id}`),
      })
      .map(({ query, depth, name }) => ({
        method: "POST",
        headers: { "content-type": "application/json" },
        body: toBody({ query, variables: { v: new DeepJson(depth), n: name } }),
      }));
    await fc.assert(
      fc.asyncProperty(arb.map(readable), async (c) => {
        const answer = await send(c);
        await checkAnswer(c, answer);
        // The operations above must stay valid, or this property tests nothing.
        if (answer !== "refused-oversize") expect(answer.text, describeCase(c)).not.toMatch(/GRAPHQL_VALIDATION_FAILED|GRAPHQL_PARSE_FAILED/);
      }),
      runs(60),
    );
  });
});

describe("found by fuzzing", () => {
  const codesOf = async (request: object) => {
    const res = await postJson(request);
    const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
    return { status: res.status, codes: (body.errors ?? []).map((e) => e.extensions?.code) };
  };

  // graphql-js refuses such a null only while executing, with an error that has no code (src/errors.ts).
  it("answers null for a defaulted non-null argument as BAD_USER_INPUT, not an internal error", async () => {
    const nullForDefault = {
      query: "mutation ($d: JSONObject!, $c: ImportConflictMode) { importPrompts(document: $d, onConflict: $c) { created } }",
      variables: { d: {}, c: null },
    };
    expect(await codesOf(nullForDefault)).toEqual({ status: 200, codes: ["BAD_USER_INPUT"] });
  });

  // JSON.stringify would overflow the stack in resolvers (config, render variables, bulk items, usage metadata).
  it("refuses a JSON argument nested 20000 deep as BAD_USER_INPUT, not an internal error", async () => {
    const deep = {
      query: 'mutation ($v: JSONObject) { createPrompt(input: { name: "fuzz/deeper", content: "x", config: $v }) { id } }',
      variables: { v: new DeepJson(20_000) },
    };
    expect((await codesOf(deep)).codes).toEqual(["BAD_USER_INPUT"]);
  });
});

// ---------------------------------------------------------------------------------------------
// WebSocket.

const SERVER_TO_CLIENT = new Set<string>([MessageType.ConnectionAck, MessageType.Next, MessageType.Error, MessageType.Complete, MessageType.Ping, MessageType.Pong]);

interface Frame {
  data: string | Uint8Array;
  binary: boolean;
  /** The message's `type`, when the frame is a JSON message. */
  type?: unknown;
}

const subscribePayload = fc.oneof(
  fc.record(
    { query: documentArb, variables: fc.oneof(smallJson, fc.constant(null)), operationName: fc.option(anyString, { nil: undefined }), extensions: smallJson },
    { requiredKeys: ["query"] },
  ),
  operationRequest,
  smallJson,
);
/** Mostly messages of the protocol with plausible ids and payloads, so sessions get past the first frame. */
const messageArb = fc.record(
  {
    type: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...Object.values(MessageType)) }, { weight: 1, arbitrary: fc.oneof(anyString, smallJson) }),
    id: fc.oneof({ weight: 6, arbitrary: fc.constantFrom("1", "2", "a") }, { weight: 1, arbitrary: anyString }, { weight: 1, arbitrary: smallJson }),
    payload: fc.oneof(
      { weight: 3, arbitrary: subscribePayload },
      { weight: 2, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), smallJson, { maxKeys: 3 }) },
      { weight: 1, arbitrary: smallJson },
    ),
  },
  { requiredKeys: ["type"] },
);
const frameArb: fc.Arbitrary<Frame> = fc.oneof(
  { weight: 6, arbitrary: messageArb.map((m) => ({ data: toText(m), binary: false, type: m.type })) },
  { weight: 1, arbitrary: messageArb.map((m) => ({ data: toBody(m), binary: true, type: m.type })) },
  { weight: 2, arbitrary: anyString.map((s) => ({ data: s, binary: false })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 256 }).map((b) => ({ data: b, binary: true })) },
  // Bytes as a text frame: often not UTF-8 at all.
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 64 }).map((b) => ({ data: b, binary: false })) },
  { weight: 1, arbitrary: oversize.map((b) => ({ data: b, binary: false })) },
);

const sessionArb = fc.record({
  init: fc.oneof(fc.constant<"none" | "ack">("ack"), fc.constant<"none" | "ack">("none")),
  initPayload: fc.option(smallJson, { nil: undefined }),
  frames: fc.array(frameArb, { minLength: 1, maxLength: 6 }),
});
type Session = typeof sessionArb extends fc.Arbitrary<infer S> ? S : never;

const byteLength = (data: string | Uint8Array) => (typeof data === "string" ? Buffer.byteLength(data) : data.length);
const isUtf8 = (data: Uint8Array) => {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(data);
    return true;
  } catch {
    return false;
  }
};

type WireError = { path?: unknown; extensions?: { code?: string } };
const errorsIn = (m: WireMessage): WireError[] => {
  if (m.type === MessageType.Error && Array.isArray(m.payload)) return m.payload as WireError[];
  if (m.type === MessageType.Next) return ((m.payload as { errors?: WireError[] } | undefined)?.errors ?? []) as WireError[];
  return [];
};

let sentinel = 0;
/** Opening a socket, or closing it, takes milliseconds here: a step that takes this long is a failure of its own. */
const STEP_TIMEOUT_MS = 5_000;

/** Runs a session and checks how it ended; returns the wire for further checks. */
async function runSession(session: Session) {
  const wire = await Wire.open(wsUrl, undefined, STEP_TIMEOUT_MS);
  try {
    if (session.init === "ack") {
      const payload = session.initPayload !== undefined ? session.initPayload : connectionParams;
      wire.send({ type: MessageType.ConnectionInit, ...(payload !== undefined ? { payload } : {}) });
      // A payload that is not an object is a protocol error (4400): the close is checked below.
      await wire.next((m) => m.type === MessageType.ConnectionAck).catch(() => undefined);
    }
    for (const frame of session.frames) if (wire.isOpen) wire.send(frame.data, { binary: frame.binary });
    // A ping after the frames: its pong (or the close) shows the server has processed them.
    const mark = ++sentinel;
    if (wire.isOpen) {
      wire.send({ type: MessageType.Ping, payload: { mark } });
      await wire.next((m) => m.type === MessageType.Pong && (m.payload as { mark?: number } | undefined)?.mark === mark, 3_000).catch((error: Error) => {
        if (wire.isOpen) throw new Error(`the server stopped answering ping: ${error.message}`);
      });
    }
  } finally {
    // Bounded: ws's client waits 30 s for a close frame the server never sends.
    await wire.closeWithin(STEP_TIMEOUT_MS);
  }
  const closed = wire.closeInfo!;
  const context = `session ${JSON.stringify(session, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} bytes>` : v)).slice(0, 3_000)}\nclosed ${JSON.stringify(closed)}\nreceived ${JSON.stringify(wire.messages).slice(0, 1_000)}`;
  expect(wire.garbage, context).toEqual([]);
  for (const message of wire.messages) expect(SERVER_TO_CLIENT.has(message.type), context).toBe(true);
  for (const error of wire.messages.flatMap(errorsIn)) {
    expect(error?.extensions?.code, `an internal error\n${context}`).not.toBe("INTERNAL_SERVER_ERROR");
  }
  if (!closed.byClient) {
    const code = closed.code;
    const allowed =
      code === 1000 ||
      code === 1001 ||
      (code >= 4400 && code < 4500) ||
      (code === MESSAGE_TOO_BIG && session.frames.some((f) => byteLength(f.data) > MAX_BODY_BYTES)) ||
      (code === INVALID_PAYLOAD && session.frames.some((f) => !f.binary && typeof f.data !== "string" && !isUtf8(f.data)));
    expect(allowed, `unexpected close code\n${context}`).toBe(true);
  }
  return wire;
}

describe("WebSocket: any frames, before and after connection_init", () => {
  it("closes only with protocol close codes, and answers ping while open", async () => {
    await fc.assert(
      fc.asyncProperty(sessionArb, async (session) => {
        await runSession(session);
      }),
      runs(300),
    );
  });

  it("a subscribe with a fresh string id never closes the socket, whatever its payload", async () => {
    const arb = fc.array(fc.oneof(subscribePayload, smallJson, fc.constant(undefined)), { minLength: 1, maxLength: 5 }).map((payloads) => ({
      init: "ack" as const,
      initPayload: undefined,
      frames: payloads.map((payload, i) => {
        const message = { type: MessageType.Subscribe, id: `op-${i}`, ...(payload !== undefined ? { payload } : {}) };
        return { data: toText(message), binary: false, type: message.type };
      }),
    }));
    await fc.assert(
      fc.asyncProperty(arb, async (session) => {
        const wire = await runSession(session);
        expect(wire.closeInfo?.byClient, JSON.stringify({ session, closed: wire.closeInfo, received: wire.messages })).toBe(true);
      }),
      runs(200),
    );
  });
});

describe("after the fuzzing", () => {
  it("still answers { __typename }, /health and a WebSocket handshake", async () => {
    const res = await postJson({ query: "{ __typename }" });
    expect(res.status, `seed ${seed}`).toBe(200);
    expect(await res.json()).toEqual({ data: { __typename: "Query" } });
    const health = await fetch(`${base}/health`);
    expect(health.status, `seed ${seed}`).toBe(200);
    expect(await health.json()).toMatchObject({ status: "ok" });
    const wire = await Wire.connect(wsUrl);
    wire.send({ type: MessageType.Subscribe, id: "last", payload: { query: "{ __typename }" } });
    expect(await wire.next((m) => m.id === "last" && m.type === MessageType.Next)).toMatchObject({ payload: { data: { __typename: "Query" } } });
    await wire.close();
  });
});
