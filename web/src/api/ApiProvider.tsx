import { useSyncExternalStore, type ReactNode } from "react";
import { Provider, type Client } from "urql";
import type { Client as WsClient } from "graphql-ws";
import { makeClient, makeWsClient } from "./client";
import { currentUserId, subscribeSession } from "../auth/session";

interface Scoped {
  userId: string | null;
  client: Client;
  ws: WsClient | null;
}
let scoped: Scoped | null = null;

/**
 * One GraphQL client (and document cache, and socket) per signed-in user: when someone
 * else signs in on this tab, nothing cached for the previous user can be shown to them.
 */
export function clientForUser(userId: string | null, options: { ws?: boolean } = {}): Client {
  if (scoped && scoped.userId === userId) return scoped.client;
  void scoped?.ws?.dispose();
  const ws = options.ws === false ? null : makeWsClient();
  scoped = { userId, client: makeClient({ ws }), ws };
  return scoped.client;
}

export function ApiProvider({ children, ws = true }: { children: ReactNode; ws?: boolean }) {
  const userId = useSyncExternalStore(subscribeSession, currentUserId, currentUserId);
  const client = clientForUser(userId, { ws });
  // The key remounts the tree: no component keeps state (or results) of the other user.
  return (
    <Provider key={userId ?? ""} value={client}>
      {children}
    </Provider>
  );
}
