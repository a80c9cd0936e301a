// Issue scenarios: recordUsage ingests 20,000 events a second or more in batches of 500 (against
// raw better-sqlite3 inserts of the same rows in one transaction, measured in the same run), and
// with 1,000,000 events a 30-day promptAnalytics and topPrompts answer within 100 ms p95.
import Database from "better-sqlite3";
import { rmSync } from "node:fs";
import { freshDb, graphql, load, median, round, startServer } from "./lib.js";

const PROMPTS = 1_000;
const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000);
const BATCH = 500;
const DAYS = 30;
const HOUR = 3_600_000;
const ROUNDS = 3;
const LIVE_EVENTS = 200_000;

const ANALYTICS = `query($prompt: PromptRef!, $from: DateTimeISO, $to: DateTimeISO) {
  promptAnalytics(prompt: $prompt, from: $from, to: $to, interval: DAY) { total { count latencyP95 } series { bucketStart count latencyP50 latencyP95 latencyP99 } }
}`;
const TOP = `query($from: DateTimeISO, $to: DateTimeISO) { topPrompts(metric: USAGE, from: $from, to: $to, first: 20) { rank value previousRank prompt { name } } }`;
const RECORD = `mutation($events: [UsageEventInput!]!) { recordUsage(events: $events) { accepted errors { index message } } }`;

/** A deterministic stream of realistic events over the last 30 days. */
function* events(now: number) {
  let seed = 42;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < EVENTS; i++) {
    // A few prompts are far busier than the rest (Zipf-like).
    const prompt = Math.min(PROMPTS - 1, Math.floor(PROMPTS * random() ** 3));
    yield {
      prompt: { name: `usage/p${prompt}` },
      version: 1,
      user: `user-${Math.floor(random() * 5_000)}`,
      model: "gpt-x",
      latencyMs: round(50 + 2_000 * random() ** 4, 1),
      inputTokens: 100 + Math.floor(random() * 900),
      outputTokens: 20 + Math.floor(random() * 400),
      cost: round(random() / 100, 5),
      success: random() > 0.03,
      timestamp: new Date(now - Math.floor(random() * DAYS * 24 * HOUR)).toISOString(),
    };
  }
}

