// GET /metrics: the Prometheus text format, with requests and latencies by operation,
// errors by code, the cache, the bulk queue, subscriptions and the process.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp } from "./helpers/app.js";

let t: TestApp;
let base: string;
beforeAll(async () => {
  t = await createTestApp();
  base = `http://127.0.0.1:${await t.app.listen()}`;
});
afterAll(() => t.close());

const post = (query: string, variables: Record<string, unknown> = {}) =>
  fetch(`${base}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) });

describe("/metrics", () => {
  it("counts operations by name and type, errors by code, and reports the server's gauges", async () => {
    await post(`mutation Make { createPrompt(input: { name: "metrics/a", content: "hi" }) { id } }`);
    for (let i = 0; i < 3; i++) await post(`query Find($name: String!) { prompt(name: $name) { id } }`, { name: "metrics/a" });
    await post(`query Missing { renderPrompt(input: { name: "metrics/none" }) { text } }`);
    await post(`query { __typename }`);
    await post(`query ${"x".repeat(100)} { __typename }`);
    await post(`{ nope }`);

    const response = await fetch(`${base}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    const sample = (name: string) => text.split("\n").find((line) => line.startsWith(name))?.split(" ").at(-1);
    expect(sample('prompt_store_graphql_requests_total{operation="Find",type="query"}')).toBe("3");
    expect(sample('prompt_store_graphql_requests_total{operation="Make",type="mutation"}')).toBe("1");
    expect(sample('prompt_store_graphql_requests_total{operation="anonymous",type="query"}')).toBe("1");
    expect(sample('prompt_store_graphql_requests_total{operation="other",type="query"}')).toBe("1");
    expect(sample('prompt_store_graphql_errors_total{code="NOT_FOUND"}')).toBe("1");
    expect(sample('prompt_store_graphql_errors_total{code="GRAPHQL_VALIDATION_FAILED"}')).toBe("1");
    expect(sample('prompt_store_graphql_request_duration_seconds_count{operation="Find",type="query"}')).toBe("3");
    expect(sample("prompt_store_bulk_queue_depth")).toBe("0");
    expect(text).toMatch(/^prompt_store_cache_hits_total \d+$/m);
    expect(text).toMatch(/^prompt_store_cache_misses_total \d+$/m);
    expect(text).toMatch(/^prompt_store_subscriptions_open \d+$/m);
    expect(text).toMatch(/^prompt_store_process_resident_memory_bytes \d+$/m);
    // Every line is a comment or a sample: the exposition format.
    for (const line of text.split("\n").filter(Boolean)) {
      expect(line).toMatch(/^(# (HELP|TYPE) \S+ .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? -?[0-9.e+-]+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? (NaN|\+Inf|-Inf))$/);
    }
  });
});
