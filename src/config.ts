// The only module that reads process.env: everything else receives a parsed AppConfig,
// so tests build apps from plain objects.
import { resolve } from "node:path";
import { z } from "zod";

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;
const ENVIRONMENTS = ["development", "production", "test"] as const;

function integer(name: string, min: number, max: number, fallback: number) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === "") return fallback;
      const value = Number(raw);
      if (!/^-?\d+$/.test(raw.trim()) || value < min || value > max) {
        ctx.addIssue({
          code: "custom",
          message: `${name} must be an integer from ${min} to ${max} (got "${raw}")`,
        });
        return z.NEVER;
      }
      return value;
    });
}

function oneOf<const T extends readonly string[]>(name: string, values: T, fallback: T[number]) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): T[number] => {
      if (raw === undefined || raw.trim() === "") return fallback;
      const value = raw.trim().toLowerCase();
      if (!(values as readonly string[]).includes(value)) {
        ctx.addIssue({
          code: "custom",
          message: `${name} must be one of ${values.join(", ")} (got "${raw}")`,
        });
        return z.NEVER;
      }
      return value as T[number];
    });
}

function nonEmpty(name: string, fallback: string) {
  return z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw.trim() === "" ? fallback : raw.trim()));
}

/** A URL with its credentials hidden, for messages and logs. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^/]*@/, "//***@");
}

/** An optional URL whose parsed form `accept` approves; `expected` says what is wanted, for the message. */
function url(name: string, accept: (url: URL) => boolean, expected: string) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): string | undefined => {
      if (raw === undefined || raw.trim() === "") return undefined;
      const value = raw.trim();
      let parsed: URL | undefined;
      try {
        parsed = new URL(value);
      } catch {
        parsed = undefined;
      }
      if (!parsed || !accept(parsed)) {
        ctx.addIssue({ code: "custom", message: `${name} must be ${expected} (got "${redactUrl(value)}")` });
        return z.NEVER;
      }
      return value;
    });
}

// The path, when present, is the database number.
const redisUrl = (name: string) =>
  url(
    name,
    (u) => (u.protocol === "redis:" || u.protocol === "rediss:") && u.hostname !== "" && /^(\/\d*)?$/.test(u.pathname),
    "a redis:// or rediss:// URL such as redis://127.0.0.1:6379/0",
  );

const httpUrl = (name: string) =>
  url(name, (u) => u.protocol === "http:" || u.protocol === "https:", "an http:// or https:// URL such as http://127.0.0.1:11434/v1");

function pattern(name: string, regex: RegExp, description: string, fallback: string) {
  return z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (raw === undefined || raw.trim() === "") return fallback;
      if (!regex.test(raw.trim())) {
        ctx.addIssue({ code: "custom", message: `${name} must be ${description} (got "${raw}")` });
        return z.NEVER;
      }
      return raw.trim();
    });
}

function flag(name: string, fallback: boolean) {
  return z
    .string()
    .optional()
    .transform((raw, ctx): boolean => {
      if (raw === undefined || raw.trim() === "") return fallback;
      const value = raw.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(value)) return true;
      if (["0", "false", "no", "off"].includes(value)) return false;
      ctx.addIssue({ code: "custom", message: `${name} must be true or false (got "${raw}")` });
      return z.NEVER;
    });
}

