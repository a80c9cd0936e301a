import Database from "better-sqlite3";
import { copyFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { TEMPLATE_DB, TMP_ROOT } from "./helpers/paths.js";
import { startServerProcess, type ServerProcess } from "./helpers/server-process.js";

const started: ServerProcess[] = [];
afterAll(() => {
  for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill("SIGKILL");
});

async function gql(port: number, query: string, variables: Record<string, unknown> = {}) {
  const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

const STATUS = "query($id: ID!) { bulkOperation(id: $id) { status processed succeeded failed total } }";

describe("bulk operations survive a crash", () => {
  it("resumes a 10,000-item job after SIGKILL and applies every item exactly once", async () => {
    const dir = mkdtempSync(join(TMP_ROOT, "durable-"));
    const dbFile = join(dir, "prompt-store.db");
    copyFileSync(TEMPLATE_DB, dbFile);
    const env = { PROMPT_STORE_DB: dbFile, PROMPT_STORE_BULK_CHUNK_SIZE: "100", PROMPT_STORE_LOG_LEVEL: "info" };
    const first = await startServerProcess(env);
    started.push(first);

    const items = Array.from({ length: 10_000 }, (_, i) => ({ name: `durable/p${String(i).padStart(5, "0")}`, content: `item ${i}` }));
    const { startBulkOperation } = await gql(first.port, "mutation($input: StartBulkOperationInput!) { startBulkOperation(input: $input) { id } }", {
      input: { kind: "CREATE_PROMPTS", items },
    });
    const id = startBulkOperation.id as string;

    // Kill it while the job is between its first and last chunk.
    let killedAt = -1;
    for (let i = 0; i < 2_000 && killedAt < 0; i++) {
      const { bulkOperation } = await gql(first.port, STATUS, { id });
      if (bulkOperation.processed > 0 && bulkOperation.processed < 10_000) {
        first.child.kill("SIGKILL");
        killedAt = bulkOperation.processed;
      } else if (bulkOperation.processed === 10_000) {
        throw new Error("the job finished before it could be killed; make chunks smaller");
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect(killedAt).toBeGreaterThan(0);
    expect((await first.exited).signal).toBe("SIGKILL");

    const second = await startServerProcess(env);
    started.push(second);
    let final: Record<string, number | string> | undefined;
    for (let i = 0; i < 600; i++) {
      const { bulkOperation } = await gql(second.port, STATUS, { id });
      if (bulkOperation.status === "COMPLETED" || bulkOperation.status === "FAILED") {
        final = bulkOperation;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(final).toEqual({ status: "COMPLETED", processed: 10_000, succeeded: 10_000, failed: 0, total: 10_000 });
    second.child.kill("SIGTERM");
    await second.exited;

    // The database is the judge: every item applied once, none lost, none twice.
    const db = new Database(dbFile, { readonly: true });
    const one = (sql: string) => Object.values(db.prepare(sql).get() as Record<string, number>)[0];
    expect(one("SELECT count(*) FROM Prompt WHERE name LIKE 'durable/%'")).toBe(10_000);
    expect(one("SELECT count(DISTINCT name) FROM Prompt WHERE name LIKE 'durable/%'")).toBe(10_000);
    expect(one("SELECT count(*) FROM PromptVersion v JOIN Prompt p ON p.id = v.promptId WHERE p.name LIKE 'durable/%'")).toBe(10_000);
    expect(one(`SELECT count(*) FROM BulkOperationItem WHERE operationId = '${id}' AND status = 'SUCCEEDED' AND attempt = 1`)).toBe(10_000);
    db.close();
  }, 90_000);
});
