// The playground served at /graphiql. Built by Vite into dist/graphiql with every
// script, style, font and worker bundled, so it works on a machine with no internet.
import "graphiql/setup-workers/vite";
import "graphiql/style.css";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import { createElement } from "react";
import { createRoot } from "react-dom/client";

const httpUrl = new URL("/graphql", window.location.href).toString();
const wsUrl = httpUrl.replace(/^http/, "ws");

const fetcher = createGraphiQLFetcher({ url: httpUrl, subscriptionUrl: wsUrl });

const defaultQuery = `# Prompt Store: press the run button (or Ctrl-Enter).
query Prompts {
  prompts(first: 10) {
    totalCount
    nodes {
      name
      type
      tags
      versionCount
      latestVersion { number content variables }
    }
  }
}
`;

// Shareable links: /graphiql?query=...&variables=... opens with that operation.
const params = new URLSearchParams(window.location.search);

createRoot(document.getElementById("graphiql")!).render(
  createElement(GraphiQL, {
    fetcher,
    defaultQuery,
    initialQuery: params.get("query") ?? undefined,
    initialVariables: params.get("variables") ?? undefined,
    defaultEditorToolsVisibility: false,
  }),
);
