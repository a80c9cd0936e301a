import { existsSync } from "node:fs";

/**
 * The checkout's root, where package.json is: found by walking up from this module, so it is the
 * same whether the server runs from src/ (tests, npm run dev), from dist/ or from the bundle
 * dist/server.mjs, which all sit at different depths.
 */
function findRoot(): URL {
  let dir = new URL("./", import.meta.url);
  for (let depth = 0; depth < 8; depth++) {
    if (existsSync(new URL("package.json", dir))) return dir;
    dir = new URL("../", dir);
  }
  throw new Error(`no package.json above ${import.meta.url}`);
}

export const ROOT = findRoot();
