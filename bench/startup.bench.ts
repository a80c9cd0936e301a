// S9: cold start to the first answered query, and memory after warm-up. The server (on a migrated
// database) against a bare Apollo Server with a one-field schema, alternately, in the same run;
// targets: start at most 0.5 s more than the baseline, RSS at most 200 MB after warm-up.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import autocannon from "autocannon";
import { freshDb, median, ROOT, round } from "./lib.js";

const ROUNDS = 3;

/** One POST of `{ __typename }`; resolves true on a 200 with data. */
function answered(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const body = JSON.stringify({ query: "{ __typename }" });
    const req = request({ host: "127.0.0.1", port, path: "/graphql", method: "POST", headers: { "content-type": "application/json", "content-length": body.length } }, (res) => {
      let text = "";
      res.on("data", (chunk) => (text += String(chunk)));
      res.on("end", () => resolve(res.statusCode === 200 && text.includes('"__typename"')));
    });
    req.on("error", () => resolve(false));
    req.end(body);
  });
}

const rssMiB = (pid: number) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;

/**
 * Spawns a server on core 0 and measures from spawn to its first answered query; the port comes
 * from its output (`portOf`). Then warms it for a few seconds and reads its RSS.
 */
async function coldStart(args: string[], env: Record<string, string>, portOf: (line: string) => number | undefined, warmQuery: string) {
  const started = performance.now();
  const child = spawn("taskset", ["-c", "0", process.execPath, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let buffer = "";
      child.stdout!.on("data", (chunk) => {
        buffer += String(chunk);
        for (const line of buffer.split("\n")) {
          const found = portOf(line);
          if (found) return resolve(found);
        }
      });
      child.once("exit", (code) => reject(new Error(`exited with ${code}`)));
    });
    while (!(await answered(port))) await new Promise((resolve) => setTimeout(resolve, 5));
    const startMs = performance.now() - started;
    const warm = await autocannon({ url: `http://127.0.0.1:${port}/graphql`, method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: warmQuery }), connections: 16, duration: 5 });
    if (warm.non2xx > 0 || warm.errors > 0) throw new Error(`warm-up answered ${warm.non2xx} non-2xx and ${warm.errors} errors`);
    return { startMs: round(startMs), rssMiB: round(rssMiB(child.pid!), 1) };
  } finally {
    child.kill("SIGTERM");
    await new Promise((resolve) => child.once("exit", resolve));
  }
}

export async function startupScenario() {
  const db = freshDb("startup");
  const server = () =>
    coldStart(
      [join(ROOT, "dist/server.mjs")],
      { PROMPT_STORE_DB: db, PROMPT_STORE_PORT: "0", PROMPT_STORE_LOG_LEVEL: "info", PROMPT_STORE_RATE_LIMIT_PER_SECOND: "0", PROMPT_STORE_ANONYMOUS_RATE_LIMIT_PER_SECOND: "0" },
      (line) => (/"msg":"prompt store listening"/.test(line) ? Number(/"port":(\d+)/.exec(line)?.[1]) : undefined),
      "{ prompts(first: 20) { totalCount nodes { name latestVersion { number content } labels { name } } } }",
    );
  const baseline = () =>
    coldStart([join(ROOT, "bench/baselines/bare-apollo.mjs")], {}, (line) => (line.startsWith("{") ? (JSON.parse(line) as { port: number }).port : undefined), "{ hello }");
  const rounds: { baseline: Awaited<ReturnType<typeof baseline>>; server: Awaited<ReturnType<typeof server>> }[] = [];
  for (let i = 0; i < ROUNDS; i++) rounds.push({ baseline: await baseline(), server: await server() });
  const baselineStart = median(rounds.map((r) => r.baseline.startMs));
  const serverStart = median(rounds.map((r) => r.server.startMs));
  const serverRss = median(rounds.map((r) => r.server.rssMiB));
  return {
    rounds,
    summary: {
      baselineStartMs: baselineStart,
      serverStartMs: serverStart,
      extraStartMs: round(serverStart - baselineStart),
      extraStartTargetMs: 500,
      baselineRssMiB: median(rounds.map((r) => r.baseline.rssMiB)),
      serverRssMiB: serverRss,
      rssTargetMiB: 200,
      pass: serverStart - baselineStart <= 500 && serverRss <= 200,
    },
  };
}
