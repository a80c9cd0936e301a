import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
// A second vitest run (a helper's, next to the main suite) sets its own root: the global setup wipes it.
export const TMP_ROOT = process.env.PROMPT_STORE_TEST_TMP
  ? `${process.env.PROMPT_STORE_TEST_TMP.replace(/\/$/, "")}/`
  : fileURLToPath(new URL("../../.tmp/tests/", import.meta.url));
export const TEMPLATE_DB = `${TMP_ROOT}template.db`;