export async function analyticsScenario() {
  const now = Date.now();
  // In arrival order, as an application sends them: 30 days of traffic replayed.
  const all = [...events(now)].sort((a, b) => a.timestamp.localeCompare(b.timestamp));
  const db = freshDb("analytics");
  const server = await startServer({ PROMPT_STORE_DB: db, PROMPT_STORE_USAGE_MAX_BATCH: String(BATCH), PROMPT_STORE_BULK_MAX_ITEMS: String(PROMPTS), PROMPT_STORE_LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "info" });
  try {
    await graphql(server.port, "mutation($input: StartBulkOperationInput!) { startBulkOperation(input: $input) { id } }", {
      input: { kind: "CREATE_PROMPTS", items: Array.from({ length: PROMPTS }, (_, i) => ({ name: `usage/p${i}`, content: `Prompt ${i}` })) },
    });
    for (;;) {
      const { bulkOperations } = await graphql(server.port, "{ bulkOperations(first: 1) { nodes { status } } }");
      if (bulkOperations.nodes[0]?.status === "COMPLETED") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // Ingest over HTTP, two clients, batches of 500; the raw baseline gets the same rows.
    const batches: (typeof all)[] = [];
    for (let i = 0; i < all.length; i += BATCH) batches.push(all.slice(i, i + BATCH));
    let next = 0;
    const ingestStarted = performance.now();
    await Promise.all(
      [0, 1].map(async () => {
        for (let b = next++; b < batches.length; b = next++) {
          const { recordUsage } = await graphql(server.port, RECORD, { events: batches[b] });
          if (recordUsage.accepted !== batches[b]!.length) throw new Error(`batch ${b}: ${JSON.stringify(recordUsage.errors.slice(0, 3))}`);
        }
      }),
    );
    const ingestSeconds = (performance.now() - ingestStarted) / 1000;
    // Live traffic: every event in the current hour, so each batch updates the same busy rollup rows.
    const live = all.slice(0, LIVE_EVENTS).map((e, i) => ({ ...e, timestamp: new Date(now - 1_000 + (i % 1_000)).toISOString() }));
    const liveStarted = performance.now();
    next = 0;
    await Promise.all(
      [0, 1].map(async () => {
        for (let b = next++; b * BATCH < live.length; b = next++) {
          const events = live.slice(b * BATCH, b * BATCH + BATCH);
          const { recordUsage } = await graphql(server.port, RECORD, { events });
          if (recordUsage.accepted !== events.length) throw new Error(`live batch ${b}: ${JSON.stringify(recordUsage.errors.slice(0, 3))}`);
        }
      }),
    );
    const liveSeconds = (performance.now() - liveStarted) / 1000;
    const baselineSeconds = await rawBaseline(db, all);

    // Queries over the 30 days; `to` moves by a few ms per request so that no answer comes from the cache.
    const from = new Date(now - DAYS * 24 * HOUR).toISOString();
    const to = () => new Date(now + Math.floor(Math.random() * 1_000_000)).toISOString();
    const rounds = [];
    for (let r = 0; r < ROUNDS; r++) {
      const analytics = await load({
        port: server.port,
        concurrency: 1,
        seconds: 5,
        next: () => ({ query: ANALYTICS, variables: { prompt: { name: `usage/p${Math.floor(PROMPTS * Math.random() ** 3)}` }, from, to: to() } }),
        check: (data) => {
          if (!(data.promptAnalytics.total.count >= 0 && Array.isArray(data.promptAnalytics.series))) throw new Error("unexpected analytics response");
        },
      });
      const top = await load({
        port: server.port,
        concurrency: 1,
        seconds: 5,
        next: () => ({ query: TOP, variables: { from, to: to() } }),
        check: (data) => {
          if (data.topPrompts.length !== 20) throw new Error("short ranking");
        },
      });
      rounds.push({ analytics, top });
    }
    const analyticsP95 = median(rounds.map((r) => r.analytics.p95));
    const topP95 = median(rounds.map((r) => r.top.p95));
    const eventsPerSecond = EVENTS / ingestSeconds;
    return {
      rounds,
      summary: {
        events: EVENTS,
        ingestEventsPerSecond: Math.round(eventsPerSecond),
        liveIngestEventsPerSecond: Math.round(live.length / liveSeconds),
        ingestTarget: 20_000,
        rawBaselineEventsPerSecond: Math.round(EVENTS / baselineSeconds),
        ingestRatioToRaw: round(eventsPerSecond / (EVENTS / baselineSeconds)),
        promptAnalytics30dP95Ms: analyticsP95,
        topPrompts30dP95Ms: topP95,
        queryTargetMs: 100,
        pass: eventsPerSecond >= 20_000 && live.length / liveSeconds >= 20_000 && analyticsP95 <= 100 && topP95 <= 100,
      },
    };
  } finally {
    await server.stop();
  }
}

/** The same rows as plain inserts in one transaction with a prepared statement, on a copy. */
async function rawBaseline(dbFile: string, all: ReturnType<typeof events> extends Generator<infer E> ? E[] : never): Promise<number> {
  const copy = `${dbFile}.raw`;
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${copy}${suffix}`, { force: true });
  // SQLite's online backup, not a file copy: the running server's checkpointer thread may be
  // writing pages into the file (a copy of it would be torn), and recent commits are in the WAL.
  const live = new Database(dbFile, { readonly: true });
  try {
    await live.backup(copy);
  } finally {
    live.close();
  }
  const db = new Database(copy);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
  const ids = new Map((db.prepare("SELECT name, id FROM Prompt").all() as { name: string; id: string }[]).map((r) => [r.name, r.id]));
  const insert = db.prepare(
    `INSERT INTO UsageEvent (promptId, versionNumber, userId, model, latencyMs, inputTokens, outputTokens, cost, success, occurredAt) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const started = performance.now();
  for (let i = 0; i < all.length; i += BATCH) {
    db.transaction(() => {
      for (const e of all.slice(i, i + BATCH)) insert.run(ids.get(e.prompt.name), e.version, e.user, e.model, e.latencyMs, e.inputTokens, e.outputTokens, e.cost, e.success ? 1 : 0, e.timestamp);
    })();
  }
  const seconds = (performance.now() - started) / 1000;
  db.close();
  return seconds;
}