const envSchema = z.object({
  PROMPT_STORE_ENV: oneOf("PROMPT_STORE_ENV", ENVIRONMENTS, "development"),
  PROMPT_STORE_HOST: nonEmpty("PROMPT_STORE_HOST", "127.0.0.1"),
  PROMPT_STORE_PORT: integer("PROMPT_STORE_PORT", 0, 65535, 5110),
  PROMPT_STORE_DB: nonEmpty("PROMPT_STORE_DB", "./data/prompt-store.db"),
  PROMPT_STORE_LOG_LEVEL: oneOf("PROMPT_STORE_LOG_LEVEL", LOG_LEVELS, "info"),
  PROMPT_STORE_SQLITE_BUSY_TIMEOUT_MS: integer("PROMPT_STORE_SQLITE_BUSY_TIMEOUT_MS", 0, 600_000, 5_000),
  PROMPT_STORE_MAX_CONTENT_BYTES: integer("PROMPT_STORE_MAX_CONTENT_BYTES", 1, 16 * 1024 * 1024, 256 * 1024),
  PROMPT_STORE_MAX_BODY_BYTES: integer("PROMPT_STORE_MAX_BODY_BYTES", 1024, 64 * 1024 * 1024, 2 * 1024 * 1024),
  PROMPT_STORE_SHUTDOWN_TIMEOUT_MS: integer("PROMPT_STORE_SHUTDOWN_TIMEOUT_MS", 0, 300_000, 10_000),
  PROMPT_STORE_TURN_BUDGET_MS: integer("PROMPT_STORE_TURN_BUDGET_MS", 0, 1_000, 10),
  PROMPT_STORE_MAX_QUERY_DEPTH: integer("PROMPT_STORE_MAX_QUERY_DEPTH", 1, 100, 15),
  PROMPT_STORE_BULK_MAX_ITEMS: integer("PROMPT_STORE_BULK_MAX_ITEMS", 1, 10_000_000, 100_000),
  PROMPT_STORE_BULK_CHUNK_SIZE: integer("PROMPT_STORE_BULK_CHUNK_SIZE", 1, 100_000, 500),
  PROMPT_STORE_BULK_CHUNK_MS: integer("PROMPT_STORE_BULK_CHUNK_MS", 1, 60_000, 50),
  REDIS_URL: redisUrl("REDIS_URL"),
  PROMPT_STORE_REDIS_PREFIX: pattern("PROMPT_STORE_REDIS_PREFIX", /^[A-Za-z0-9_.:-]{1,64}$/, "1-64 letters, digits or . _ : -", "prompt-store"),
  PROMPT_STORE_REDIS_RECONNECT_MAX_MS: integer("PROMPT_STORE_REDIS_RECONNECT_MAX_MS", 10, 60_000, 2_000),
  PROMPT_STORE_LLM_BASE_URL: httpUrl("PROMPT_STORE_LLM_BASE_URL"),
  PROMPT_STORE_LLM_API_KEY: z.string().optional().transform((raw) => (raw === undefined || raw.trim() === "" ? undefined : raw.trim())),
  PROMPT_STORE_LLM_MODEL: z.string().optional().transform((raw) => (raw === undefined || raw.trim() === "" ? undefined : raw.trim())),
  PROMPT_STORE_LLM_NAME: pattern("PROMPT_STORE_LLM_NAME", /^(?!builtin$)[a-z0-9][a-z0-9_-]{0,39}$/, "1-40 lowercase letters, digits, _ or - (not \"builtin\")", "llm"),
  PROMPT_STORE_LLM_TIMEOUT_MS: integer("PROMPT_STORE_LLM_TIMEOUT_MS", 1_000, 3_600_000, 300_000),
  PROMPT_STORE_LLM_IDLE_TIMEOUT_MS: integer("PROMPT_STORE_LLM_IDLE_TIMEOUT_MS", 1_000, 3_600_000, 60_000),
  PROMPT_STORE_LLM_MAX_RETRIES: integer("PROMPT_STORE_LLM_MAX_RETRIES", 0, 10, 3),
  PROMPT_STORE_LLM_STREAM: flag("PROMPT_STORE_LLM_STREAM", true),
  PROMPT_STORE_REFINEMENT_CONCURRENCY: integer("PROMPT_STORE_REFINEMENT_CONCURRENCY", 1, 64, 4),
  PROMPT_STORE_USAGE_MAX_BATCH: integer("PROMPT_STORE_USAGE_MAX_BATCH", 1, 100_000, 1_000),
  PROMPT_STORE_USAGE_RETENTION_DAYS: integer("PROMPT_STORE_USAGE_RETENTION_DAYS", 1, 3_650, 30),
  PROMPT_STORE_ADMIN_KEY: z
    .string()
    .optional()
    .transform((raw, ctx): string | undefined => {
      if (raw === undefined || raw === "") return undefined;
      if (!/^[\x21-\x7e]{24,256}$/.test(raw)) {
        ctx.addIssue({ code: "custom", message: "PROMPT_STORE_ADMIN_KEY must be 24 to 256 printable characters without spaces (e.g. `openssl rand -base64 32`)" });
        return z.NEVER;
      }
      return raw;
    }),
  PROMPT_STORE_PROTECTED_LABELS: z
    .string()
    .optional()
    .transform((raw, ctx): string[] => {
      if (raw === undefined || raw.trim() === "") return ["production"];
      if (raw.trim().toLowerCase() === "none") return [];
      const labels = raw.split(",").map((label) => label.trim()).filter((label) => label.length > 0);
      // An empty list by typo (",") would silently leave production unprotected: "none" says it on purpose.
      if (labels.length === 0) {
        ctx.addIssue({ code: "custom", message: `PROMPT_STORE_PROTECTED_LABELS names no label (got "${raw}"); say "none" to protect none` });
        return z.NEVER;
      }
      const bad = labels.filter((label) => !/^[a-z0-9_-]{1,50}$/.test(label) || label === "latest");
      if (bad.length > 0) {
        ctx.addIssue({ code: "custom", message: `PROMPT_STORE_PROTECTED_LABELS must be a comma-separated list of labels (a-z, 0-9, _ and -), or "none" (got "${raw}")` });
        return z.NEVER;
      }
      return [...new Set(labels)];
    }),
  PROMPT_STORE_ANONYMOUS_INTROSPECTION: flag("PROMPT_STORE_ANONYMOUS_INTROSPECTION", false),
  PROMPT_STORE_MAX_QUERY_COMPLEXITY: integer("PROMPT_STORE_MAX_QUERY_COMPLEXITY", 1, 100_000_000, 25_000),
  PROMPT_STORE_MAX_ALIASES: integer("PROMPT_STORE_MAX_ALIASES", 0, 10_000, 30),
  PROMPT_STORE_MAX_ROOT_FIELDS: integer("PROMPT_STORE_MAX_ROOT_FIELDS", 1, 1_000, 10),
  PROMPT_STORE_MAX_BATCH_OPERATIONS: integer("PROMPT_STORE_MAX_BATCH_OPERATIONS", 1, 1_000, 10),
  PROMPT_STORE_RATE_LIMIT_PER_SECOND: integer("PROMPT_STORE_RATE_LIMIT_PER_SECOND", 0, 1_000_000, 200),
  PROMPT_STORE_RATE_LIMIT_BURST: integer("PROMPT_STORE_RATE_LIMIT_BURST", 1, 1_000_000, 400),
  PROMPT_STORE_ANONYMOUS_RATE_LIMIT_PER_SECOND: integer("PROMPT_STORE_ANONYMOUS_RATE_LIMIT_PER_SECOND", 0, 1_000_000, 10),
  PROMPT_STORE_ANONYMOUS_RATE_LIMIT_BURST: integer("PROMPT_STORE_ANONYMOUS_RATE_LIMIT_BURST", 1, 1_000_000, 20),
  PROMPT_STORE_WS_INIT_TIMEOUT_MS: integer("PROMPT_STORE_WS_INIT_TIMEOUT_MS", 100, 120_000, 3_000),
  PROMPT_STORE_AUDIT_RETENTION_DAYS: integer("PROMPT_STORE_AUDIT_RETENTION_DAYS", 1, 36_500, 365),
});

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

