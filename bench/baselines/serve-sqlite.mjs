// S2's baseline: node:http and one prepared better-sqlite3 statement answering the same
// resolvePrompt request with the same bytes (the label's version of the prompt, its template
// rendered with the variables). Prints its port. Usage: serve-sqlite.mjs <database file>
import { createServer } from "node:http";
import Database from "better-sqlite3";
import { render, SERVE_SQL } from "./serve-shared.mjs";

const db = new Database(process.argv[2], { readonly: true });
const find = db.prepare(SERVE_SQL);

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const { variables } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const label = variables.label ?? "production";
    const row = find.get(label, variables.name);
    const body = row
      ? `${JSON.stringify({ data: { resolvePrompt: { type: row.type, text: render(row.content, variables.vars), label, version: { number: row.number } } } })}\n`
      : `${JSON.stringify({ errors: [{ message: "not found", extensions: { code: "NOT_FOUND" } }], data: null })}\n`;
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) }).end(body);
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
