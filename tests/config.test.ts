import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";
import { REPO_ROOT } from "./helpers/paths.js";

describe("loadConfig", () => {
  it("falls back to the embedded defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ env: "development", host: "127.0.0.1", port: 5110, logLevel: "info", sqliteBusyTimeoutMs: 5000, turnBudgetMs: 10 });
    expect(config.dbFile).toBe(`${process.cwd()}/data/prompt-store.db`);
  });

  it("reads PROMPT_STORE_* variables", () => {
    const config = loadConfig({
      PROMPT_STORE_PORT: "8080",
      PROMPT_STORE_DB: "/var/lib/ps/x.db",
      PROMPT_STORE_LOG_LEVEL: "DEBUG",
      PROMPT_STORE_MAX_CONTENT_BYTES: "1000",
      PROMPT_STORE_ENV: "production",
      PROMPT_STORE_ADMIN_KEY: "an-admin-key-of-at-least-24-chars",
      PROMPT_STORE_TURN_BUDGET_MS: "0",
    });
    expect(config).toMatchObject({ port: 8080, dbFile: "/var/lib/ps/x.db", logLevel: "debug", maxContentBytes: 1000, env: "production", turnBudgetMs: 0 });
  });

  it.each([
    ["PROMPT_STORE_PORT", "abc", /PROMPT_STORE_PORT must be an integer from 0 to 65535 \(got "abc"\)/],
    ["PROMPT_STORE_PORT", "70000", /PROMPT_STORE_PORT must be an integer from 0 to 65535/],
    ["PROMPT_STORE_LOG_LEVEL", "loud", /PROMPT_STORE_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent \(got "loud"\)/],
    ["PROMPT_STORE_ENV", "staging", /PROMPT_STORE_ENV must be one of development, production, test/],
    ["PROMPT_STORE_MAX_BODY_BYTES", "12.5", /PROMPT_STORE_MAX_BODY_BYTES must be an integer/],
    ["PROMPT_STORE_TURN_BUDGET_MS", "-1", /PROMPT_STORE_TURN_BUDGET_MS must be an integer from 0 to 1000 \(got "-1"\)/],
  ])("rejects %s=%s naming the variable and the accepted values", (name, value, message) => {
    expect(() => loadConfig({ [name]: value })).toThrowError(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrowError(message);
  });

  it("configures an OpenAI-compatible LLM only with a URL and a model, and checks both", () => {
    expect(loadConfig({}).llm).toBeUndefined();
    expect(loadConfig({}).refinement).toEqual({ concurrency: 4 });
    const config = loadConfig({
      PROMPT_STORE_LLM_BASE_URL: "http://127.0.0.1:11434/v1",
      PROMPT_STORE_LLM_MODEL: "llama3.1",
      PROMPT_STORE_LLM_STREAM: "false",
      PROMPT_STORE_LLM_NAME: "ollama",
    });
    expect(config.llm).toEqual({ name: "ollama", baseUrl: "http://127.0.0.1:11434/v1", defaultModel: "llama3.1", timeoutMs: 300_000, idleTimeoutMs: 60_000, maxRetries: 3, stream: false });
    expect(() => loadConfig({ PROMPT_STORE_LLM_BASE_URL: "http://x/v1" })).toThrowError(/PROMPT_STORE_LLM_MODEL must name the default model/);
    expect(() => loadConfig({ PROMPT_STORE_LLM_BASE_URL: "ftp://user:secret@x/v1", PROMPT_STORE_LLM_MODEL: "m" })).toThrowError(
      /PROMPT_STORE_LLM_BASE_URL must be an http:\/\/ or https:\/\/ URL .*\(got "ftp:\/\/\*\*\*@x\/v1"\)/,
    );
    expect(() => loadConfig({ PROMPT_STORE_LLM_STREAM: "maybe" })).toThrowError(/PROMPT_STORE_LLM_STREAM must be true or false/);
    expect(() => loadConfig({ PROMPT_STORE_LLM_NAME: "builtin" })).toThrowError(/PROMPT_STORE_LLM_NAME must be/);
  });

  it("reports every bad variable at once", () => {
    try {
      loadConfig({ PROMPT_STORE_PORT: "x", PROMPT_STORE_LOG_LEVEL: "y" });
      expect.unreachable();
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(2);
    }
  });

  it("stops the server at start-up with the message and a non-zero exit", async () => {
    const run = promisify(execFile);
    const error = await run(process.execPath, ["--import", "@swc-node/register/esm-register", "src/main.ts"], {
      cwd: REPO_ROOT,
      env: { ...process.env, PROMPT_STORE_PORT: "not-a-port" },
    }).catch((e: { code: number; stderr: string }) => e);
    expect((error as { code: number }).code).toBe(78);
    expect((error as { stderr: string }).stderr).toMatch(/PROMPT_STORE_PORT must be an integer from 0 to 65535 \(got "not-a-port"\)/);
  });
});
