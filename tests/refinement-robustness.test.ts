// Refinement sessions when things go wrong: a queue longer than the runner, a client joining
// mid-stream, a prompt deleted mid-run, a cancel that only reaches the database, a reply that
// never ends, a rebase over newer content.
import { print } from "graphql";
import { createClient, type Client } from "graphql-ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import {
  ApplyRefinementDocument,
  CreatePromptDocument,
  DeletePromptDocument,
  RefinementProgressDocument,
  RefinementSessionDocument,
  StartRefinementDocument,
  UpdatePromptDocument,
  type RefinementProgressSubscription,
} from "./generated/operations.js";
import { codes, createTestApp, type TestApp } from "./helpers/app.js";
import { FakeLlm, replyStream, structuredReply } from "./helpers/llm-server.js";

type Progress = RefinementProgressSubscription["refinementProgress"];

let t: TestApp;
let llm: FakeLlm;
let client: Client;

beforeAll(async () => {
  llm = await new FakeLlm().start();
  t = await createTestApp({
    maxContentBytes: 1_000,
    refinement: { concurrency: 1, heartbeatMs: 50, streamPollMs: 100 },
    llm: { name: "fake", baseUrl: llm.url, defaultModel: "fake-model", timeoutMs: 10_000, idleTimeoutMs: 5_000, maxRetries: 0, stream: true },
  });
  client = createClient({ url: `ws://127.0.0.1:${await t.app.listen()}/graphql`, webSocketImpl: WebSocket, retryAttempts: 0 });
});
afterAll(async () => {
  await client.dispose();
  await t.close();
  await llm.stop();
});

let n = 0;
async function newPrompt(content: string, config?: Record<string, unknown>): Promise<string> {
  const name = `robust/p${++n}`;
  await t.ok(CreatePromptDocument, { input: { name, content, ...(config && { config }) } });
  return name;
}

async function start(name: string) {
  return (await t.ok(StartRefinementDocument, { input: { prompt: { name } } })).startRefinement.id;
}

const session = async (id: string) => (await t.ok(RefinementSessionDocument, { id })).refinementSession!;

