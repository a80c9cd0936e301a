import { spawn, type ChildProcess } from "node:child_process";
import { REPO_ROOT } from "./paths.js";

export interface ServerProcess {
  child: ChildProcess;
  port: number;
  /** Every JSON log line the server printed so far. */
  logs: Record<string, unknown>[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Runs src/main.ts in a child process, as `npm run dev` does (or, with `bundle`, dist/server.mjs
 * as `npm start` does), and waits until it listens.
 */
export async function startServerProcess(env: Record<string, string>, timeoutMs = 30_000, bundle = false): Promise<ServerProcess> {
  const args = bundle ? ["dist/server.mjs"] : ["--import", "@swc-node/register/esm-register", "src/main.ts"];
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    // NODE_ENV as `npm start` sets it (vitest's "test" would change Apollo's and graphql-ws's defaults).
    env: { ...process.env, NODE_ENV: "production", PROMPT_STORE_PORT: "0", PROMPT_STORE_LOG_LEVEL: "info", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr!.on("data", (chunk) => (stderr += String(chunk)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time; stderr: ${stderr}`)), timeoutMs);
    let buffer = "";
    child.stdout!.on("data", (chunk) => {
      buffer += String(chunk);
      let newline: number;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        try {
          const entry = JSON.parse(line) as Record<string, unknown>;
          logs.push(entry);
          if (entry.msg === "prompt store listening") {
            clearTimeout(timer);
            resolve(entry.port as number);
          }
        } catch {
          // not a log line
        }
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
  return { child, port, logs, exited };
}
