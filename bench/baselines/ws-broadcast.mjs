// S7's baseline: a plain `ws` server that broadcasts one payload to every subscribed socket when
// an HTTP POST asks it to. It speaks just enough graphql-transport-ws for the bench's client
// (connection_init -> connection_ack, subscribe, complete, ping -> pong), and the trigger is the
// same setPromptLabel request the bench sends the real server: the body is parsed, the label's
// previous version is looked up (a Map stands in for the database), the event is serialised ONCE
// into the `next` frame the real server sends for the bench's subscription document (same fields,
// same order, same bytes apart from the timestamp) and sent to every socket, then the POST is
// answered. Fan-out is all it does, which is the point: it is the floor for fan-out on this core.
//
// argv[2]: JSON { promptId, promptName, actor }. Prints {"port":...} once it listens.
import { createServer } from "node:http";
import { WebSocketServer } from "ws";

const { promptId, promptName, actor } = JSON.parse(process.argv[2] ?? "{}");
if (!promptId || !promptName) throw new Error("usage: ws-broadcast.mjs '{\"promptId\":...,\"promptName\":...,\"actor\":...}'");

/** Operation id -> sockets subscribed under it (each distinct id needs its own frame bytes). */
const subscribers = new Map();
/** Label -> version it points at. */
const labels = new Map();

function subscribe(socket, id) {
  let set = subscribers.get(id);
  if (!set) subscribers.set(id, (set = new Set()));
  set.add(socket);
}

function unsubscribe(socket, id) {
  const set = subscribers.get(id);
  if (!set) return;
  set.delete(socket);
  if (set.size === 0) subscribers.delete(id);
}

function broadcast(event) {
  for (const [id, sockets] of subscribers) {
    const frame = Buffer.from(JSON.stringify({ id, type: "next", payload: { data: { promptEvents: event } } }));
    for (const socket of sockets) socket.send(frame, { binary: false });
  }
}

const http = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const { variables } = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    const { prompt, label, version } = variables?.input ?? {};
    if (req.url !== "/graphql" || prompt?.name !== promptName || typeof label !== "string" || !Number.isInteger(version)) {
      res.writeHead(400, { "content-type": "application/json" }).end(`${JSON.stringify({ errors: [{ message: "not a setPromptLabel for the bench's prompt" }] })}\n`);
      return;
    }
    const fromVersion = labels.get(label) ?? null;
    if (fromVersion !== version) {
      labels.set(label, version);
      // Field order of the bench's selection set, as graphql-js would produce it.
      broadcast({ type: "LABEL_MOVED", promptId, promptName, versionNumber: version, label, fromVersion, actor: actor ?? null, occurredAt: new Date().toISOString() });
    }
    const body = `${JSON.stringify({ data: { setPromptLabel: { name: label, versionNumber: version } } })}\n`;
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(body) }).end(body);
  });
});

const wss = new WebSocketServer({
  server: http,
  path: "/graphql",
  handleProtocols: (protocols) => (protocols.has("graphql-transport-ws") ? "graphql-transport-ws" : false),
});
wss.on("connection", (socket) => {
  const ids = new Set();
  socket.on("message", (data) => {
    const message = JSON.parse(String(data));
    switch (message.type) {
      case "connection_init":
        return socket.send(JSON.stringify({ type: "connection_ack" }));
      case "ping":
        return socket.send(JSON.stringify({ type: "pong" }));
      case "subscribe":
        ids.add(message.id);
        return subscribe(socket, message.id);
      case "complete":
        ids.delete(message.id);
        return unsubscribe(socket, message.id);
      default:
        return socket.close(4400, `unexpected message type ${message.type}`);
    }
  });
  socket.on("close", () => ids.forEach((id) => unsubscribe(socket, id)));
});

http.listen(0, "127.0.0.1", () => process.stdout.write(`${JSON.stringify({ port: http.address().port })}\n`));
process.on("SIGTERM", () => {
  for (const socket of wss.clients) socket.terminate();
  http.close(() => process.exit(0));
});
