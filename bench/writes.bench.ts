// S5 (versions): updatePrompt creating new versions of random seeded prompts (each prompt once,
// so every answer's version number is known), 16 clients over HTTP, against raw inserts of the
// same rows (the new version, the prompt's latest number) in one transaction, in-process on the
// same database, alternating for 3 rounds. Target: 2,000 versions a second or more. The other
// half of S5, recordUsage in batches of 500, is measured by the analytics scenario.
import Database from "better-sqlite3";
import { buildVersion } from "../src/domain/prompts/version.factory.js";
import { sqlDate } from "../src/db/sync-writer.js";
import { cannon, median, round, startServer, type CannonResult } from "./lib.js";
import { SEED_PROMPTS, seedContent, seededDb, seedName, seedVersions } from "./seed.js";

const ROUNDS = 3;
const SECONDS = 5;
const CONNECTIONS = 16;
const UPDATE = `mutation($prompt: PromptRef!, $input: UpdatePromptInput!) { updatePrompt(prompt: $prompt, input: $input) { version { number } } }`;

/** Raw inserts of `count` new versions for prompts [from, from + count) in one transaction: rows a second. */
function rawInserts(file: string, from: number, count: number): number {
  const db = new Database(file);
  const ids = db.prepare("SELECT id, latestVersionNumber AS latest FROM Prompt WHERE name = ?");
  const insert = db.prepare(
    "INSERT INTO PromptVersion (id, promptId, number, content, config, variables, commitMessage, author, contentHash, createdAt) VALUES (@id, @promptId, @number, @content, @config, @variables, @commitMessage, @author, @contentHash, @createdAt)",
  );
  const bump = db.prepare("UPDATE Prompt SET latestVersionNumber = ?, updatedAt = ? WHERE id = ?");
  const targets = Array.from({ length: count }, (_, k) => ({ i: from + k, ...(ids.get(seedName(from + k)) as { id: string; latest: number }) }));
  const started = performance.now();
  db.transaction(() => {
    for (const { i, id, latest } of targets) {
      const now = new Date();
      insert.run({ ...buildVersion(latest + 1, { type: "TEXT", text: `${seedContent(i, latest + 1)} (raw)` }, {}, { commitMessage: "raw", author: "bench" }, now), promptId: id, createdAt: sqlDate(now) });
      bump.run(latest + 1, sqlDate(now), id);
    }
  })();
  const seconds = (performance.now() - started) / 1000;
  db.close();
  return count / seconds;
}

export async function writesScenario() {
  const file = await seededDb("writes");
  const server = await startServer({ PROMPT_STORE_DB: file });
  // The server takes prompts from the start of the seed, the raw baseline from its second half.
  let nextPrompt = 0;
  const next = () => {
    const i = nextPrompt++;
    if (i >= SEED_PROMPTS / 2) throw new Error("S5: ran out of prompts to update");
    const number = seedVersions(i) + 1;
    return {
      body: JSON.stringify({ query: UPDATE, variables: { prompt: { name: seedName(i) }, input: { content: `${seedContent(i, number)} (updated)`, commitMessage: "bench" } } }),
      expected: `${JSON.stringify({ data: { updatePrompt: { version: { number } } } })}\n`,
    };
  };
  try {
    await cannon({ port: server.port, connections: CONNECTIONS, seconds: 2, next });
    const rounds: { server: CannonResult; rawRowsPerSecond: number }[] = [];
    let rawFrom = SEED_PROMPTS / 2;
    for (let r = 0; r < ROUNDS; r++) {
      const raw = rawInserts(file, rawFrom, 5_000);
      rawFrom += 5_000;
      rounds.push({ rawRowsPerSecond: round(raw, 0), server: await cannon({ port: server.port, connections: CONNECTIONS, seconds: SECONDS, next }) });
    }
    const versions = median(rounds.map((r) => r.server.perSecond));
    const raw = median(rounds.map((r) => r.rawRowsPerSecond));
    return {
      rounds,
      summary: {
        serverVersionsPerSecond: versions,
        rawInsertsPerSecond: raw,
        ratioToRaw: round(versions / raw, 4),
        serverP99Ms: median(rounds.map((r) => r.server.p99)),
        versionsTarget: 2_000,
        pass: versions >= 2_000,
      },
    };
  } finally {
    await server.stop();
  }
}
