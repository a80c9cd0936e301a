// S4: searchPrompts at 100,000 prompts, per query class (rare, common, prefix, phrase), against
// the server's search statement run directly on the database in-process (better-sqlite3, no HTTP,
// no GraphQL), alternating for 3 rounds; target: p99 at most 25 ms for every class.
import Database from "better-sqlite3";
import { normalizeFilter } from "../src/domain/prompts/prompt.listing.js";
import { searchExpression } from "../src/domain/search/search.logic.js";
import { searchStatement } from "../src/domain/search/search.repository.js";
import { SEARCH_CANDIDATE_LIMIT } from "../src/domain/search/search.service.js";
import { freshDb, graphql, load, median, round, startServer, type LoadResult } from "./lib.js";

const PROMPTS = Number(process.env.BENCH_PROMPTS ?? 100_000);
const JOB = 20_000;
const ROUNDS = 3;
const SECONDS = 3;
const FIRST = 20;
const SEARCH = `query($query: String!) { searchPrompts(query: $query, first: ${FIRST}) { edges { node { score prompt { name } snippet { text } } } } }`;

// A vocabulary with a long tail: a few words in most prompts, many in a handful.
const COMMON = ["customer", "answer", "please", "summary", "write", "short", "friendly", "question"];
const TOPICS = ["billing", "refund", "shipping", "invoice", "password", "warranty", "onboarding", "feedback", "translation", "pricing"];
const word = (i: number) => `w${(i * 7919) % 5_000}`;

function content(i: number): string {
  const topic = TOPICS[i % TOPICS.length]!;
  return `Please write a short, friendly answer to the customer question about ${topic}. ` +
    `Summarize the customer support case ${word(i)} ${word(i + 1)} and reply in the customer's language. ${i % 97 === 0 ? "Escalate rare zygomorphic cases." : ""}`;
}

const CLASSES: Record<string, string[]> = {
  rare: ["zygomorphic", "w4211", "w1297"],
  common: ["customer", "answer please", "friendly"],
  prefix: ["summar*", "ship*", "pass*"],
  phrase: ['"customer support"', '"friendly answer"', '"reply in the customer"'],
};

async function seed(port: number): Promise<void> {
  for (let start = 0; start < PROMPTS; start += JOB) {
    const items = Array.from({ length: Math.min(JOB, PROMPTS - start) }, (_, k) => {
      const i = start + k;
      return { name: `search/${TOPICS[i % TOPICS.length]}/p${i}`, content: content(i), tags: [TOPICS[i % TOPICS.length]!, COMMON[i % COMMON.length]!] };
    });
    const { startBulkOperation } = await graphql(port, "mutation($input: StartBulkOperationInput!) { startBulkOperation(input: $input) { id } }", { input: { kind: "CREATE_PROMPTS", items } });
    for (;;) {
      const { bulkOperation } = await graphql(port, "query($id: ID!) { bulkOperation(id: $id) { status succeeded } }", { id: startBulkOperation.id });
      if (bulkOperation.status === "COMPLETED" && bulkOperation.succeeded === items.length) break;
      if (bulkOperation.status === "FAILED" || bulkOperation.status === "CANCELLED") throw new Error(`seeding failed: ${JSON.stringify(bulkOperation)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/**
 * The server's search statement, in-process: the very SQL SearchRepository.search runs, with the
 * values SearchService.search passes for `searchPrompts(query, first: FIRST)` (one row more than
 * the page, for hasNextPage; no filter, so active prompts), prepared once.
 */
function baseline(file: string, queries: string[]): LoadResult {
  const db = new Database(file, { readonly: true });
  const statements = queries.map((query) => searchStatement(searchExpression(query), normalizeFilter({}), FIRST + 1, 0, SEARCH_CANDIDATE_LIMIT));
  // Only the values differ between the queries of a class.
  if (statements.some((s) => s.sql !== statements[0]!.sql)) throw new Error("baseline: the queries of a class must share one statement");
  const statement = db.prepare(statements[0]!.sql);
  const latencies: number[] = [];
  const started = performance.now();
  for (let i = 0; performance.now() - started < SECONDS * 1000; i++) {
    const t0 = performance.now();
    const rows = statement.all(...statements[i % statements.length]!.values);
    latencies.push(performance.now() - t0);
    if (rows.length === 0) throw new Error(`baseline: no match for ${queries[i % queries.length]}`);
  }
  db.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!);
  const seconds = (performance.now() - started) / 1000;
  return { requests: latencies.length, seconds: round(seconds), perSecond: round(latencies.length / seconds), p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round(latencies.at(-1)!) };
}

export async function searchScenario() {
  const file = freshDb("search");
  // A 20,000-item job is about 5 MB of JSON.
  const server = await startServer({ PROMPT_STORE_DB: file, PROMPT_STORE_BULK_MAX_ITEMS: String(JOB), PROMPT_STORE_MAX_BODY_BYTES: String(32 * 1024 * 1024) });
  try {
    const seeded = performance.now();
    await seed(server.port);
    const seedSeconds = round((performance.now() - seeded) / 1000, 1);
    const rounds: Record<string, { server: LoadResult; baseline: LoadResult }>[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const round: Record<string, { server: LoadResult; baseline: LoadResult }> = {};
      for (const [name, queries] of Object.entries(CLASSES)) {
        let i = 0;
        const viaServer = await load({
          port: server.port,
          concurrency: 1,
          seconds: SECONDS,
          next: () => ({ query: SEARCH, variables: { query: queries[i++ % queries.length]! } }),
          check: (data) => {
            if (!(data.searchPrompts?.edges?.length > 0)) throw new Error(`no hits for a ${name} query`);
          },
        });
        round[name] = { server: viaServer, baseline: baseline(file, queries) };
      }
      rounds.push(round);
    }
    const summary: Record<string, unknown> = { prompts: PROMPTS, seedSeconds };
    let pass = true;
    for (const name of Object.keys(CLASSES)) {
      const p99 = median(rounds.map((r) => r[name]!.server.p99));
      summary[`${name}P99Ms`] = p99;
      summary[`${name}BaselineP99Ms`] = median(rounds.map((r) => r[name]!.baseline.p99));
      pass &&= p99 <= 25;
    }
    summary.p99TargetMs = 25;
    summary.pass = pass;
    return { rounds, summary };
  } finally {
    await server.stop();
  }
}
