// Shared pieces of the benchmark harness: a migrated database, a pinned server process,
// a closed-loop HTTP load generator with latency percentiles, and the report.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";

export const ROOT = fileURLToPath(new URL("../", import.meta.url));
export const RESULTS = join(ROOT, "bench/results");
const DATA = join(ROOT, "bench/.data");

/** A fresh database migrated with the real `prisma migrate deploy`. */
export function freshDb(name: string): string {
  mkdirSync(DATA, { recursive: true });
  const file = join(DATA, `${name}.db`);
  for (const suffix of ["", "-wal", "-shm"]) rmSync(`${file}${suffix}`, { force: true });
  execFileSync("npx", ["prisma", "migrate", "deploy"], { cwd: ROOT, env: { ...process.env, PROMPT_STORE_DB: file }, stdio: "pipe" });
  return file;
}

export interface Server {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

/** The built server (dist/server.mjs, as npm start runs it) on core 0, so the load generator can have core 1. */
export async function startServer(env: Record<string, string>): Promise<Server> {
  // BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=..." profiles the server only (Node refuses
  // --cpu-prof in NODE_OPTIONS, so these go on its command line).
  const nodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [];
  const child = spawn("taskset", ["-c", "0", process.execPath, ...nodeArgs, join(ROOT, "dist/server.mjs")], {
    cwd: ROOT,
    // Rate limits off: a benchmark is one client asking for as much as the server gives.
    env: {
      ...process.env,
      PROMPT_STORE_PORT: "0",
      PROMPT_STORE_LOG_LEVEL: "info",
      PROMPT_STORE_RATE_LIMIT_PER_SECOND: "0",
      PROMPT_STORE_ANONYMOUS_RATE_LIMIT_PER_SECOND: "0",
      ...env,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  // Request logs are not printed at info level; the pipe must still be drained.
  // BENCH_SERVER_LOG=file keeps the server's log lines for a look afterwards.
  if (process.env.BENCH_SERVER_LOG) child.stdout!.pipe(createWriteStream(process.env.BENCH_SERVER_LOG, { flags: "a" }));
  const port = await new Promise<number>((resolve, reject) => {
    let buffer = "";
    child.stdout!.on("data", (chunk) => {
      if (buffer.length > 100_000) return;
      buffer += String(chunk);
      const match = /"port":(\d+)[^\n]*"msg":"prompt store listening"/.exec(buffer);
      if (match) resolve(Number(match[1]));
    });
    child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  return {
    port,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** A baseline process (bench/baselines/<script>) on core 0, as the server would be; it prints its port. */
export async function startBaseline(script: string, args: string[] = []): Promise<{ port: number; stop(): Promise<void> }> {
  const child = spawn("taskset", ["-c", "0", process.execPath, join(ROOT, "bench/baselines", script), ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.once("data", (chunk) => resolve((JSON.parse(String(chunk)) as { port: number }).port));
    child.once("exit", (code) => reject(new Error(`baseline ${script} exited with ${code}`)));
  });
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

// Idle sockets are dropped before the server's 5 s keep-alive timeout would close them under a request.
const agent = new Agent({ keepAlive: true, maxSockets: 64, timeout: 4_000 });

export async function graphql(port: number, query: string, variables: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const body = JSON.stringify({ query, variables });
  const send = () =>
    new Promise<string>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path: "/graphql", method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
        let data = "";
        res.on("data", (chunk) => (data += String(chunk)));
        res.on("end", () => (res.statusCode === 200 ? resolve(data) : reject(new Error(`HTTP ${res.statusCode}: ${data.slice(0, 300)}`))));
      });
      // A kept-alive socket the server closed just as it was reused: the request never reached it.
      req.on("error", (error: NodeJS.ErrnoException) => reject(Object.assign(error, { retry: req.reusedSocket && error.code === "ECONNRESET" })));
      req.end(body);
    });
  let text: string | undefined;
  for (let attempt = 1; text === undefined; attempt++) {
    text = await send().catch((error: Error & { retry?: boolean }) => (error.retry && attempt < 5 ? undefined : Promise.reject(error)));
  }
  const parsed = JSON.parse(text) as { data?: Record<string, any>; errors?: unknown[] };
  if (parsed.errors) throw new Error(`GraphQL errors: ${JSON.stringify(parsed.errors).slice(0, 300)}`);
  return parsed.data!;
}

/**
 * autocannon against POST /graphql with a body per request; each answer must be 200 with exactly
 * the bytes `next()` said to expect (checked as strings: parsing every answer would make the load
 * generator the bottleneck). Closed loop: for a fixed rate use loadAtRate (autocannon's rate mode
 * sends each second's requests in a burst).
 */
export async function cannon(options: {
  port: number;
  connections: number;
  seconds: number;
  next: () => { body: string; expected: string };
}): Promise<CannonResult> {
  let bad = 0;
  let firstBad = "";
  const result = await autocannon({
    url: `http://127.0.0.1:${options.port}/graphql`,
    method: "POST",
    headers: { "content-type": "application/json" },
    connections: options.connections,
    duration: options.seconds,
    requests: [
      {
        setupRequest: (request, context: { expected?: string[] }) => {
          const { body, expected } = options.next();
          (context.expected ??= []).push(expected);
          return { ...request, body };
        },
        onResponse: (status, body, context: { expected?: string[] }) => {
          const expected = context.expected?.shift();
          if (status !== 200 || body !== expected) {
            bad++;
            firstBad ||= `HTTP ${status}: ${body.slice(0, 300)} (expected ${expected?.slice(0, 300)})`;
          }
        },
      },
    ],
  });
  const errors = result.errors + result.timeouts + result.non2xx + bad;
  if (errors > 0) throw new Error(`${errors} bad answers from port ${options.port}: ${firstBad || `errors ${result.errors}, timeouts ${result.timeouts}`}`);
  const seconds = result.duration;
  return {
    requests: result.requests.total,
    seconds: round(seconds),
    perSecond: round(result.requests.total / seconds),
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
  };
}

export type CannonResult = Omit<LoadResult, "p95"> & { p90: number };

export interface LoadResult {
  requests: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * A closed loop of `concurrency` clients sending `next()` until `until()` says stop (or
 * `seconds` pass); every response is validated by `check`. Latencies in milliseconds.
 */
export async function load(options: {
  port: number;
  concurrency: number;
  seconds: number;
  next: () => { query: string; variables?: Record<string, unknown> };
  check: (data: Record<string, any>) => void;
  until?: () => boolean;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline && !(options.until?.() ?? false)) {
      const { query, variables } = options.next();
      const t0 = performance.now();
      options.check(await graphql(options.port, query, variables));
      latencies.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return summarize(latencies, (performance.now() - started) / 1000);
}

/**
 * Open loop: starts requests at a fixed rate whatever the answers' latency (so a stall shows as
 * latency, not as fewer requests), until `seconds` pass or `until()` says stop.
 */
export async function loadAtRate(options: {
  port: number;
  rate: number;
  seconds: number;
  next: () => { query: string; variables?: Record<string, unknown> };
  check: (data: Record<string, any>) => void;
  until?: () => boolean;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  const pending: Promise<void>[] = [];
  const started = performance.now();
  const interval = 1000 / options.rate;
  for (let i = 0; ; i++) {
    const due = started + i * interval;
    if (due > started + options.seconds * 1000 || (options.until?.() ?? false)) break;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    const { query, variables } = options.next();
    pending.push(
      graphql(options.port, query, variables).then((data) => {
        options.check(data);
        latencies.push(performance.now() - due);
      }),
    );
  }
  await Promise.all(pending);
  return summarize(latencies, (performance.now() - started) / 1000);
}

function summarize(latencies: number[], seconds: number): LoadResult {
  latencies.sort((a, b) => a - b);
  const at = (q: number) => round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN);
  return { requests: latencies.length, seconds: round(seconds), perSecond: round(latencies.length / seconds), p50: at(0.5), p95: at(0.95), p99: at(0.99), max: round(latencies.at(-1) ?? NaN) };
}

export const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;
export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

export function machine() {
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT }).toString().trim();
  } catch {
    // not a checkout
  }
  return { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version, commit, date: new Date().toISOString() };
}

export function writeReport(name: string, json: unknown, markdown: string): void {
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(join(RESULTS, `${name}.md`), markdown);
  process.stdout.write(`${markdown}\nwritten to bench/results/${name}.json and .md\n`);
}
