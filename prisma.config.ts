// Prisma CLI configuration: the CLI talks to SQLite through the same driver adapter as
// the server, so no native engine is ever downloaded (see ../shared/STACK.md).
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { defineConfig } from "prisma/config";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";

// Same variable and default as src/config.ts; the CLI must migrate the file the server opens.
const dbFile = resolve(process.env.PROMPT_STORE_DB || "./data/prompt-store.db");

/**
 * Tables made by hand-written migrations that schema.prisma does not model: Prisma must neither
 * drop them nor report them as drift. The FTS5 table of search, its shadow tables and its
 * fts5vocab table (prisma/migrations/20261124010000_prompt_search), and the two bookkeeping tables
 * of deferred indexing, never committed with a row (20261202100000_prompt_search_deferred).
 */
const EXTERNAL_TABLES = [
  "PromptSearch",
  "PromptSearch_config",
  "PromptSearch_content",
  "PromptSearch_data",
  "PromptSearch_docsize",
  "PromptSearch_idx",
  "PromptSearchVocab",
  "PromptSearchDefer",
  "PromptSearchPending",
];

export default defineConfig({
  experimental: { adapter: true, externalTables: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  tables: { external: EXTERNAL_TABLES },
  async adapter() {
    mkdirSync(dirname(dbFile), { recursive: true });
    return withShadowScripts(new PrismaBetterSQLite3({ url: `file:${dbFile}` }));
  },
});

/**
 * Prisma 6.19's WASM schema engine replays a whole migration file on the shadow database
 * (`migrate diff --from-migrations`, `migrate dev`) as ONE argument-less executeRaw, which
 * better-sqlite3 refuses ("contains more than one statement"). Such calls are scripts: run
 * them with executeScript. Only the throw-away shadow database (in memory) is affected.
 */
function withShadowScripts(factory: PrismaBetterSQLite3): PrismaBetterSQLite3 {
  const connectToShadowDb = factory.connectToShadowDb.bind(factory);
  factory.connectToShadowDb = async () => {
    const adapter = await connectToShadowDb();
    const executeRaw = adapter.executeRaw.bind(adapter);
    adapter.executeRaw = async (query) => {
      if (query.args.length > 0) return executeRaw(query);
      await adapter.executeScript(query.sql);
      return 0;
    };
    return adapter;
  };
  return factory;
}
