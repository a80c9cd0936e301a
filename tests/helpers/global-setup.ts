// Migrates one template database per test run with the real `prisma migrate deploy`;
// each test file copies it, so every test gets a real, fully migrated SQLite file fast.
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { TEMPLATE_DB, TMP_ROOT } from "./paths.js";

export default function setup() {
  rmSync(TMP_ROOT, { recursive: true, force: true });
  mkdirSync(TMP_ROOT, { recursive: true });
  execFileSync("npx", ["prisma", "migrate", "deploy"], {
    env: { ...process.env, PROMPT_STORE_DB: TEMPLATE_DB },
    stdio: "pipe",
  });
}
