// S3's reference for the stack itself: a bare Apollo Server (standalone, no plugins, no auth, no
// cache) whose `prompts` resolver runs the baseline's own 1 + 3 statements (list-shared.mjs) and
// returns the whole tree, which graphql-js's default resolvers then walk. It shows what Apollo
// Server and graphql-js alone cost for this page, which no server built on them can go below.
// Same request, same answer bytes. Usage: list-apollo.mjs <database file>; prints its port.
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";
import { LIST_TYPEDEFS, listAnswerer } from "./list-shared.mjs";

const answer = listAnswerer(process.argv[2]);
const resolvers = { Query: { prompts: (_, { filter, first }) => answer({ folder: filter?.folder, first }).prompts } };
const server = new ApolloServer({ typeDefs: LIST_TYPEDEFS, resolvers });
const { url } = await startStandaloneServer(server, { listen: { port: 0, host: "127.0.0.1" } });
process.stdout.write(`${JSON.stringify({ port: Number(new URL(url).port) })}\n`);
process.on("SIGTERM", () => server.stop().then(() => process.exit(0)));
