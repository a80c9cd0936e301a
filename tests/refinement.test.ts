// Refinement end to end through GraphQL: sessions with the builtin refiner and with an
// OpenAI-compatible LLM on loopback (JSON, SSE streaming, failures), review, apply, reject,
// iterate, cancel, and live progress over a real graphql-ws socket.
import { print } from "graphql";
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  CreateApiKeyDocument,
  ApplyRefinementDocument,
  CancelRefinementDocument,
  CreatePromptDocument,
  NotificationsDocument,
  RefinementDocumentDocument,
  RefinementProgressDocument,
  RefinementProvidersDocument,
  RefinementSessionDocument,
  RefinementSessionsDocument,
  RejectRefinementDocument,
  StartRefinementDocument,
  UpdatePromptDocument,
  type RefinementProgressSubscription,
  type StartRefinementInput,
} from "./generated/operations.js";
import { SyncReader } from "../src/db/sync-reader.js";
import { RefinementRepository } from "../src/domain/refinement/refinement.repository.js";
import { codes, createTestApp, type TestApp } from "./helpers/app.js";
import { FakeLlm, json, replyJson, replyStream, structuredReply } from "./helpers/llm-server.js";

type Progress = RefinementProgressSubscription["refinementProgress"];

let t: TestApp;
let llm: FakeLlm;
let client: Client;
let port: number;

