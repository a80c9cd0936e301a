// S1: the fixed cost of a request. `{ __typename }` through the whole stack (HTTP, context, the
// operation gate, audit scope, logging, metrics) against plain node:http answering the same
// JSON, measured alternately in the same run; target: at least 0.22 of the baseline's rate.
import autocannon from "autocannon";
import { freshDb, median, round, startBaseline, startServer } from "./lib.js";

const ROUNDS = 3;
const SECONDS = 5;
const CONNECTIONS = 32;
const BODY = JSON.stringify({ query: "{ __typename }" });
// Apollo ends its JSON with a newline; the baseline sends the same bytes.
const EXPECTED = `${JSON.stringify({ data: { __typename: "Query" } })}\n`;

/** autocannon against one URL; every answer must be 200 with exactly the expected body. */
async function hammer(port: number): Promise<{ perSecond: number; p99: number; errors: number }> {
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/graphql`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: BODY,
    connections: CONNECTIONS,
    duration: SECONDS,
    expectBody: EXPECTED,
  });
  const errors = result.errors + result.timeouts + result.non2xx + (result.mismatches ?? 0);
  if (errors > 0) throw new Error(`S1: ${errors} bad answers from port ${port} (non-2xx ${result.non2xx}, mismatches ${result.mismatches})`);
  return { perSecond: round(result.requests.average), p99: result.latency.p99, errors };
}

export async function fixedCostScenario() {
  const baseline = await startBaseline("http-json.mjs");
  const server = await startServer({ PROMPT_STORE_DB: freshDb("fixed-cost"), PROMPT_STORE_LOG_LEVEL: "info" });
  try {
    // Warm both (JIT, Apollo's document cache).
    await hammer(baseline.port);
    await hammer(server.port);
    const rounds: { baseline: Awaited<ReturnType<typeof hammer>>; server: Awaited<ReturnType<typeof hammer>> }[] = [];
    for (let i = 0; i < ROUNDS; i++) rounds.push({ baseline: await hammer(baseline.port), server: await hammer(server.port) });
    const baselineRate = median(rounds.map((r) => r.baseline.perSecond));
    const serverRate = median(rounds.map((r) => r.server.perSecond));
    const ratio = round(serverRate / baselineRate, 3);
    return {
      rounds,
      summary: {
        baselineRequestsPerSecond: baselineRate,
        serverRequestsPerSecond: serverRate,
        ratio,
        ratioTarget: 0.22,
        serverP99Ms: median(rounds.map((r) => r.server.p99)),
        pass: ratio >= 0.22,
      },
    };
  } finally {
    await server.stop();
    await baseline.stop();
  }
}
