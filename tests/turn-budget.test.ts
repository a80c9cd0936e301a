// The turn budget of GraphQL requests over HTTP: a burst that arrives in one turn of the event
// loop no longer runs whole in that turn, timers get their turn in between, and the requests
// still start in the order they arrived.
import { describe, expect, it } from "vitest";
import { TurnBudget } from "../src/http/turn-budget.js";
import { connect, type Socket } from "node:net";
import { createTestApp } from "./helpers/app.js";

/** Holds the thread for `ms`, as a request's synchronous work does. */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

/**
 * `count` requests of `costMs` each arrive in one macrotask (as the ready sockets of one poll
 * do); a timer due at once is set just before. Returns the order in which requests finished and
 * the timer fired.
 */
async function burst(budget: TurnBudget, count: number, costMs: number): Promise<string[]> {
  const order: string[] = [];
  const timer = new Promise<void>((resolve) =>
    setTimeout(() => {
      order.push("timer");
      resolve();
    }, 0),
  );
  busy(2); // the timer is due before the burst starts
  const requests = Array.from({ length: count }, async (_, i) => {
    const wait = budget.enter();
    if (wait) await wait;
    busy(costMs);
    order.push(`r${i}`);
  });
  await Promise.all([...requests, timer]);
  return order;
}

describe("TurnBudget", () => {
  it("off (0 ms): the whole burst runs before the timer, as without it", async () => {
    const budget = new TurnBudget(0);
    const order = await burst(budget, 12, 3);
    expect(order).toEqual([...Array.from({ length: 12 }, (_, i) => `r${i}`), "timer"]);
  });

  it("on: the timer fires before the burst is through, and the requests keep their order", async () => {
    const budget = new TurnBudget(10);
    const order = await burst(budget, 12, 3);
    const requests = order.filter((entry) => entry !== "timer");
    expect(requests).toEqual(Array.from({ length: 12 }, (_, i) => `r${i}`));
    // 36 ms of requests against a 10 ms slice: a later turn runs the timer before the last ones.
    expect(order.indexOf("timer")).toBeGreaterThan(0);
    expect(order.indexOf("timer")).toBeLessThan(order.length - 1);
    expect(budget.deferred).toBe(0);
  });

  it("a request that arrives alone in a quiet loop goes ahead at once", () => {
    const budget = new TurnBudget(10);
    expect(budget.enter()).toBeUndefined();
    expect(budget.deferred).toBe(0);
  });
});

/** One HTTP/1.1 exchange on an open socket: the raw request out, status and JSON body back. */
function exchange(socket: Socket, request: string): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buffer.subarray(0, end).toString();
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
      if (buffer.length < end + 4 + length) return;
      socket.off("data", onData);
      resolve({ status: Number(head.split(" ")[1]), body: JSON.parse(buffer.subarray(end + 4, end + 4 + length).toString()) });
    };
    socket.on("data", onData).once("error", reject);
    socket.write(request);
  });
}

describe("a burst over HTTP", () => {
  it("with a 1 ms budget, every request of a burst of 60 is answered, each with its own prompt, and /metrics counts the deferred", async () => {
    const t = await createTestApp({ turnBudgetMs: 1 });
    try {
      const base = `http://127.0.0.1:${await t.app.listen()}`;
      const post = (query: string, variables: Record<string, unknown>) =>
        fetch(`${base}/graphql`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) }).then(
          async (res) => ({ status: res.status, body: (await res.json()) as { data?: Record<string, any>; errors?: unknown[] } }),
        );
      const names = Array.from({ length: 8 }, (_, i) => `burst/p${i}`);
      for (const name of names) {
        const made = await post(`mutation($name: String!) { createPrompt(input: { name: $name, content: "Hello {{who}} from {{where}}" }) { id } }`, { name });
        expect(made.body.errors).toBeUndefined();
      }
      const query = `query($name: String!, $vars: JSONObject) { renderPrompt(input: { name: $name, variables: $vars }) { text } }`;
      // Open sockets first, then all requests written in one go: they are readable in the same
      // poll of the event loop, as a burst from many clients is.
      const port = Number(new URL(base).port);
      const sockets = await Promise.all(
        Array.from({ length: 60 }, () => new Promise<Socket>((resolve, reject) => { const socket = connect(port, "127.0.0.1", () => resolve(socket)).once("error", reject); })),
      );
      // The server accepts them in turns of its own; the burst starts once it has.
      await new Promise((resolve) => setTimeout(resolve, 100));
      try {
        const answers = await Promise.all(
          sockets.map((socket, i) => {
            const body = JSON.stringify({ query, variables: { name: names[i % names.length], vars: { who: `caller ${i}`, where: names[i % names.length] } } });
            return exchange(socket, `POST /graphql HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
          }),
        );
        answers.forEach((answer, i) => {
          expect(answer.status).toBe(200);
          expect(answer.body.errors).toBeUndefined();
          expect(answer.body.data?.renderPrompt.text).toBe(`Hello caller ${i} from ${names[i % names.length]}`);
        });
      } finally {
        for (const socket of sockets) socket.destroy();
      }
      const metrics = await fetch(`${base}/metrics`).then((res) => res.text());
      const deferred = Number(/^prompt_store_http_requests_deferred_total (\d+)$/m.exec(metrics)?.[1]);
      expect(deferred).toBeGreaterThan(0);
    } finally {
      await t.close();
    }
  });
});
