/**
 * The GraphQL client: urql (small, document cache) over fetch for queries and mutations,
 * graphql-ws for subscriptions on the same /graphql endpoint.
 */
import { Client, cacheExchange, fetchExchange, subscriptionExchange } from "urql";
import { createClient as createWsClient, type Client as WsClient } from "graphql-ws";
import { apiFetch } from "./fetch";
import { freshAccessToken, tokenRejected, accessToken } from "../auth/session";
import { currentLang } from "../i18n/lang";

/** Close code the server uses when the token on a live socket expires or is refused. */
export const WS_FORBIDDEN = 4403;

function wsUrl(): string {
  const { protocol, host } = window.location;
  return `${protocol === "https:" ? "wss:" : "ws:"}//${host}/graphql`;
}

/**
 * Told each time the socket connects again after it had been connected: what changed
 * while it was down (a recording that completed meanwhile) is not replayed by
 * myAudioEvents, which starts with what is still in progress, so pages refetch.
 */
const reconnects = new EventTarget();

export function onReconnect(listener: () => void): () => void {
  reconnects.addEventListener("reconnected", listener);
  return () => reconnects.removeEventListener("reconnected", listener);
}

export function makeWsClient(url: string = wsUrl()): WsClient {
  let connectedBefore = false;
  return createWsClient({
    url,
    lazy: true,
    lazyCloseTimeout: 3_000,
    // Evaluated on every (re)connect, so a reconnect carries the newest token.
    connectionParams: async () => {
      const token = await freshAccessToken();
      return { Authorization: token ? `Bearer ${token}` : "", "Accept-Language": currentLang() };
    },
    retryAttempts: Number.POSITIVE_INFINITY,
    // Reconnect after anything, 4403 included (the token expired: a fresh one is fetched).
    shouldRetry: () => true,
    retryWait: async (retries) => {
      const ms = Math.min(10_000, 500 * 2 ** retries) * (0.5 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, ms));
    },
    on: {
      connected: () => {
        if (connectedBefore) reconnects.dispatchEvent(new Event("reconnected"));
        connectedBefore = true;
      },
      closed: (event) => {
        if ((event as CloseEvent | undefined)?.code === WS_FORBIDDEN) tokenRejected(accessToken());
      },
    },
  });
}

export function makeClient(options: { fetch?: typeof fetch; ws?: WsClient | null } = {}): Client {
  const ws = options.ws === undefined ? makeWsClient() : options.ws;
  const exchanges = [cacheExchange, fetchExchange];
  if (ws) {
    exchanges.push(
      subscriptionExchange({
        forwardSubscription(request) {
          const input = { ...request, query: request.query ?? "" };
          return {
            subscribe(sink) {
              const unsubscribe = ws.subscribe(input, sink);
              return { unsubscribe };
            },
          };
        },
      }),
    );
  }
  return new Client({
    url: "/graphql",
    exchanges,
    fetch: options.fetch ?? apiFetch,
    preferGetMethod: false,
    requestPolicy: "cache-and-network",
  });
}
