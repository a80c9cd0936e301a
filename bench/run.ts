// npm run bench [scenario...]: builds, pins this process (the load generator) to core 1 and
// the server to core 0, runs each scenario against its same-run baseline, writes bench/results/.
import { analyticsScenario } from "./analytics.bench.js";
import { bulkScenario } from "./bulk.bench.js";
import { concurrencyScenario } from "./concurrency.bench.js";
import { fixedCostScenario } from "./fixed-cost.bench.js";
import { listingScenario } from "./listing.bench.js";
import { searchScenario } from "./search.bench.js";
import { serveScenario } from "./serve.bench.js";
import { startupScenario } from "./startup.bench.js";
import { subscriptionsScenario } from "./subscriptions.bench.js";
import { writesScenario } from "./writes.bench.js";
import { machine, writeReport } from "./lib.js";
import { writeCombinedReport } from "./report.js";

// The server runs in production mode, as `npm start` runs it, and so do the baselines built on
// graphql-js and Apollo Server: every process this harness starts inherits this.
process.env.NODE_ENV ??= "production";

const SCENARIOS: Record<string, () => Promise<{ summary: Record<string, unknown> } & Record<string, unknown>>> = {
  "fixed-cost": fixedCostScenario,
  startup: startupScenario,
  serve: serveScenario,
  listing: listingScenario,
  writes: writesScenario,
  concurrency: concurrencyScenario,
  search: searchScenario,
  subscriptions: subscriptionsScenario,
  bulk: bulkScenario,
  analytics: analyticsScenario,
};

// `npm run bench -- report` only rewrites the combined report from the latest results.
const wanted = process.argv.slice(2).filter((a) => !a.startsWith("-") && a !== "report");
const names = wanted.length > 0 || process.argv.includes("report") ? wanted : Object.keys(SCENARIOS);
for (const name of names) {
  const scenario = SCENARIOS[name];
  if (!scenario) {
    process.stderr.write(`unknown scenario ${name}; known: ${Object.keys(SCENARIOS).join(", ")}\n`);
    process.exit(2);
  }
  process.stdout.write(`running ${name}...\n`);
  const result = await scenario();
  const host = machine();
  const rows = Object.entries(result.summary).map(([k, v]) => `| ${k} | ${String(v)} |`).join("\n");
  writeReport(
    name,
    { scenario: name, machine: host, ...result },
    `# ${name}\n\n${host.date}, commit ${host.commit}, Node ${host.node}, ${host.cores} x ${host.cpu}\n\n| metric | value |\n|---|---|\n${rows}\n`,
  );
}
writeCombinedReport();
