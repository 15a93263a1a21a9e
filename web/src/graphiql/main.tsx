/**
 * GraphiQL, built with the app and served by ovoz at /graphql (development only): every
 * script and style from this origin, under the app's Content-Security-Policy, where
 * Strawberry's own page would load GraphiQL from a CDN.
 *
 * HTTP requests carry the headers of GraphiQL's Headers tab; subscriptions run over
 * graphql-ws with the same headers as their connection_init payload (so
 * `{"Authorization": "Bearer …"}` works for both).
 */
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { GraphiQL } from "graphiql";
import "graphiql/style.css";
import { createClient } from "graphql-ws";
import { createRoot } from "react-dom/client";
import "./graphiql.css";

function headersTab(): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem("graphiql:headers") ?? "{}");
    return parsed !== null && typeof parsed === "object" ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const fetcher = createGraphiQLFetcher({
  url: "/graphql",
  wsClient: createClient({
    url: `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/graphql`,
    lazy: true,
    connectionParams: headersTab,
  }),
});

const root = document.getElementById("graphiql");
if (root) createRoot(root).render(<GraphiQL fetcher={fetcher} />);
