// Builds the GraphiQL bundle when it is missing or older than its sources, so `npm start`
// and `npm test` stay fast after the first run. `--force` always rebuilds.
import { existsSync, readFileSync, statSync, readdirSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { build } from "vite";

const root = new URL("../", import.meta.url);
const sources = readdirSync(new URL("graphiql/", root)).map((f) => new URL(`graphiql/${f}`, root));
const lock = new URL("package-lock.json", root);
const hash = createHash("sha256");
for (const file of [...sources, lock].filter((f) => existsSync(f))) hash.update(readFileSync(file));
const digest = hash.digest("hex");
const stamp = new URL("dist/graphiql/.build-stamp", root);

if (!process.argv.includes("--force") && existsSync(stamp) && readFileSync(stamp, "utf8") === digest) {
  process.stdout.write("graphiql: bundle is up to date\n");
} else {
  const started = Date.now();
  await build({ configFile: new URL("graphiql/vite.config.mjs", root).pathname });
  writeFileSync(stamp, digest);
  process.stdout.write(`graphiql: built dist/graphiql in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
}