export type LogLevel = (typeof LOG_LEVELS)[number];
export type Environment = (typeof ENVIRONMENTS)[number];

export interface AppConfig {
  env: Environment;
  host: string;
  port: number;
  /** Absolute path of the SQLite file. */
  dbFile: string;
  logLevel: LogLevel;
  sqliteBusyTimeoutMs: number;
  /** Largest prompt content (text, or the JSON of chat messages) in UTF-8 bytes. */
  maxContentBytes: number;
  /** Largest HTTP request body accepted on /graphql. */
  maxBodyBytes: number;
  /** How long graceful shutdown waits for in-flight requests before closing anyway. */
  shutdownTimeoutMs: number;
  /**
   * Most time one turn of the event loop spends executing GraphQL requests over HTTP; the rest
   * of a burst waits for later turns, in order (0: no limit). See http/turn-budget.ts.
   */
  turnBudgetMs: number;
  /** Deepest nesting of an operation, over HTTP and WebSocket alike. */
  maxQueryDepth: number;
  bulk: {
    /** Most items one bulk operation may have. */
    maxItems: number;
    /** Most items per chunk transaction. */
    chunkSize: number;
    /** A chunk also ends after this long, bounding how long other statements wait. */
    chunkMs: number;
  };
  /** Set when REDIS_URL is: live events cross instances through it (the cache is meant to use it too). */
  redis?: RedisConfig;
  /** An OpenAI-compatible LLM for refinement; without it the builtin rule-based refiner is the default. */
  llm?: LlmConfig;
  usage: {
    /** Most events in one recordUsage call. */
    maxBatch: number;
    /** Raw usage events older than this are deleted; the rollups stay. */
    retentionDays: number;
  };
  auth: AuthConfig;
  limits: LimitsConfig;
  audit: {
    /** Audit entries older than this are deleted. */
    retentionDays: number;
  };
  refinement: {
    /** Refinement sessions running at once per instance; more wait QUEUED. */
    concurrency: number;
    /** How often a running session says it is alive (default 5 s; tests shorten it). */
    heartbeatMs?: number;
    /** How long a progress stream waits for a live event before it checks the database (default 5 s). */
    streamPollMs?: number;
  };
}

