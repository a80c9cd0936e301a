// A server that only serves (reads, listings with counts, relation fields, status polls)
// sends nothing through Prisma, whose first query instantiates its wasm query compiler:
// about 30 MiB of resident memory and a few hundred milliseconds of CPU, and a compile of
// every statement on the server's thread after that. Its start-up work (resuming bulk jobs
// and refinement sessions, audit retention) reads and writes on prepared statements too.
import { afterAll, beforeAll, expect, it } from "vitest";
import { CreatePromptDocument, ListPromptsDeepDocument, ListPromptsDocument, ResolvePromptDocument, SetLabelDocument } from "./generated/operations.js";
import { createTestApp, type TestApp } from "./helpers/app.js";

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(() => t?.close());

it("sends no statement through Prisma from its start through listings and resolves", async () => {
  const before = t.app.statements.count;
  // Something for the relation fields to read (the writes are prepared statements too).
  await t.ok(CreatePromptDocument, { input: { name: "pf/base", content: "base" } });
  await t.ok(CreatePromptDocument, { input: { name: "pf/user", content: "{{> pf/base}} and more", tags: ["t"] } });
  await t.ok(SetLabelDocument, { input: { prompt: { name: "pf/user" }, label: "production", version: 1 } });
  // Written behind the API's back: creating a link is a write through Prisma (not serving).
  await t.app.db.$executeRawUnsafe(
    `INSERT INTO PromptRelationship (id, sourceId, targetId, type, createdAt) SELECT 'pf-link', u.id, b.id, 'DEPENDS_ON', ? FROM Prompt u, Prompt b WHERE u.name = 'pf/user' AND b.name = 'pf/base'`,
    new Date().toISOString().replace("Z", "+00:00"),
  );
  // The start-up work runs half a second after the database is ready.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  await t.ok(ListPromptsDocument, { first: 20 });
  const deep = await t.ok(ListPromptsDeepDocument, { first: 20 });
  expect(deep.prompts.nodes.find((p) => p.name === "pf/user")).toMatchObject({ dependencies: [{ name: "pf/base" }], relationships: [{ type: "DEPENDS_ON" }] });
  await t.ok(ResolvePromptDocument, { name: "pf/user", label: "production" });
  const sent = t.app.statements.recent.slice(-(t.app.statements.count - before));
  // The start-up work's own statements are among them: resuming jobs and sessions, retention.
  expect(sent.some((sql) => sql.includes("FROM BulkOperation WHERE status IN"))).toBe(true);
  expect(sent.some((sql) => sql.includes("FROM RefinementSession WHERE status = 'QUEUED'"))).toBe(true);
  expect(sent.some((sql) => sql.startsWith('DELETE FROM "AuditEntry"'))).toBe(true);
  // Prisma names every table with its schema (`main`.`Prompt`); the prepared statements do not.
  expect(sent.filter((sql) => sql.includes("`main`."))).toEqual([]);
});
