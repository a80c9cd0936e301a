// Prisma CLI configuration: the CLI talks to SQLite through the same driver adapter as
// the server, so no native engine is ever downloaded (see ../shared/STACK.md).
import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { defineConfig } from "prisma/config";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";

// Same variable and default as src/config.ts; the CLI must migrate the file the server opens.
const dbFile = resolve(process.env.PROMPT_STORE_DB || "./data/prompt-store.db");

export default defineConfig({
  experimental: { adapter: true },
  engine: "js",
  schema: "prisma/schema.prisma",
  migrations: { path: "prisma/migrations" },
  async adapter() {
    mkdirSync(dirname(dbFile), { recursive: true });
    return new PrismaBetterSQLite3({ url: `file:${dbFile}` });
  },
});
