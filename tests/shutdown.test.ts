import Database from "better-sqlite3";
import { copyFileSync, existsSync, mkdtempSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { TEMPLATE_DB, TMP_ROOT } from "./helpers/paths.js";
import { startServerProcess, type ServerProcess } from "./helpers/server-process.js";

let server: ServerProcess | undefined;
afterAll(() => {
  if (server && server.child.exitCode === null) server.child.kill("SIGKILL");
});

describe("graceful shutdown", () => {
  it("on SIGTERM stops accepting, finishes in-flight requests, closes sockets and the database", async () => {
    const dir = mkdtempSync(join(TMP_ROOT, "shutdown-"));
    const dbFile = join(dir, "prompt-store.db");
    copyFileSync(TEMPLATE_DB, dbFile);
    server = await startServerProcess({ PROMPT_STORE_DB: dbFile });
    const { port } = server;

    // A subscriber whose socket must be closed with 1001 (going away).
    const ws = new WebSocket(`ws://127.0.0.1:${port}/graphql`, "graphql-transport-ws");
    await new Promise((resolve) => ws.once("open", resolve));
    const wsClosed = new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));

    // An in-flight request: headers and half the body now, the rest after SIGTERM.
    const body = JSON.stringify({ query: 'mutation { createPrompt(input: {name: "late/arrival", content: "made during shutdown"}) { name } }' });
    const half = Math.floor(body.length / 2);
    const responded = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port, path: "/graphql", method: "POST", headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
        (res) => {
          let text = "";
          res.on("data", (chunk) => (text += String(chunk)));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on("error", reject);
      req.write(body.slice(0, half));
      setTimeout(() => {
        server!.child.kill("SIGTERM");
        setTimeout(async () => {
          // The listener closes once the signal is handled: new connections are refused from then on.
          let refused = false;
          for (let i = 0; i < 100 && !refused; i++) {
            refused = await fetch(`http://127.0.0.1:${port}/health`).then(() => false, () => true);
            if (!refused) await new Promise((r) => setTimeout(r, 50));
          }
          expect(refused).toBe(true);
          req.end(body.slice(half));
        }, 100);
      }, 200);
    });

    const response = await responded;
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toEqual({ data: { createPrompt: { name: "late/arrival" } } });
    expect(await wsClosed).toBe(1001);
    const exit = await server.exited;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(server.logs.map((l) => l.msg)).toContain("prompt store stopped");
    // The last connection closed cleanly: SQLite checkpointed and removed the WAL file.
    expect(existsSync(`${dbFile}-wal`)).toBe(false);
    const db = new Database(dbFile, { readonly: true });
    expect(db.prepare("SELECT name FROM Prompt").all()).toEqual([{ name: "late/arrival" }]);
    db.close();
  });
});
