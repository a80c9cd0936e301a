// Bundles the compiled server (dist/main.js, from tsc, which writes the decorator metadata that
// type-graphql needs) into one module, dist/server.mjs, which `npm start` runs: a cold start then
// loads one file instead of several hundred modules (about 0.8 s less on this machine; see
// `npm run bench -- startup`). Left as packages: native and wasm code (better-sqlite3, Prisma),
// pino (its transports load files by path), and graphql, which graphql-query-complexity
// (loaded with require) must share: two copies of graphql cannot use each other's schema.
import { build } from "esbuild";

const started = Date.now();
await build({
  entryPoints: [new URL("../dist/main.js", import.meta.url).pathname],
  outfile: new URL("../dist/server.mjs", import.meta.url).pathname,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  logLevel: "warning",
  // Not keepNames: it wraps every named function in __name(), which redefines its `name`, and
  // that ran for every closure made per request (readBody's listeners, each request's data
  // loaders, negotiator's sorters): 6% of the server's busy time in S1's profile. The bundler
  // does rename classes (a decorated `class Prompt` becomes `class Prompt2`), so every
  // GraphQL type gives its name in its decorator; tests/bundle.test.ts compares the schemas.
  keepNames: false,
  // @apollo/utils.createhash uses node:crypto only when `module.require` exists, which a
  // bundled CommonJS module lacks: bundled, Apollo would hash every operation with sha.js in JS.
  external: ["better-sqlite3", "@prisma/*", "pino", "pino-*", "thread-stream", "graphql", "graphql/*", "graphql-query-complexity", "protobufjs/*", "class-validator", "@apollo/utils.createhash"],
  // Bundled CommonJS packages call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
});
process.stdout.write(`bundle: dist/server.mjs in ${((Date.now() - started) / 1000).toFixed(1)}s\n`);