beforeAll(async () => {
  llm = await new FakeLlm().start();
  t = await createTestApp({
    llm: { name: "fake", baseUrl: llm.url, apiKey: "sk-test", defaultModel: "fake-model", timeoutMs: 5_000, idleTimeoutMs: 2_000, maxRetries: 1, stream: true },
  });
  port = await t.app.listen();
  client = createClient({ url: `ws://127.0.0.1:${port}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
});
afterAll(async () => {
  await client.dispose();
  await t.close();
  await llm.stop();
});

let promptCount = 0;
async function newPrompt(text: string): Promise<string> {
  const name = `ref/p${++promptCount}`;
  await t.ok(CreatePromptDocument, { input: { name, content: text } });
  return name;
}

async function refine(input: StartRefinementInput) {
  const { startRefinement } = await t.ok(StartRefinementDocument, { input });
  expect(startRefinement.status).toBe("QUEUED");
  await t.app.services.refinementRunner.idle();
  return (await t.ok(RefinementSessionDocument, { id: startRefinement.id })).refinementSession!;
}

function progress(session: string, afterSequence: number | null = null): Promise<Progress[]> {
  return new Promise((resolve, reject) => {
    const events: Progress[] = [];
    client.subscribe<RefinementProgressSubscription>(
      { query: print(RefinementProgressDocument), variables: { session, afterSequence } },
      {
        next: (r) => (r.errors ? reject(new Error(JSON.stringify(r.errors))) : events.push(r.data!.refinementProgress)),
        error: reject,
        complete: () => resolve(events),
      },
    );
  });
}

/** Waits until the app has an open subscription on the topic (so nothing published is missed). */
async function subscribed(topic: "refinement.progress", count = 1) {
  while (t.app.bus.subscriberCount(topic) < count) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe("providers", () => {
  it("lists builtin and the configured LLM, which is the default", async () => {
    const { refinementProviders } = await t.ok(RefinementProvidersDocument);
    expect(refinementProviders).toEqual([
      { name: "builtin", kind: "builtin", defaultModel: "rules-v1", isDefault: false, circuit: null },
      { name: "fake", kind: "openai-compatible", defaultModel: "fake-model", isDefault: true, circuit: "closed" },
    ]);
  });
});

describe("builtin refiner sessions", () => {
  it("stores the proposal and its documents, and applies it as the next version, linked both ways", async () => {
    const name = await newPrompt("You are a support agent. Help {{customer}} with some things, etc.");
    const session = await refine({ prompt: { name }, provider: "builtin", instructions: "answer in json, be concise" });
    expect(session).toMatchObject({ status: "COMPLETED", provider: "builtin", model: "rules-v1", baseVersionNumber: 1, error: null });
    expect(session.proposal).toContain("## Role\nYou are a support agent.");
    expect(session.proposal).toContain("{{customer}}");
    expect(session.proposal).toContain("Answer in JSON.");
    expect(session.documents.map((d) => d.kind).sort()).toEqual(["CHANGES", "CRITIQUE", "PROPOSAL", "RATIONALE", "RAW_REPLY", "TIMINGS", "USAGE"]);
    const critique = session.documents.find((d) => d.kind === "CRITIQUE")!;
    expect(critique.content).toMatch(/Rule-based review/);
    expect(critique.content).toMatch(/"some"/);
    expect(JSON.parse(session.documents.find((d) => d.kind === "CHANGES")!.content)).toEqual(expect.arrayContaining([expect.stringMatching(/Task/)]));
    expect(session.checks).toMatchObject({ placeholdersPreserved: true, variablesAdded: [], variablesRemoved: [], lengthBefore: 65 });
    expect(session.checks!.lengthChange).toBe(session.checks!.lengthAfter - 65);
    expect(session.diff).toMatchObject({ identical: false, fromType: "TEXT", toType: "TEXT", from: { number: 1 } });
    expect(session.diff!.hunks.flatMap((h) => h.lines).some((l) => l.kind === "ADDED" && l.text === "## Role")).toBe(true);

    const doc = (await t.ok(RefinementDocumentDocument, { id: critique.id })).document!;
    expect(doc).toMatchObject({ sessionId: session.id, kind: "CRITIQUE", contentType: "text/markdown" });

    const { applyRefinement } = await t.ok(ApplyRefinementDocument, { input: { session: session.id, commitMessage: "structured", moveLabels: ["production"] } });
    expect(applyRefinement.version).toMatchObject({ number: 2, content: session.proposal, commitMessage: "structured", refinementSession: { id: session.id }, labels: ["latest", "production"] });
    expect(applyRefinement.session).toMatchObject({ status: "APPLIED", appliedVersion: { number: 2 } });
    // Applied is final: no second application, no rejection; the documents stay.
    expect(codes(await t.execute(ApplyRefinementDocument, { input: { session: session.id } }))).toEqual(["FAILED_PRECONDITION"]);
    expect(codes(await t.execute(RejectRefinementDocument, { session: session.id }))).toEqual(["FAILED_PRECONDITION"]);
    expect((await t.ok(RefinementSessionDocument, { id: session.id })).refinementSession!.documents).toHaveLength(7);
  });

  it("refuses to apply over a newer version unless rebased", async () => {
    const name = await newPrompt("Summarise {{text}}.");
    const session = await refine({ prompt: { name }, provider: "builtin" });
    await t.ok(UpdatePromptDocument, { prompt: { name }, input: { content: "Summarise {{text}} in one line." } });
    const conflict = await t.execute(ApplyRefinementDocument, { input: { session: session.id } });
    expect(codes(conflict)).toEqual(["CONFLICT"]);
    expect(conflict.errors![0]!.message).toMatch(/version 2 now, past the base version 1/);
    const { applyRefinement } = await t.ok(ApplyRefinementDocument, { input: { session: session.id, rebase: true } });
    expect(applyRefinement.version.number).toBe(3);
  });

  it("rejects with a reason, and iterates: a child refines its parent's proposal", async () => {
    const name = await newPrompt("Write a haiku about {{topic}}");
    const parent = await refine({ prompt: { name }, provider: "builtin" });
    const child = await refine({ prompt: { name }, provider: "builtin", parent: parent.id, instructions: "be concise" });
    expect(child).toMatchObject({ status: "COMPLETED", parent: { id: parent.id }, baseVersionNumber: 1 });
    // The rules are idempotent on their own output, so the child changes only what the new instructions ask.
    expect(child.proposal!.startsWith(parent.proposal!.trimEnd().split("## Constraints")[0]!)).toBe(true);
    expect(child.proposal).toContain("Keep the answer concise.");
    expect((await t.ok(RefinementSessionDocument, { id: parent.id })).refinementSession!.children).toEqual([{ id: child.id }]);

    const rejected = (await t.ok(RejectRefinementDocument, { session: parent.id, reason: "prefer the child" })).rejectRefinement;
    expect(rejected).toMatchObject({ status: "REJECTED", rejectionReason: "prefer the child" });
    expect(codes(await t.execute(ApplyRefinementDocument, { input: { session: parent.id } }))).toEqual(["FAILED_PRECONDITION"]);
    // A rejected session's proposal can still be refined further.
    expect((await refine({ prompt: { name }, provider: "builtin", parent: parent.id })).status).toBe("COMPLETED");
  });

  it("validates the request before anything is stored", async () => {
    const name = await newPrompt("Hello {{who}}");
    const before = await t.app.db.refinementSession.count();
    const bad = async (input: StartRefinementInput) => codes(await t.execute(StartRefinementDocument, { input }));
    expect(await bad({ prompt: { name }, provider: "nope" })).toEqual(["BAD_USER_INPUT"]);
    expect(await bad({ prompt: { name }, temperature: 3 })).toEqual(["BAD_USER_INPUT"]);
    expect(await bad({ prompt: { name }, examples: [{ input: "x", idealOutput: " " }] })).toEqual(["BAD_USER_INPUT"]);
    expect(await bad({ prompt: { name }, instructions: "x".repeat(20_001) })).toEqual(["BAD_USER_INPUT"]);
    expect(await bad({ prompt: { name }, baseVersion: 9 })).toEqual(["NOT_FOUND"]);
    expect(await bad({ prompt: { name: "ref/none" } })).toEqual(["NOT_FOUND"]);
    expect(await bad({ prompt: { name }, parent: "no-such-session" })).toEqual(["NOT_FOUND"]);
    await t.ok(CreatePromptDocument, { input: { name: "ref/chat", type: "CHAT", messages: [{ role: "USER", content: "hi" }] } });
    expect(await bad({ prompt: { name: "ref/chat" } })).toEqual(["BAD_USER_INPUT"]);
    expect(await t.app.db.refinementSession.count()).toBe(before);
  });
});

describe("LLM sessions", () => {
  it("streams the reply's text over graphql-ws, then the proposal; a reconnect with afterSequence misses nothing", async () => {
    const name = await newPrompt("Answer {{question}}.");
    const reply = structuredReply("You are an expert. Answer {{question}} in two sentences, citing sources.");
    const pieces = reply.match(/.{1,12}/gs)!;
    llm.next(replyStream(pieces, { delayMs: 15 }));
    const { startRefinement } = await t.ok(StartRefinementDocument, {
      input: { prompt: { name }, instructions: "be precise", temperature: 0.2, examples: [{ input: "What is 2+2?", idealOutput: "4, by arithmetic." }] },
    });
    const live = progress(startRefinement.id);
    const events = await live;
    expect(events[0]).toMatchObject({ sequence: 1, kind: "STATUS", status: "QUEUED" });
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
    expect(events.filter((e) => e.kind === "DELTA").map((e) => e.delta).join("")).toBe(reply);
    expect(events.filter((e) => e.kind === "DELTA").length).toBeGreaterThan(1);
    const last = events.at(-1)!;
    expect(last).toMatchObject({ kind: "PROPOSAL", status: "COMPLETED", final: true, proposal: "You are an expert. Answer {{question}} in two sentences, citing sources." });

    // What went upstream: the model, the temperature, the key, the prompt, instructions and examples.
    const request = llm.requests.at(-1)!;
    expect(request.headers.authorization).toBe("Bearer sk-test");
    expect(request.body).toMatchObject({ model: "fake-model", temperature: 0.2, stream: true });
    const sent = request.body.messages!.map((m) => m.content).join("\n");
    for (const part of ["Answer {{question}}.", "be precise", "What is 2+2?", "4, by arithmetic."]) expect(sent).toContain(part);

    const replay = await progress(startRefinement.id, 2);
    expect(replay).toEqual(events.slice(2));
    // Ended streams leave no subscription behind on the server.
    for (let i = 0; t.app.bus.subscriberCount("refinement.progress") > 0 && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(t.app.bus.subscriberCount("refinement.progress")).toBe(0);

    const session = (await t.ok(RefinementSessionDocument, { id: startRefinement.id })).refinementSession!;
    expect(session).toMatchObject({ status: "COMPLETED", provider: "fake", model: "fake-model", temperature: 0.2 });
    const docs = Object.fromEntries(session.documents.map((d) => [d.kind, d]));
    expect(docs.RAW_REPLY!.content).toBe(reply);
    expect(docs.CRITIQUE!.content).toBe("Too vague.");
    expect(JSON.parse(docs.USAGE!.content)).toMatchObject({ provider: "fake", model: "fake-model", usage: { promptTokens: 40 } });
    expect(JSON.parse(docs.TIMINGS!.content)).toMatchObject({ attempts: 1, parsedAs: "json" });
  });

  it("flags a proposal that drops a variable: applying it needs force", async () => {
    const name = await newPrompt("Translate {{text}} into {{language}}.");
    llm.next(replyJson(structuredReply("Translate {{text}} into French, keeping the tone.")));
    const session = await refine({ prompt: { name } });
    expect(session.checks).toMatchObject({ placeholdersPreserved: false, variablesRemoved: ["language"], variablesAdded: [] });
    const refused = await t.execute(ApplyRefinementDocument, { input: { session: session.id } });
    expect(codes(refused)).toEqual(["FAILED_PRECONDITION"]);
    expect(refused.errors![0]!.message).toMatch(/drops \{\{language\}\}/);
    const { applyRefinement } = await t.ok(ApplyRefinementDocument, { input: { session: session.id, force: true } });
    expect(applyRefinement.version.number).toBe(2);
  });

  it("ends FAILED with UPSTREAM_UNAVAILABLE and the reason after retries, and notifies whoever started it", async () => {
    const name = await newPrompt("Classify {{ticket}}.");
    llm.next(
      (_req, res) => json(res, 500, { error: { message: "overloaded" } }),
      (_req, res) => json(res, 500, { error: { message: "still overloaded" } }),
    );
    const session = await refine({ prompt: { name } });
    expect(session.status).toBe("FAILED");
    expect(session.error).toMatchObject({ code: "UPSTREAM_UNAVAILABLE" });
    expect(session.error!.message).toMatch(/500/);
    const events = await progress(session.id);
    expect(events.map((e) => e.kind)).toEqual(["STATUS", "STATUS", "RETRY", "STATUS"]);
    expect(events.at(-1)).toMatchObject({ status: "FAILED", final: true });
    const { notifications } = await t.ok(NotificationsDocument, { unreadOnly: true, first: 50 });
    expect(notifications.nodes.some((n) => n.kind === "REFINEMENT_FAILED" && (n.data as { sessionId?: string }).sessionId === session.id)).toBe(true);
  });

  it("fails with a clear reason when the reply holds no usable prompt, and keeps the raw reply", async () => {
    const name = await newPrompt("Plan {{trip}}.");
    llm.next(replyJson("I think this prompt is fine as it is, honestly."));
    const session = await refine({ prompt: { name } });
    expect(session.status).toBe("FAILED");
    expect(session.error!.message).toMatch(/could not be used: the reply has no rewritten prompt/);
    expect(session.documents).toEqual([expect.objectContaining({ kind: "RAW_REPLY", content: "I think this prompt is fine as it is, honestly." })]);
  });

  it("cancels a session while the reply streams in, closing the upstream connection", async () => {
    const name = await newPrompt("Draft {{email}}.");
    llm.next(replyStream(["{\"critique\": \"", "slow"], { hold: true }));
    const { startRefinement } = await t.ok(StartRefinementDocument, { input: { prompt: { name } } });
    const live = progress(startRefinement.id);
    await subscribed("refinement.progress");
    while (llm.requests.length === 0 || !(await t.ok(RefinementSessionDocument, { id: startRefinement.id })).refinementSession!.startedAt) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const upstream = llm.requests.at(-1)!;
    await new Promise((resolve) => setTimeout(resolve, 50));
    const { cancelRefinement } = await t.ok(CancelRefinementDocument, { id: startRefinement.id });
    expect(cancelRefinement.cancelRequested).toBe(true);
    await upstream.closed;
    const events = await live;
    expect(events.at(-1)).toMatchObject({ kind: "STATUS", status: "CANCELLED", final: true });
    await t.app.services.refinementRunner.idle();
    expect((await t.ok(RefinementSessionDocument, { id: startRefinement.id })).refinementSession!.status).toBe("CANCELLED");
    expect(codes(await t.execute(CancelRefinementDocument, { id: startRefinement.id }))).toEqual(["FAILED_PRECONDITION"]);
  });
});

describe("audit and recovery", () => {
  it("lists who started which session on which prompt and version, with provider, model, instructions and outcome", async () => {
    const name = await newPrompt("Greet {{name}}.");
    // Over HTTP, as a client would, with an API key named after who is acting.
    const { secret } = (await t.ok(CreateApiKeyDocument, { input: { name: "alice", role: "EDITOR" } })).createApiKey;
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${secret}` },
      body: JSON.stringify({ query: print(StartRefinementDocument), variables: { input: { prompt: { name }, provider: "builtin", instructions: "friendly" } } }),
    });
    expect(((await response.json()) as { data: { startRefinement: { startedBy: string } } }).data.startRefinement.startedBy).toBe("alice");
    await t.app.services.refinementRunner.idle();
    llm.next((_req, res) => json(res, 400, { error: { message: "unknown model" } }));
    await refine({ prompt: { name }, model: "gpt-nope" });
    const { refinementSessions } = await t.ok(RefinementSessionsDocument, { prompt: { name } });
    expect(refinementSessions.totalCount).toBe(2);
    expect(refinementSessions.nodes).toMatchObject([
      { status: "FAILED", provider: "fake", model: "gpt-nope", prompt: { name }, baseVersion: { number: 1 }, error: { code: "UPSTREAM_UNAVAILABLE" } },
      { status: "COMPLETED", provider: "builtin", model: "rules-v1", instructions: "friendly", startedBy: "alice", prompt: { name }, baseVersion: { number: 1 }, error: null },
    ]);
    const failed = await t.ok(RefinementSessionsDocument, { prompt: { name }, status: "FAILED" });
    expect(failed.refinementSessions.totalCount).toBe(1);
  });

  it("reads the sweep's sessions on prepared statements as Prisma does, every field mapped", async () => {
    const name = await newPrompt("Mapped {{x}}.");
    const prompt = await t.app.db.prompt.findUniqueOrThrow({ where: { name } });
    const at = (minutesAgo: number) => new Date(Date.now() - minutesAgo * 60_000);
    // RUNNING and fresh, so the app's own sweep leaves it alone; read with a cutoff in the future.
    await t.app.db.refinementSession.create({
      data: {
        id: "mapped-session", promptId: prompt.id, baseVersionNumber: 1, status: "RUNNING", provider: "fake", model: "m", temperature: 0.25,
        instructions: "shorter", examples: JSON.stringify([{ input: "a", output: "b" }]), startedBy: "ana", errorCode: "X", error: "e",
        cancelRequested: true, appliedVersionNumber: 2, resolvedBy: "bo", rejectionReason: "no", lastSequence: 7,
        createdAt: at(3), startedAt: at(2), finishedAt: at(1), resolvedAt: at(1), updatedAt: new Date(),
      },
    });
    const reader = new SyncReader(t.app.config.dbFile, 1_000);
    try {
      const cutoff = new Date(Date.now() + 60_000);
      const byId = (list: { id: string }[]) => [...list].sort((a, b) => a.id.localeCompare(b.id));
      const prepared = await new RefinementRepository(t.app.db, false, reader).staleRunning(cutoff);
      expect(byId(prepared)).toEqual(byId(await new RefinementRepository(t.app.db).staleRunning(cutoff)));
      expect(prepared.find((s) => s.id === "mapped-session")).toMatchObject({ cancelRequested: true, temperature: 0.25, examples: [{ input: "a", output: "b" }], resolvedAt: expect.any(Date), parentId: null });
      expect(await new RefinementRepository(t.app.db, false, reader).queued()).toEqual(await new RefinementRepository(t.app.db).queued());
    } finally {
      reader.close();
      await t.app.db.refinementSession.update({ where: { id: "mapped-session" }, data: { status: "FAILED" } });
    }
  });

  it("fails sessions whose process died instead of leaving them RUNNING", async () => {
    const name = await newPrompt("Stale {{x}}.");
    const prompt = await t.app.db.prompt.findUniqueOrThrow({ where: { name } });
    const old = new Date(Date.now() - 10 * 60_000);
    await t.app.db.refinementSession.create({
      data: { id: "stale-session", promptId: prompt.id, baseVersionNumber: 1, status: "RUNNING", provider: "fake", model: "m", instructions: "", examples: "[]", createdAt: old, startedAt: old, updatedAt: old },
    });
    await t.app.services.refinementRunner.start();
    const session = (await t.ok(RefinementSessionDocument, { id: "stale-session" })).refinementSession!;
    expect(session).toMatchObject({ status: "FAILED", error: { code: "INTERRUPTED" } });
  });
});
