import { fileURLToPath } from "node:url";

export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const TMP_ROOT = fileURLToPath(new URL("../../.tmp/tests/", import.meta.url));
export const TEMPLATE_DB = `${TMP_ROOT}template.db`;