export interface AuthConfig {
  /** PROMPT_STORE_ADMIN_KEY: the first admin, before any key exists. */
  adminKey?: string;
  /**
   * No admin key outside production: every caller is an admin, and the server only listens
   * on 127.0.0.1. Said at start-up and in /health.
   */
  openLocalMode: boolean;
  /** Labels only ADMIN (or an A/B test's auto-promotion) may move. */
  protectedLabels: string[];
  /** Whether callers without a key may introspect the schema (keys always may). */
  anonymousIntrospection: boolean;
}

export interface RateLimitConfig {
  perSecond: number;
  burst: number;
}

export interface LimitsConfig {
  /** Cost of one operation (type-graphql complexity; lists count `first` times their fields). */
  maxComplexity: number;
  maxAliases: number;
  maxRootFields: number;
  /** Operations in one batched HTTP request (a JSON array). */
  maxBatchOperations: number;
  /** Per API key (undefined: off). */
  rateLimit?: RateLimitConfig;
  /** Per client address, for callers without a key (undefined: off). */
  anonymousRateLimit?: RateLimitConfig;
  /** How long a WebSocket may wait before connection_init (then 4408). */
  wsInitTimeoutMs: number;
}

export interface LlmConfig {
  /** The provider's name in the API (`startRefinement(provider: ...)`). */
  name: string;
  /** Up to and including the API version, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1. */
  baseUrl: string;
  apiKey?: string;
  defaultModel: string;
  /** Bounds one attempt as a whole (a long streamed answer included). */
  timeoutMs: number;
  /** Bounds the silence between received bytes of a reply. */
  idleTimeoutMs: number;
  maxRetries: number;
  stream: boolean;
}

export interface RedisConfig {
  url: string;
  /** Namespace of this deployment's channels and keys (pub/sub channels ignore the database number). */
  prefix: string;
  /** Longest wait between reconnection attempts while Redis is unreachable. */
  reconnectMaxMs: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "ConfigError";
  }
}

