import { existsSync } from "node:fs";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreatePromptDocument } from "./generated/operations.js";
import { createTestApp, type TestApp } from "./helpers/app.js";
import { requireService } from "./helpers/services.js";

const CHROMIUM = "/usr/bin/chromium";
const hasChromium = existsSync(CHROMIUM);
requireService("Debian's chromium (apt-get install chromium)", hasChromium);

let t: TestApp;
let base: string;
let browser: Browser;

beforeAll(async () => {
  if (!hasChromium) return;
  t = await createTestApp();
  base = `http://127.0.0.1:${await t.app.listen()}`;
  await t.ok(CreatePromptDocument, { input: { name: "support/greeting", content: "Hello {{name}}" } });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
  });
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe.skipIf(!hasChromium)("GraphiQL playground in headless Chromium", () => {
  it("runs a query and a live subscription, requesting nothing from any other host", async () => {
    const context = await browser.newContext();
    const requested: string[] = [];
    const foreign: string[] = [];
    // Every request of the page and its workers passes here; anything not local is recorded and blocked.
    await context.route("**/*", (route) => {
      const url = new URL(route.request().url());
      requested.push(url.href);
      if (url.hostname !== "127.0.0.1") {
        foreign.push(url.href);
        return route.abort();
      }
      return route.continue();
    });
    const page = await context.newPage();
    page.on("websocket", (ws) => requested.push(ws.url()));
    const pageErrors: string[] = [];
    page.on("pageerror", (error) => pageErrors.push(error.message));

    const response = page.locator(".graphiql-response");
    // Monaco renders spaces as non-breaking ones: compare with whitespace folded.
    const responseText = async () => (await response.innerText()).replace(/\s+/g, " ");
    // The editors load asynchronously; run (again) until the response pane shows a result.
    const run = async (expected: string) => {
      for (let attempt = 0; attempt < 20; attempt++) {
        await page.locator(".graphiql-execute-button").click();
        const deadline = Date.now() + 1_000;
        while (Date.now() < deadline) {
          if ((await responseText()).includes(expected)) return;
          await page.waitForTimeout(100);
        }
      }
    };

    const query = "{ prompts(first: 5) { totalCount nodes { name latestVersion { variables } } } }";
    await page.goto(`${base}/graphiql?query=${encodeURIComponent(query)}`);
    await run("support/greeting");
    await expect.poll(responseText, { timeout: 5_000 }).toContain("support/greeting");
    expect(await responseText()).toContain('"totalCount": 1');

    const subscription = "subscription { promptEvents { type promptName versionNumber } }";
    await page.goto(`${base}/graphiql?query=${encodeURIComponent(subscription)}`);
    await expect.poll(() => page.locator(".graphiql-query-editor").innerText(), { timeout: 20_000 }).toContain("promptEvents");
    // Subscribed once the button turns into a stop button; events then stream into the response pane.
    await expect
      .poll(async () => {
        if (!(await page.locator(".graphiql-execute-button[aria-label*='Stop' i]").count())) {
          await page.locator(".graphiql-execute-button").click();
          await page.waitForTimeout(500);
        }
        return page.locator(".graphiql-execute-button[aria-label*='Stop' i]").count();
      }, { timeout: 20_000 })
      .toBe(1);
    // The server has the subscription open: the event cannot be missed.
    await expect.poll(() => t.app.bus.subscriberCount("prompt.events"), { timeout: 20_000 }).toBeGreaterThan(0);
    await t.ok(CreatePromptDocument, { input: { name: "live/from-test", content: "x" } });
    await expect.poll(responseText, { timeout: 20_000 }).toContain("live/from-test");
    expect(await responseText()).toContain('"type": "CREATED"');

    expect(pageErrors).toEqual([]);
    expect(foreign).toEqual([]);
    expect(requested.some((url) => url.startsWith("ws://127.0.0.1"))).toBe(true);
    expect(requested.filter((url) => !/^(https?|wss?):\/\/127\.0\.0\.1:/.test(url) && !/^(data|blob):/.test(url))).toEqual([]);
    await context.close();
  });
});
