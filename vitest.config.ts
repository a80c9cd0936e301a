import { fileURLToPath } from "node:url";
import swc from "unplugin-swc";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // swc, not esbuild: type-graphql needs emitted decorator metadata.
  plugins: [swc.vite({ module: { type: "es6" } })],
  resolve: {
    // graphql 16 has no "exports" map: Node loads its CommonJS entry for every importer,
    // while Vite would pick the "module" entry for our sources, giving two graphql realms
    // (graphql-ws then rejects our schema). Point Vite at the entry Node uses.
    alias: [{ find: /^graphql$/, replacement: fileURLToPath(new URL("node_modules/graphql/index.js", import.meta.url)) }],
  },
  test: {
    include: ["tests/**/*.test.ts"],
    globalSetup: ["tests/helpers/global-setup.ts"],
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores: more workers only contend for them.
    maxWorkers: 2,
  },
});
