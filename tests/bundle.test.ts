import { execFileSync } from "node:child_process";
import { copyFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import { getIntrospectionQuery, introspectionFromSchema, lexicographicSortSchema, buildClientSchema, printSchema, type IntrospectionQuery } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getSchema } from "../src/resolvers/schema.js";
import { REPO_ROOT, TEMPLATE_DB, TMP_ROOT } from "./helpers/paths.js";
import { startServerProcess, type ServerProcess } from "./helpers/server-process.js";

// `npm start` runs dist/server.mjs, one module bundled from tsc's output (scripts/bundle.mjs).
// Bundling must change nothing a client sees: the same schema, and the parts that find files by
// path (migrations, the bulk worker thread, GraphiQL) still find them.
let server: ServerProcess | undefined;

beforeAll(() => {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: REPO_ROOT, stdio: "pipe" });
  execFileSync(process.execPath, ["scripts/bundle.mjs"], { cwd: REPO_ROOT, stdio: "pipe" });
}, 120_000);

afterAll(() => {
  if (server && server.child.exitCode === null) server.child.kill("SIGKILL");
});

async function post(query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`http://127.0.0.1:${server!.port}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as { data?: Record<string, any>; errors?: unknown[] };
  expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
  return body.data!;
}

describe("the bundled server (npm start)", () => {
  it("serves the same schema, migrations, bulk jobs through its worker, and GraphiQL", async () => {
    const dir = mkdtempSync(join(TMP_ROOT, "bundle-"));
    const dbFile = join(dir, "prompt-store.db");
    copyFileSync(TEMPLATE_DB, dbFile);
    server = await startServerProcess({ PROMPT_STORE_DB: dbFile }, 30_000, true);

    const introspection = (await post(getIntrospectionQuery({ specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true }))) as unknown as IntrospectionQuery;
    const fromBundle = printSchema(lexicographicSortSchema(buildClientSchema(introspection)));
    const fromSource = printSchema(lexicographicSortSchema(buildClientSchema(introspectionFromSchema(await getSchema(), { specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true }))));
    expect(fromBundle).toBe(fromSource);

    expect((await fetch(`http://127.0.0.1:${server.port}/ready`)).status).toBe(200);
    await post(`mutation { createPrompt(input: { name: "bundle/a", content: "Hi {{who}}" }) { id } }`);
    await post(`mutation { setPromptLabel(input: { prompt: { name: "bundle/a" }, label: "production", version: 1 }) { name } }`);
    expect(await post(`{ resolvePrompt(name: "bundle/a", variables: { who: "Ann" }) { text } }`)).toEqual({ resolvePrompt: { text: "Hi Ann" } });

    const items = Array.from({ length: 50 }, (_, i) => ({ name: `bundle/b${i}`, content: `item ${i}` }));
    const { startBulkOperation } = await post(`mutation($input: StartBulkOperationInput!) { startBulkOperation(input: $input) { id } }`, { input: { kind: "CREATE_PROMPTS", items } });
    let status: { status: string; succeeded: number };
    do {
      await new Promise((resolve) => setTimeout(resolve, 50));
      status = (await post(`query($id: ID!) { bulkOperation(id: $id) { status succeeded } }`, { id: startBulkOperation.id })).bulkOperation;
    } while (status.status === "QUEUED" || status.status === "RUNNING");
    expect(status).toEqual({ status: "COMPLETED", succeeded: 50 });

    const graphiql = await fetch(`http://127.0.0.1:${server.port}/graphiql`);
    expect(graphiql.status).toBe(200);
    expect(await graphiql.text()).toContain("<script");

    server.child.kill("SIGTERM");
    expect(await server.exited).toEqual({ code: 0, signal: null });
  }, 60_000);
});
