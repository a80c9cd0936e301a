// The realistic data set the serving, listing and concurrency scenarios run on: 100,000 prompts
// in folders, 3 to 5 versions each, labels `production` (an older version) and `staging` (the
// latest) on every prompt, two or three tags each. It is written through the server's own bulk
// job (CREATE_PROMPTS) and then, for the later versions and the labels, straight into the
// database (see addVersionsAndLabels). It is built once: the file is kept under
// bench/.data keyed by the migrations and this script, and each scenario gets a copy.
import Database from "better-sqlite3";
import { createHash, randomUUID } from "node:crypto";
import { closeSync, copyFileSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { buildVersion } from "../src/domain/prompts/version.factory.js";
import { freshDb, graphql, ROOT, round, startServer } from "./lib.js";

export const SEED_PROMPTS = Number(process.env.BENCH_PROMPTS ?? 100_000);
const JOB = 20_000;
const APPS = ["support", "sales", "search", "onboarding", "billing", "docs", "agent", "triage"];
const FEATURES = ["reply", "summary", "classify", "extract", "rewrite", "translate", "greeting", "followup"];

/** The name of prompt i: `app/feature/prompt-i`. */
export const seedName = (i: number) => `${APPS[i % APPS.length]}/${FEATURES[Math.floor(i / APPS.length) % FEATURES.length]}/prompt-${i}`;
/** Versions prompt i ends with: 3, 4 or 5. */
export const seedVersions = (i: number) => 3 + (i % 3);
/** The version `production` points at: the one before the latest. */
export const seedProduction = (i: number) => seedVersions(i) - 1;
/** The template of version v of prompt i (one variable, {{customer}}). */
export const seedContent = (i: number, v: number) =>
  `You are the ${FEATURES[Math.floor(i / APPS.length) % FEATURES.length]} assistant of ${APPS[i % APPS.length]} (prompt ${i}, revision ${v}). ` +
  `Answer {{customer}} in a short, friendly way; keep to the facts of the case and say when you do not know.`;

const START = "mutation($input: StartBulkOperationInput!) { startBulkOperation(input: $input) { id } }";
const STATUS = "query($id: ID!) { bulkOperation(id: $id) { status succeeded failed } }";

async function runJob(port: number, input: Record<string, unknown>, expected: number): Promise<void> {
  const { startBulkOperation } = await graphql(port, START, { input });
  for (;;) {
    const { bulkOperation } = await graphql(port, STATUS, { id: startBulkOperation.id });
    if (bulkOperation.status === "COMPLETED") {
      if (bulkOperation.succeeded !== expected) throw new Error(`seed: ${input.kind} job: ${bulkOperation.succeeded} of ${expected} succeeded`);
      return;
    }
    if (bulkOperation.status === "FAILED" || bulkOperation.status === "CANCELLED") throw new Error(`seed: ${input.kind} job ${bulkOperation.status}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Items [from, to) in jobs of JOB. */
async function inJobs(port: number, count: number, job: (from: number, to: number) => { input: Record<string, unknown>; expected: number }) {
  for (let from = 0; from < count; from += JOB) {
    const { input, expected } = job(from, Math.min(count, from + JOB));
    if (expected > 0) await runJob(port, input, expected);
  }
}

async function build(file: string): Promise<void> {
  const server = await startServer({ PROMPT_STORE_DB: file, PROMPT_STORE_BULK_MAX_ITEMS: String(JOB), PROMPT_STORE_MAX_BODY_BYTES: String(32 * 1024 * 1024) });
  try {
    const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);
    await inJobs(server.port, SEED_PROMPTS, (from, to) => ({
      input: {
        kind: "CREATE_PROMPTS",
        items: range(from, to).map((i) => ({
          name: seedName(i),
          description: `${FEATURES[Math.floor(i / APPS.length) % FEATURES.length]} prompt of the ${APPS[i % APPS.length]} app`,
          content: seedContent(i, 1),
          tags: [APPS[i % APPS.length], FEATURES[Math.floor(i / APPS.length) % FEATURES.length], ...(i % 2 ? ["beta"] : [])],
        })),
      },
      expected: to - from,
    }));
  } finally {
    await server.stop();
  }
  addVersionsAndLabels(file);
}

/**
 * Versions 2..n and the labels, written straight into the database in one transaction: the
 * same rows updatePrompt and setPromptLabel write (built by the server's own version factory;
 * the search index follows through its triggers). Through the API this takes far longer:
 * updatePrompt is S5's subject, and its rate is what the report shows.
 */
function addVersionsAndLabels(file: string): void {
  const db = new Database(file);
  const at = (ms: number) => new Date(ms).toISOString().replace("Z", "+00:00");
  const insertVersion = db.prepare(
    "INSERT INTO PromptVersion (id, promptId, number, content, config, variables, commitMessage, author, contentHash, createdAt) VALUES (@id, @promptId, @number, @content, @config, @variables, @commitMessage, @author, @contentHash, @createdAt)",
  );
  const setLatest = db.prepare("UPDATE Prompt SET latestVersionNumber = ?, updatedAt = ? WHERE id = ?");
  const insertLabel = db.prepare("INSERT INTO PromptLabel (promptId, name, versionNumber, updatedAt, updatedBy) VALUES (?, ?, ?, ?, 'seed')");
  const insertLabelEvent = db.prepare(
    "INSERT INTO PromptLabelEvent (id, promptId, label, fromVersion, toVersion, actor, reason, createdAt) VALUES (?, ?, ?, NULL, ?, 'seed', 'seed', ?)",
  );
  const prompts = db.prepare("SELECT id, name FROM Prompt").all() as { id: string; name: string }[];
  const index = new Map(Array.from({ length: SEED_PROMPTS }, (_, i) => [seedName(i), i]));
  const started = Date.now() - 30 * 24 * 3_600_000;
  db.transaction(() => {
    for (const { id, name } of prompts) {
      const i = index.get(name)!;
      const last = seedVersions(i);
      for (let v = 2; v <= last; v++) {
        const when = new Date(started + v * 3_600_000);
        insertVersion.run({ ...buildVersion(v, { type: "TEXT", text: seedContent(i, v) }, {}, { commitMessage: `revision ${v}`, author: "seed" }, when), promptId: id, createdAt: at(when.getTime()) });
      }
      const updated = at(started + last * 3_600_000);
      setLatest.run(last, updated, id);
      for (const [label, version] of [["production", seedProduction(i)], ["staging", last]] as const) {
        insertLabel.run(id, label, version, updated);
        insertLabelEvent.run(randomUUID(), id, label, version, updated);
      }
    }
  })();
  db.close();
}

/**
 * A copy of the seeded database for one scenario, building the seed first when there is none
 * for these migrations and this script (BENCH_RESEED=1 builds it again).
 */
export async function seededDb(name: string): Promise<string> {
  const hash = createHash("sha256");
  const migrations = join(ROOT, "prisma/migrations");
  for (const dir of readdirSync(migrations).sort()) hash.update(dir);
  hash.update(readFileSync(new URL(import.meta.url)));
  hash.update(String(SEED_PROMPTS));
  const seed = join(ROOT, `bench/.data/seed-${hash.digest("hex").slice(0, 12)}.db`);
  if (!existsSync(seed) || process.env.BENCH_RESEED) {
    const building = freshDb("seed-building");
    const started = performance.now();
    process.stdout.write(`seeding ${SEED_PROMPTS} prompts (kept for later runs)...\n`);
    await build(building);
    // Everything into the main file, so one file is the whole database.
    const db = new Database(building);
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.pragma("journal_mode = DELETE");
    db.close();
    renameSync(building, seed);
    process.stdout.write(`seeded in ${round((performance.now() - started) / 1000, 1)} s\n`);
  }
  const copy = join(ROOT, `bench/.data/${name}.db`);
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${copy}${suffix}`, { force: true });
  copyFileSync(seed, copy);
  // On disk before a server opens it: otherwise the kernel writes the copy's 600 MB back while
  // a scenario runs, and the server's first fsync (a checkpoint) waits for all of it.
  const fd = openSync(copy, "r+");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return copy;
}
