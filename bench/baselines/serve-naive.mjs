// S2's naive baseline: what serving looks like without a cache or prepared statements, a bare
// Apollo Server whose resolvePrompt makes one Prisma query per request (the label, its prompt
// and the prompt's versions) and renders the template. Same request, same answer bytes.
// Usage: serve-naive.mjs <database file>; prints its port. Needs the built client (dist/).
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { PrismaBetterSQLite3 } from "@prisma/adapter-better-sqlite3";
import { PrismaClient } from "../../dist/generated/prisma/client.js";
import { render, SERVE_TYPEDEFS } from "./serve-shared.mjs";

const prisma = new PrismaClient({ adapter: new PrismaBetterSQLite3({ url: `file:${process.argv[2]}` }) });

const resolvers = {
  Query: {
    async resolvePrompt(_, { name, label, variables }) {
      const found = await prisma.promptLabel.findFirst({ where: { name: label ?? "production", prompt: { name } }, include: { prompt: { include: { versions: true } } } });
      const version = found?.prompt.versions.find((v) => v.number === found.versionNumber);
      if (!version) throw new Error("not found");
      return { type: found.prompt.type, text: render(version.content, variables), label: found.name, version: { number: version.number } };
    },
  },
};
const server = new ApolloServer({ typeDefs: SERVE_TYPEDEFS, resolvers });
const { url } = await startStandaloneServer(server, { listen: { port: 0, host: "127.0.0.1" } });
process.stdout.write(`${JSON.stringify({ port: Number(new URL(url).port) })}\n`);
process.on("SIGTERM", () => server.stop().then(() => process.exit(0)));
