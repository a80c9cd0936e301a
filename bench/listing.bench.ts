// S3: listing. A page of 20 and a page of 100 prompts of a folder, each with its latest version's
// content, its newest five versions, its labels and its tags, against node:http answering the
// same bytes from 1 + 3 hand-written batched statements, alternating for 3 rounds, with, for
// reference and not a target, a bare Apollo Server on those same statements (about the best a
// server that runs every request through Apollo Server and graphql-js can do here). Targets: at
// least 0.35 of the baseline's requests per second; the same number of SQL statements for both
// page sizes (the server's count is guarded in CI by tests/statement-counts.test.ts, and this
// run reads it from the server's /metrics as a check).
import { cannon, graphql, median, round, startBaseline, startServer, type CannonResult } from "./lib.js";
import { seededDb } from "./seed.js";

const ROUNDS = 3;
const SECONDS = 5;
const CONNECTIONS = 16;
const SIZES = [20, 100];
const LIST = `query($folder: String!, $first: Int!) { prompts(filter: { folder: $folder }, first: $first) { nodes { name tags latestVersion { number content } versions(first: 5) { nodes { number contentHash } } labels { name versionNumber } } } }`;
const APPS = ["support", "sales", "search", "onboarding", "billing", "docs", "agent", "triage"];
const FEATURES = ["reply", "summary", "classify", "extract", "rewrite", "translate", "greeting", "followup"];
const FOLDERS = APPS.flatMap((app) => FEATURES.map((feature) => `${app}/${feature}`));

export async function listingScenario() {
  const file = await seededDb("listing");
  const baseline = await startBaseline("list-sqlite.mjs", [file]);
  const apollo = await startBaseline("list-apollo.mjs", [file]);
  const server = await startServer({ PROMPT_STORE_DB: file });
  try {
    // The expected answers are the baseline's; the server must give the same bytes.
    const expected = new Map<string, string>();
    for (const first of SIZES) {
      for (const folder of FOLDERS) {
        const body = JSON.stringify({ query: LIST, variables: { folder, first } });
        const answer = await fetch(`http://127.0.0.1:${baseline.port}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body }).then((r) => r.text());
        if (!(JSON.parse(answer).data.prompts.nodes.length === first)) throw new Error(`S3: baseline page of ${folder} is short`);
        expected.set(body, answer);
      }
    }
    const next = (first: number) => () => {
      const folder = FOLDERS[Math.floor(Math.random() * FOLDERS.length)]!;
      const body = JSON.stringify({ query: LIST, variables: { folder, first } });
      return { body, expected: expected.get(body)! };
    };
    // A scrape runs statements of its own (the bulk queue depth): measured, then taken off.
    const scrape = -(await statementCount(server.port)) + (await statementCount(server.port));
    const statements = async (first: number) => {
      await graphql(server.port, LIST, { folder: FOLDERS[7], first });
      const before = await statementCount(server.port);
      await graphql(server.port, LIST, { folder: FOLDERS[7], first });
      return (await statementCount(server.port)) - before - scrape;
    };
    const counts = { page20: await statements(20), page100: await statements(100) };
    const hammer = (port: number, first: number) => cannon({ port, connections: CONNECTIONS, seconds: SECONDS, next: next(first) });
    for (const first of SIZES) for (const port of [baseline.port, apollo.port, server.port]) await cannon({ port, connections: CONNECTIONS, seconds: 2, next: next(first) });
    const rounds: Record<string, { baseline: CannonResult; apollo: CannonResult; server: CannonResult }>[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const entry: Record<string, { baseline: CannonResult; apollo: CannonResult; server: CannonResult }> = {};
      for (const first of SIZES) {
        entry[`page${first}`] = { baseline: await hammer(baseline.port, first), apollo: await hammer(apollo.port, first), server: await hammer(server.port, first) };
      }
      rounds.push(entry);
    }
    const summary: Record<string, unknown> = { statementsPage20: counts.page20, statementsPage100: counts.page100 };
    let pass = counts.page20 === counts.page100;
    for (const first of SIZES) {
      const key = `page${first}`;
      const b = median(rounds.map((r) => r[key]!.baseline.perSecond));
      const s = median(rounds.map((r) => r[key]!.server.perSecond));
      summary[`${key}BaselineRequestsPerSecond`] = b;
      summary[`${key}ServerRequestsPerSecond`] = s;
      summary[`${key}Ratio`] = round(s / b, 3);
      // Not a target: what the stack alone allows (bare Apollo Server on the same statements).
      const a = median(rounds.map((r) => r[key]!.apollo.perSecond));
      summary[`${key}BareApolloRequestsPerSecond`] = a;
      summary[`${key}BareApolloRatio`] = round(a / b, 3);
      summary[`${key}ServerP99Ms`] = median(rounds.map((r) => r[key]!.server.p99));
      pass &&= s / b >= 0.35;
    }
    summary.ratioTarget = 0.35;
    summary.pass = pass;
    return { rounds, summary };
  } finally {
    await server.stop();
    await baseline.stop();
    await apollo.stop();
  }
}

/** The server's count of SQL statements so far, from /metrics. */
async function statementCount(port: number): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
  const line = text.split("\n").find((l) => l.startsWith("prompt_store_db_statements_total"));
  if (!line) throw new Error("S3: /metrics has no prompt_store_db_statements_total");
  return Number(line.split(" ").at(-1));
}