async function until(condition: () => Promise<boolean> | boolean, timeoutMs = 5_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function progress(id: string, afterSequence: number | null = null): Promise<Progress[]> {
  return new Promise((resolve, reject) => {
    const events: Progress[] = [];
    client.subscribe<RefinementProgressSubscription>(
      { query: print(RefinementProgressDocument), variables: { session: id, afterSequence } },
      { next: (r) => (r.errors ? reject(new Error(JSON.stringify(r.errors))) : events.push(r.data!.refinementProgress)), error: reject, complete: () => resolve(events) },
    );
  });
}

describe("refinement under stress", () => {
  it("keeps sessions queued behind a busy runner (the sweep does not fail them), and runs them all", async () => {
    const name = await newPrompt("Queue {{x}}.");
    const reply = structuredReply("Queue {{x}}, precisely.");
    llm.next(replyStream([reply], { delayMs: 300 }), replyStream([reply], { delayMs: 300 }), replyStream([reply], { delayMs: 300 }));
    const ids = [await start(name), await start(name), await start(name)];
    await t.app.services.refinementRunner.idle();
    // Each waited longer than three heartbeats (150 ms) while another ran.
    for (const id of ids) expect((await session(id)).status).toBe("COMPLETED");
  });

  it("gives a client that joins mid-stream every event after its afterSequence, without gap", async () => {
    const name = await newPrompt("Join {{y}}.");
    const reply = structuredReply("Join {{y}} in time.");
    llm.next(replyStream(reply.match(/.{1,4}/gs)!, { delayMs: 20 }));
    const id = await start(name);
    let joinedAt = 0;
    await until(async () => (joinedAt = (await session(id)).lastSequence) >= 4);
    const events = await progress(id, joinedAt);
    expect(events[0]!.sequence).toBe(joinedAt + 1);
    expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => joinedAt + 1 + i));
    expect(events.at(-1)).toMatchObject({ kind: "PROPOSAL", final: true });
    const all = await progress(id);
    expect(all.filter((e) => e.kind === "DELTA").map((e) => e.delta).join("")).toBe(reply);
  });

  it("rejects an afterSequence past the last event instead of waiting forever", async () => {
    const name = await newPrompt("Past {{z}}.");
    llm.next(replyStream([structuredReply("Past {{z}}!")], { delayMs: 200 }));
    const id = await start(name);
    await expect(progress(id, 999)).rejects.toThrow(/afterSequence is past/);
    await t.app.services.refinementRunner.idle();
  });

  it("ends a subscriber's stream when the prompt is deleted mid-run, without errors", async () => {
    const name = await newPrompt("Doomed {{w}}.");
    llm.next(replyStream(["{\"critique\": \"", "x"], { hold: true }));
    const id = await start(name);
    await until(async () => (await session(id)).status === "RUNNING");
    const events: Progress[] = [];
    const stream = new Promise<void>((resolve, reject) => {
      client.subscribe<RefinementProgressSubscription>(
        { query: print(RefinementProgressDocument), variables: { session: id } },
        { next: (r) => (r.errors ? reject(new Error(JSON.stringify(r.errors))) : events.push(r.data!.refinementProgress)), error: reject, complete: resolve },
      );
    });
    await until(() => events.length >= 2); // QUEUED and RUNNING replayed: the stream is live
    const upstream = llm.requests.at(-1)!;
    await t.ok(DeletePromptDocument, { prompt: { name } });
    await upstream.closed;
    await stream;
    expect(events.at(-1)!.status).toBe("RUNNING");
    await t.app.services.refinementRunner.idle();
    expect(await t.app.db.refinementSession.count({ where: { id } })).toBe(0);
  });

  it("cancels a run whose cancel event was lost (the heartbeat reads the flag)", async () => {
    const name = await newPrompt("Stop {{v}}.");
    llm.next(replyStream(["{\"critique\": \"", "x"], { hold: true }));
    const id = await start(name);
    await until(async () => (await session(id)).status === "RUNNING");
    // What another instance's cancelRefinement writes when its event cannot cross to this one.
    await t.app.db.refinementSession.update({ where: { id }, data: { cancelRequested: true } });
    await until(async () => (await session(id)).status === "CANCELLED");
    expect((await session(id)).cancelRequested).toBe(false);
  });

  it("stops a reply that goes on past the limit and fails the session saying so", async () => {
    const name = await newPrompt("Long {{u}}.");
    llm.next(replyStream(Array.from({ length: 100 }, () => "x".repeat(100)), { delayMs: 1 }));
    const id = await start(name);
    await t.app.services.refinementRunner.idle();
    const ended = await session(id);
    expect(ended.status).toBe("FAILED");
    expect(ended.error!.message).toMatch(/exceeded 4000 characters/);
  });

  it("rebases onto the latest version: checks against it and keeps its model settings", async () => {
    const name = await newPrompt("Base {{a}}.", { model: "old" });
    llm.next(replyStream([structuredReply("Base {{a}}, refined.")]));
    const id = await start(name);
    await t.app.services.refinementRunner.idle();
    await t.ok(UpdatePromptDocument, { prompt: { name }, input: { content: "Base {{a}} and {{b}}.", config: { model: "new" } } });
    const dropped = await t.execute(ApplyRefinementDocument, { input: { session: id, rebase: true } });
    expect(codes(dropped)).toEqual(["FAILED_PRECONDITION"]);
    expect(dropped.errors![0]!.message).toMatch(/drops \{\{b\}\}/);
    const { applyRefinement } = await t.ok(ApplyRefinementDocument, { input: { session: id, rebase: true, force: true } });
    expect(applyRefinement.version).toMatchObject({ number: 3, content: "Base {{a}}, refined." });
    const latest = await t.app.db.promptVersion.findFirstOrThrow({ where: { prompt: { name }, number: 3 } });
    expect(JSON.parse(latest.config)).toEqual({ model: "new" });
  });
});
