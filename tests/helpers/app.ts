import { copyFileSync, mkdtempSync } from "node:fs";
import { join } from "node:path";
import type { TypedDocumentNode } from "@graphql-typed-document-node/core";
import type { GraphQLFormattedError } from "graphql";
import { pino } from "pino";
import { createApp, type App } from "../../src/app.js";
import { BOOTSTRAP_ADMIN, LOCAL_ADMIN } from "../../src/auth/principal.js";
import type { AppConfig } from "../../src/config.js";
import { TEMPLATE_DB, TMP_ROOT } from "./paths.js";

export interface Result<TData> {
  data?: TData | null;
  errors?: readonly GraphQLFormattedError[];
}

export interface TestApp {
  app: App;
  dir: string;
  /** Runs an operation through Apollo (formatting and plugins included), as HTTP would. */
  execute<TData, TVars>(document: TypedDocumentNode<TData, TVars>, variables?: TVars): Promise<Result<TData>>;
  /** execute, failing the test on any error. */
  ok<TData, TVars>(document: TypedDocumentNode<TData, TVars>, variables?: TVars): Promise<TData>;
  close(): Promise<void>;
}

/** The defaults of the configuration, without rate limits (tests that want them say so). */
export const TEST_LIMITS: AppConfig["limits"] = { maxComplexity: 25_000, maxAliases: 30, maxRootFields: 10, maxBatchOperations: 10, wsInitTimeoutMs: 3_000 };

/** A fresh, migrated SQLite copy in its own temp dir, and an app on it. */
export function testConfig(overrides: Partial<AppConfig> = {}): { config: AppConfig; dir: string } {
  const dir = mkdtempSync(join(TMP_ROOT, "app-"));
  const dbFile = join(dir, "prompt-store.db");
  copyFileSync(TEMPLATE_DB, dbFile);
  return {
    dir,
    config: {
      env: "test",
      host: "127.0.0.1",
      port: 0,
      dbFile,
      logLevel: "silent",
      sqliteBusyTimeoutMs: 5_000,
      maxContentBytes: 256 * 1024,
      maxBodyBytes: 2 * 1024 * 1024,
      shutdownTimeoutMs: 5_000,
      turnBudgetMs: 10,
      maxQueryDepth: 15,
      bulk: { maxItems: 20_000, chunkSize: 500, chunkMs: 50 },
      refinement: { concurrency: 4 },
      usage: { maxBatch: 1_000, retentionDays: 30 },
      auth: { openLocalMode: true, protectedLabels: ["production"], anonymousIntrospection: false },
      limits: TEST_LIMITS,
      audit: { retentionDays: 365 },
      ...overrides,
    },
  };
}

let requests = 0;

export async function createTestApp(overrides: Partial<AppConfig> = {}): Promise<TestApp> {
  const { config, dir } = testConfig(overrides);
  const app = await createApp(config, { logger: pino({ level: "silent" }) });
  const execute = async <TData, TVars>(document: TypedDocumentNode<TData, TVars>, variables?: TVars) => {
    const response = await app.apollo.executeOperation<TData>(
      { query: document, variables: variables as Record<string, unknown> | undefined },
      // As the admin: tests of what each caller may do go over HTTP and WebSocket with keys.
      { contextValue: app.createContext(`test-${++requests}`, { viewer: app.config.auth.openLocalMode ? LOCAL_ADMIN : BOOTSTRAP_ADMIN }) },
    );
    if (response.body.kind !== "single") throw new Error("incremental delivery is not expected here");
    return response.body.singleResult as Result<TData>;
  };
  return {
    app,
    dir,
    execute,
    async ok(document, variables) {
      const result = await execute(document, variables);
      if (result.errors?.length) throw new Error(`unexpected GraphQL errors: ${JSON.stringify(result.errors)}`);
      return result.data!;
    },
    close: () => app.close(),
  };
}

/** The `extensions.code` values of a result's errors. */
export const codes = (result: Result<unknown>) => (result.errors ?? []).map((error) => error.extensions?.code);
