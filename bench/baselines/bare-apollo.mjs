// S9's baseline: a bare Apollo Server with a one-field schema on its standalone HTTP server.
// Prints its port once it listens.
import { ApolloServer } from "@apollo/server";
import { startStandaloneServer } from "@apollo/server/standalone";

const server = new ApolloServer({ typeDefs: "type Query { hello: String }", resolvers: { Query: { hello: () => "world" } } });
const { url } = await startStandaloneServer(server, { listen: { port: 0, host: "127.0.0.1" } });
process.stdout.write(`${JSON.stringify({ port: Number(new URL(url).port) })}\n`);
process.on("SIGTERM", () => server.stop().then(() => process.exit(0)));