/** Parses environment variables into a validated config; throws ConfigError naming each bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => issue.message));
  }
  const e = parsed.data;
  if (e.PROMPT_STORE_LLM_BASE_URL && !e.PROMPT_STORE_LLM_MODEL) {
    throw new ConfigError(["PROMPT_STORE_LLM_MODEL must name the default model when PROMPT_STORE_LLM_BASE_URL is set"]);
  }
  if (!e.PROMPT_STORE_ADMIN_KEY && e.PROMPT_STORE_ENV === "production") {
    throw new ConfigError(["PROMPT_STORE_ADMIN_KEY is required when PROMPT_STORE_ENV=production: without it nobody could be an admin, and open local mode is for development only"]);
  }
  if (!e.PROMPT_STORE_ADMIN_KEY && !LOOPBACK.has(e.PROMPT_STORE_HOST)) {
    throw new ConfigError([
      `PROMPT_STORE_HOST=${e.PROMPT_STORE_HOST} needs PROMPT_STORE_ADMIN_KEY: without a key the server runs in open local mode (everyone is an admin) and listens on 127.0.0.1 only`,
    ]);
  }
  const rate = (perSecond: number, burst: number) => (perSecond > 0 ? { perSecond, burst: Math.max(burst, 1) } : undefined);
  // A batch takes one request per operation at once: a burst below the batch size would let it through for less.
  for (const [name, perSecond, burst] of [
    ["PROMPT_STORE_RATE_LIMIT_BURST", e.PROMPT_STORE_RATE_LIMIT_PER_SECOND, e.PROMPT_STORE_RATE_LIMIT_BURST],
    ["PROMPT_STORE_ANONYMOUS_RATE_LIMIT_BURST", e.PROMPT_STORE_ANONYMOUS_RATE_LIMIT_PER_SECOND, e.PROMPT_STORE_ANONYMOUS_RATE_LIMIT_BURST],
  ] as const) {
    if (perSecond > 0 && burst < e.PROMPT_STORE_MAX_BATCH_OPERATIONS) {
      throw new ConfigError([`${name} (${burst}) must be at least PROMPT_STORE_MAX_BATCH_OPERATIONS (${e.PROMPT_STORE_MAX_BATCH_OPERATIONS})`]);
    }
  }
  return {
    env: e.PROMPT_STORE_ENV,
    host: e.PROMPT_STORE_HOST,
    port: e.PROMPT_STORE_PORT,
    dbFile: resolve(e.PROMPT_STORE_DB),
    logLevel: e.PROMPT_STORE_LOG_LEVEL,
    sqliteBusyTimeoutMs: e.PROMPT_STORE_SQLITE_BUSY_TIMEOUT_MS,
    maxContentBytes: e.PROMPT_STORE_MAX_CONTENT_BYTES,
    maxBodyBytes: e.PROMPT_STORE_MAX_BODY_BYTES,
    shutdownTimeoutMs: e.PROMPT_STORE_SHUTDOWN_TIMEOUT_MS,
    turnBudgetMs: e.PROMPT_STORE_TURN_BUDGET_MS,
    maxQueryDepth: e.PROMPT_STORE_MAX_QUERY_DEPTH,
    bulk: { maxItems: e.PROMPT_STORE_BULK_MAX_ITEMS, chunkSize: e.PROMPT_STORE_BULK_CHUNK_SIZE, chunkMs: e.PROMPT_STORE_BULK_CHUNK_MS },
    ...(e.REDIS_URL && {
      redis: { url: e.REDIS_URL, prefix: e.PROMPT_STORE_REDIS_PREFIX, reconnectMaxMs: e.PROMPT_STORE_REDIS_RECONNECT_MAX_MS },
    }),
    ...(e.PROMPT_STORE_LLM_BASE_URL && {
      llm: {
        name: e.PROMPT_STORE_LLM_NAME,
        baseUrl: e.PROMPT_STORE_LLM_BASE_URL,
        ...(e.PROMPT_STORE_LLM_API_KEY && { apiKey: e.PROMPT_STORE_LLM_API_KEY }),
        defaultModel: e.PROMPT_STORE_LLM_MODEL!,
        timeoutMs: e.PROMPT_STORE_LLM_TIMEOUT_MS,
        idleTimeoutMs: e.PROMPT_STORE_LLM_IDLE_TIMEOUT_MS,
        maxRetries: e.PROMPT_STORE_LLM_MAX_RETRIES,
        stream: e.PROMPT_STORE_LLM_STREAM,
      },
    }),
    auth: {
      ...(e.PROMPT_STORE_ADMIN_KEY && { adminKey: e.PROMPT_STORE_ADMIN_KEY }),
      openLocalMode: !e.PROMPT_STORE_ADMIN_KEY,
      protectedLabels: e.PROMPT_STORE_PROTECTED_LABELS,
      anonymousIntrospection: e.PROMPT_STORE_ANONYMOUS_INTROSPECTION,
    },
    limits: {
      maxComplexity: e.PROMPT_STORE_MAX_QUERY_COMPLEXITY,
      maxAliases: e.PROMPT_STORE_MAX_ALIASES,
      maxRootFields: e.PROMPT_STORE_MAX_ROOT_FIELDS,
      maxBatchOperations: e.PROMPT_STORE_MAX_BATCH_OPERATIONS,
      ...(rate(e.PROMPT_STORE_RATE_LIMIT_PER_SECOND, e.PROMPT_STORE_RATE_LIMIT_BURST) && {
        rateLimit: rate(e.PROMPT_STORE_RATE_LIMIT_PER_SECOND, e.PROMPT_STORE_RATE_LIMIT_BURST),
      }),
      ...(rate(e.PROMPT_STORE_ANONYMOUS_RATE_LIMIT_PER_SECOND, e.PROMPT_STORE_ANONYMOUS_RATE_LIMIT_BURST) && {
        anonymousRateLimit: rate(e.PROMPT_STORE_ANONYMOUS_RATE_LIMIT_PER_SECOND, e.PROMPT_STORE_ANONYMOUS_RATE_LIMIT_BURST),
      }),
      wsInitTimeoutMs: e.PROMPT_STORE_WS_INIT_TIMEOUT_MS,
    },
    audit: { retentionDays: e.PROMPT_STORE_AUDIT_RETENTION_DAYS },
    refinement: { concurrency: e.PROMPT_STORE_REFINEMENT_CONCURRENCY },
    usage: { maxBatch: e.PROMPT_STORE_USAGE_MAX_BATCH, retentionDays: e.PROMPT_STORE_USAGE_RETENTION_DAYS },
  };
}
