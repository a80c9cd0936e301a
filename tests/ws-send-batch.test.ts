// SendBatch (src/subscriptions/ws-server.ts): the sends of one turn of the event loop go out
// together at its end, in order per socket; a socket closed meanwhile gets nothing, and its
// sender hears of it as graphql-ws would (a plain callback, no error).
import { setImmediate as nextTurn } from "node:timers/promises";
import type { WebSocket } from "ws";
import { describe, expect, it } from "vitest";
import { SendBatch } from "../src/subscriptions/ws-server.js";

function fakeSocket(name: string, written: string[]) {
  const socket = {
    OPEN: 1,
    readyState: 1,
    send(data: string, callback?: (error?: Error) => void) {
      written.push(`${name}:${data}`);
      callback?.();
    },
    close(code?: number) {
      written.push(`${name} closed ${code}`);
      socket.readyState = 3;
    },
  };
  return socket as typeof socket & WebSocket;
}

/** A batch wrapping fresh fake sockets of these names, and the log of what they were sent. */
function setup(...names: string[]) {
  const written: string[] = [];
  const batch = new SendBatch();
  const sockets = names.map((name) => fakeSocket(name, written));
  for (const socket of sockets) batch.wrap(socket);
  return { written, batch, sockets };
}

describe("SendBatch", () => {
  it("writes the turn's sends together after it, in order per socket", async () => {
    const { written, sockets: [a, b] } = setup("a", "b");
    const acknowledged: string[] = [];
    a.send("1", () => acknowledged.push("a1"));
    b.send("1", () => acknowledged.push("b1"));
    await Promise.resolve();
    a.send("2", () => acknowledged.push("a2"));
    expect(written).toEqual([]);
    await nextTurn();
    expect(written).toEqual(["a:1", "b:1", "a:2"]);
    expect(acknowledged).toEqual(["a1", "b1", "a2"]);
    // The next turn's sends are a new batch.
    b.send("2");
    expect(written).toHaveLength(3);
    await nextTurn();
    expect(written.at(-1)).toBe("b:2");
  });

  it("sends nothing to a socket closed before the batch went out, and still answers its sender", async () => {
    const { written, sockets: [open, closing] } = setup("open", "closing");
    const outcomes: unknown[] = [];
    closing.send("x", (error?: Error) => outcomes.push(error ?? "ok"));
    open.send("y");
    closing.readyState = 2;
    await nextTurn();
    expect(written).toEqual(["open:y"]);
    expect(outcomes).toEqual(["ok"]);
  });

  it("closes a socket only after the sends queued before the close, and at once when none are", async () => {
    const { written, batch, sockets: [a, b] } = setup("a", "b");
    a.send("error");
    a.close(4400);
    b.close(4403);
    // b had nothing queued: closed at once; a's close waits for its error frame.
    expect(written).toEqual(["b closed 4403"]);
    await nextTurn();
    expect(written).toEqual(["b closed 4403", "a:error", "a closed 4400"]);
    // Once the batch is out, a close is immediate again.
    const c = fakeSocket("c", written);
    batch.wrap(c);
    c.close(1000);
    expect(written.at(-1)).toBe("c closed 1000");
  });

  it("terminates a socket whose queued close ws refuses, and still sends the rest of the batch", async () => {
    const { written, batch, sockets: [b] } = setup("b");
    const a = Object.assign(fakeSocket("a", written), {
      close() {
        throw new TypeError("First argument must be a valid error code number");
      },
      terminate() {
        written.push("a terminated");
      },
    });
    batch.wrap(a);
    a.send("last");
    a.close(1);
    b.send("next");
    await nextTurn();
    expect(written).toEqual(["a:last", "a terminated", "b:next"]);
  });
});
