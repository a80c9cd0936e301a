import type { ApolloServerPlugin } from "@apollo/server";
import type { IncomingMessage, ServerResponse } from "node:http";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * How often Node's event-loop monitor samples (ms). Each sample is the time between two timer
 * callbacks, so the `eventloop_lag_*` gauges include this interval: an idle server reports a
 * minimum and mean of about 10 ms. The delay proper is a reading minus this.
 */
export const EVENT_LOOP_RESOLUTION_MS = 10;

/** What the other parts of the server report, read when /metrics is scraped. */
export interface MetricSources {
  cache(): { hits: number; misses: number; entries?: number };
  bulkQueueDepth(): Promise<number>;
  subscriptions(): number;
  exposuresPending(): number;
  /** SQL statements run since start (Prisma's and the prepared ones). */
  statements(): number;
  /** GraphQL requests over HTTP that waited for a later turn of the event loop since start. */
  deferredRequests(): number;
}

const OPERATION = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Distinct operation names kept as labels; beyond that they count as "other" (clients choose names). */
const MAX_OPERATIONS = 200;

/**
 * The Prometheus metrics of one server (its own registry, so several apps in one process do
 * not mix): GraphQL requests and latencies by operation, errors by code, the cache, the bulk
 * queue, open subscriptions, buffered exposures, and Node's process metrics.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"operation" | "type">;
  private readonly duration: Histogram<"operation" | "type">;
  private readonly errors: Counter<"code">;
  private readonly operations = new Set<string>();

  constructor(sources: MetricSources) {
    collectDefaultMetrics({ register: this.registry, prefix: "prompt_store_", eventLoopMonitoringPrecision: EVENT_LOOP_RESOLUTION_MS });
    this.requests = new Counter({ name: "prompt_store_graphql_requests_total", help: "GraphQL operations executed, by operation name and type.", labelNames: ["operation", "type"], registers: [this.registry] });
    this.duration = new Histogram({
      name: "prompt_store_graphql_request_duration_seconds",
      help: "Time from parsing a GraphQL operation to sending its response.",
      labelNames: ["operation", "type"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.errors = new Counter({ name: "prompt_store_graphql_errors_total", help: "GraphQL errors sent, by extensions.code.", labelNames: ["code"], registers: [this.registry] });
    // Totals kept elsewhere since start, read at each scrape.
    const total = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    total("prompt_store_db_statements_total", "SQL statements run since start (a scrape's own queries included).", () => sources.statements());
    total("prompt_store_cache_hits_total", "Serving cache hits since start.", () => sources.cache().hits);
    total("prompt_store_cache_misses_total", "Serving cache misses since start.", () => sources.cache().misses);
    total(
      "prompt_store_http_requests_deferred_total",
      "GraphQL requests over HTTP that waited for a later turn of the event loop (PROMPT_STORE_TURN_BUDGET_MS) since start.",
      () => sources.deferredRequests(),
    );
    new Gauge({
      name: "prompt_store_bulk_queue_depth",
      help: "Bulk operations queued or running.",
      registers: [this.registry],
      async collect() {
        this.set(await sources.bulkQueueDepth());
      },
    });
    new Gauge({
      name: "prompt_store_subscriptions_open",
      help: "Live subscriptions open on this instance.",
      registers: [this.registry],
      collect() {
        this.set(sources.subscriptions());
      },
    });
    new Gauge({
      name: "prompt_store_ab_exposures_pending",
      help: "A/B exposures counted in memory, not written yet.",
      registers: [this.registry],
      collect() {
        this.set(sources.exposuresPending());
      },
    });
  }

  /** Apollo plugin: counts and times every operation, and counts errors by code. */
  plugin(): ApolloServerPlugin {
    return {
      requestDidStart: async () => {
        const started = process.hrtime.bigint();
        return {
          willSendResponse: async ({ response, operationName, operation }) => {
            const labels = { operation: this.operationLabel(operationName), type: operation?.operation ?? "unknown" };
            this.requests.inc(labels);
            this.duration.observe(labels, Number(process.hrtime.bigint() - started) / 1e9);
            if (response.body.kind !== "single") return;
            for (const error of response.body.singleResult.errors ?? []) {
              const code = error.extensions?.code;
              this.errors.inc({ code: typeof code === "string" && /^[A-Z_]{1,64}$/.test(code) ? code : "OTHER" });
            }
          },
        };
      },
    };
  }

  /** A request refused before GraphQL ran (bad key, batch too large, rate limit): counted with the errors. */
  rejected(code: string): void {
    this.errors.inc({ code });
  }

  /** GET /metrics in the Prometheus text format. */
  handler() {
    return async (_req: IncomingMessage, res: ServerResponse) => {
      const body = await this.registry.metrics();
      res.writeHead(200, { "content-type": this.registry.contentType });
      res.end(body);
    };
  }

  private operationLabel(name: string | null | undefined): string {
    if (!name) return "anonymous";
    if (!OPERATION.test(name)) return "other";
    if (this.operations.has(name)) return name;
    if (this.operations.size >= MAX_OPERATIONS) return "other";
    this.operations.add(name);
    return name;
  }
}
