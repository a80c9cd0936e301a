// S2: serving a prompt. resolvePrompt(name, label: "production", variables) over uniformly random
// names of the 100,000 seeded prompts (so most answers are not in any cache), against two
// baselines and a reference on the same database copy, alternating for 3 rounds:
// - node:http + one prepared better-sqlite3 statement giving the same answer bytes (the ceiling);
// - a naive server: bare Apollo Server, one Prisma query per request, no cache;
// - for reference, not a target: bare Apollo Server on the prepared statement (about the best a
//   server that runs every request through Apollo Server and graphql-js can do here).
// Targets: at least 0.4 of the first's requests per second, at least 5x the second's.
import { cannon, median, round, startBaseline, startServer, type CannonResult } from "./lib.js";
import { SEED_PROMPTS, seedContent, seededDb, seedName, seedProduction } from "./seed.js";

const ROUNDS = 3;
const SECONDS = 5;
const CONNECTIONS = 32;
export const RESOLVE = `query($name: String!, $vars: JSONObject) { resolvePrompt(name: $name, label: "production", variables: $vars) { type text label version { number } } }`;

/** A random prompt's request and the exact answer it must get. */
export function serveRequest(): { body: string; expected: string } {
  const i = Math.floor(Math.random() * SEED_PROMPTS);
  const customer = `customer-${i % 1000}`;
  const version = seedProduction(i);
  const text = seedContent(i, version).replace("{{customer}}", customer);
  return {
    body: JSON.stringify({ query: RESOLVE, variables: { name: seedName(i), vars: { customer } } }),
    expected: `${JSON.stringify({ data: { resolvePrompt: { type: "TEXT", text, label: "production", version: { number: version } } } })}\n`,
  };
}

export async function serveScenario() {
  const file = await seededDb("serve");
  const sqlite = await startBaseline("serve-sqlite.mjs", [file]);
  const naive = await startBaseline("serve-naive.mjs", [file]);
  const apollo = await startBaseline("serve-apollo.mjs", [file]);
  const server = await startServer({ PROMPT_STORE_DB: file });
  const targets = { sqlite: sqlite.port, naive: naive.port, apollo: apollo.port, server: server.port };
  try {
    const hammer = (port: number) => cannon({ port, connections: CONNECTIONS, seconds: SECONDS, next: serveRequest });
    for (const port of Object.values(targets)) await cannon({ port, connections: CONNECTIONS, seconds: 2, next: serveRequest });
    const rounds: Record<keyof typeof targets, CannonResult>[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      rounds.push({
        sqlite: await hammer(sqlite.port),
        naive: await hammer(naive.port),
        apollo: await hammer(apollo.port),
        server: await hammer(server.port),
      });
    }
    const rate = (key: keyof typeof targets) => median(rounds.map((r) => r[key].perSecond));
    const ratio = round(rate("server") / rate("sqlite"), 3);
    const overNaive = round(rate("server") / rate("naive"), 2);
    return {
      rounds,
      summary: {
        prompts: SEED_PROMPTS,
        preparedStatementRequestsPerSecond: rate("sqlite"),
        naiveRequestsPerSecond: rate("naive"),
        // Not a target: what the stack alone allows (bare Apollo Server on the same statement).
        bareApolloRequestsPerSecond: rate("apollo"),
        bareApolloRatio: round(rate("apollo") / rate("sqlite"), 3),
        serverRequestsPerSecond: rate("server"),
        serverP99Ms: median(rounds.map((r) => r.server.p99)),
        ratio,
        ratioTarget: 0.4,
        timesNaive: overNaive,
        timesNaiveTarget: 5,
        pass: ratio >= 0.4 && overNaive >= 5,
      },
    };
  } finally {
    await server.stop();
    await sqlite.stop();
    await naive.stop();
    await apollo.stop();
  }
}
