import { describe, it } from "vitest";

/**
 * A test file that needs an outside service (a browser, Redis...) skips with the reason
 * when it is missing, except where PROMPT_STORE_REQUIRE_SERVICES=1 (set by .ci/run):
 * there a missing service is a failure, never a silent pass.
 */
export function requireService(what: string, available: boolean): void {
  if (available) return;
  if (process.env.PROMPT_STORE_REQUIRE_SERVICES === "1") {
    describe("required services", () => {
      it(`needs ${what}`, () => {
        throw new Error(`${what} is not available, and PROMPT_STORE_REQUIRE_SERVICES=1 requires it`);
      });
    });
  } else {
    process.stderr.write(`skipping: ${what} is not available\n`);
  }
}
