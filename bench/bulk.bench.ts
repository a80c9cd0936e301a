// Issue scenario: 10,000 CREATE_PROMPTS items at 5,000 items/s or more, and a read's p99
// while the job runs within 2x of its p99 when idle (the baseline, measured in the same run).
import { freshDb, graphql, load, loadAtRate, median, round, startServer, type LoadResult } from "./lib.js";

const ITEMS = 10_000;
const ROUNDS = 3;
const READ = "query($name: String!) { prompt(name: $name) { id name tags latestVersion { number content } } }";
const STATUS = "query($id: ID!) { bulkOperation(id: $id) { status processed succeeded startedAt finishedAt } }";

export async function bulkScenario() {
  const server = await startServer({
    PROMPT_STORE_DB: freshDb("bulk"),
    PROMPT_STORE_BULK_MAX_ITEMS: String(ITEMS),
    // Lets a run try other chunk settings: BENCH_CHUNK_SIZE=100 npm run bench -- bulk
    ...(process.env.BENCH_CHUNK_SIZE ? { PROMPT_STORE_BULK_CHUNK_SIZE: process.env.BENCH_CHUNK_SIZE } : {}),
  });
  const port = server.port;
  try {
    const seeded = await runJob(port, "seed", 2_000);
    if (seeded.succeeded !== 2_000) throw new Error("seeding failed");
    const names = Array.from({ length: 2_000 }, (_, i) => `seed/p${i}`);
    const read = () => ({ query: READ, variables: { name: names[Math.floor(Math.random() * names.length)] } });
    const check = (data: Record<string, any>) => {
      if (!data.prompt?.latestVersion?.content) throw new Error("unexpected read response");
    };
    // The baseline: how many reads a second the server answers flat out, idle.
    const capacity = (await load({ port, concurrency: 8, seconds: 3, next: read, check })).perSecond;
    const rate = Math.max(1, Math.floor(capacity / 2));
    const rounds: { idle: LoadResult; duringJob: LoadResult; itemsPerSecond: number; itemsPerSecondUnderReads: number }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // Job speed on its own.
      const alone = await runJob(port, `alone${round}`, ITEMS);
      if (alone.succeeded !== ITEMS) throw new Error(`round ${round}: ${alone.succeeded} of ${ITEMS} succeeded`);
      // Reads at half capacity, idle, then while a job runs (alternating, same rate).
      const idle = await loadAtRate({ port, rate, seconds: 3, next: read, check });
      // "While the job runs": from the moment startBulkOperation has answered (QUEUED) to its end.
      let finished = false;
      const id = await startJob(port, `round${round}`, ITEMS);
      const job = waitForJob(port, id).finally(() => (finished = true));
      const duringJob = await loadAtRate({ port, rate, seconds: 120, until: () => finished, next: read, check });
      const result = await job;
      if (result.succeeded !== ITEMS) throw new Error(`round ${round}: ${result.succeeded} of ${ITEMS} succeeded`);
      rounds.push({ idle, duringJob, itemsPerSecond: alone.itemsPerSecond, itemsPerSecondUnderReads: result.itemsPerSecond });
    }
    const itemsPerSecond = median(rounds.map((r) => r.itemsPerSecond));
    const idleP99 = median(rounds.map((r) => r.idle.p99));
    const jobP99 = median(rounds.map((r) => r.duringJob.p99));
    return {
      readCapacityPerSecond: capacity,
      readRatePerSecond: rate,
      rounds,
      summary: {
        itemsPerSecond: round(itemsPerSecond, 0),
        itemsTarget: 5_000,
        readRate: rate,
        readP99IdleMs: idleP99,
        readP99DuringJobMs: jobP99,
        p99Ratio: round(jobP99 / idleP99),
        p99RatioTarget: 2,
        pass: itemsPerSecond >= 5_000 && jobP99 / idleP99 <= 2,
      },
    };
  } finally {
    await server.stop();
  }
}

async function runJob(port: number, prefix: string, count: number) {
  return waitForJob(port, await startJob(port, prefix, count));
}

async function startJob(port: number, prefix: string, count: number): Promise<string> {
  const items = Array.from({ length: count }, (_, i) => ({ name: `${prefix}/p${i}`, content: `Prompt ${i} for {{customer}} about ${prefix}`, tags: ["bench", prefix] }));
  const { startBulkOperation } = await graphql(port, "mutation($input: StartBulkOperationInput!) { startBulkOperation(input: $input) { id } }", {
    input: { kind: "CREATE_PROMPTS", items },
  });
  return startBulkOperation.id as string;
}

async function waitForJob(port: number, id: string) {
  for (;;) {
    const { bulkOperation: op } = await graphql(port, STATUS, { id });
    if (op.status === "COMPLETED" || op.status === "FAILED") {
      const seconds = (Date.parse(op.finishedAt) - Date.parse(op.startedAt)) / 1000;
      return { succeeded: op.succeeded as number, itemsPerSecond: round(op.processed / seconds, 0) };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
