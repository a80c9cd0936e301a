// S3's baseline: node:http answering the same prompts(filter: {folder}, first) page with the same
// bytes from 1 + 3 hand-written statements (list-shared.mjs). Prints its port.
// Usage: list-sqlite.mjs <database file>
import { createServer } from "node:http";
import { listAnswerer } from "./list-shared.mjs";

const answer = listAnswerer(process.argv[2]);

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const { variables } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const body = `${JSON.stringify({ data: answer(variables) })}\n`;
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) }).end(body);
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
