// Writes schema.graphql from the code (npm run schema); `--check` fails when the committed file is stale.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { printAppSchema } from "../src/resolvers/print-schema.js";

const file = new URL("../schema.graphql", import.meta.url);
const sdl = await printAppSchema();
if (process.argv.includes("--check")) {
  const current = existsSync(file) ? readFileSync(file, "utf8") : "";
  if (current !== sdl) {
    process.stderr.write("schema.graphql is out of date: run `npm run schema` and commit it.\n");
    process.exit(1);
  }
} else {
  writeFileSync(file, sdl);
  process.stdout.write(`wrote schema.graphql (${sdl.length} bytes)\n`);
}
