// S1's baseline: plain node:http answering POST /graphql with the same JSON the server gives
// `{ __typename }`, after reading the body (as any server must). Prints its port.
import { createServer } from "node:http";

const BODY = `${JSON.stringify({ data: { __typename: "Query" } })}\n`;
const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    JSON.parse(Buffer.concat(chunks).toString("utf8"));
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(BODY) }).end(BODY);
  });
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
