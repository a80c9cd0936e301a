// S2's reference for the stack itself: a bare Apollo Server (standalone, no plugins, no auth,
// no cache) whose resolvePrompt runs the very prepared statement of serve-sqlite.mjs. It shows
// what Apollo Server and graphql-js alone cost per request, which no server built on them can
// go below. Same request, same answer bytes. Usage: serve-apollo.mjs <database file>; prints its port.
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import Database from "better-sqlite3";
import { render, SERVE_SQL, SERVE_TYPEDEFS } from "./serve-shared.mjs";

const db = new Database(process.argv[2], { readonly: true });
const find = db.prepare(SERVE_SQL);

const resolvers = {
  Query: {
    resolvePrompt(_, { name, label, variables }) {
      const row = find.get(label ?? "production", name);
      if (!row) throw new Error("not found");
      return { type: row.type, text: render(row.content, variables), label: label ?? "production", version: { number: row.number } };
    },
  },
};
const server = new ApolloServer({ typeDefs: SERVE_TYPEDEFS, resolvers });
const { url } = await startStandaloneServer(server, { listen: { port: 0, host: "127.0.0.1" } });
process.stdout.write(`${JSON.stringify({ port: Number(new URL(url).port) })}\n`);
process.on("SIGTERM", () => server.stop().then(() => process.exit(0)));
