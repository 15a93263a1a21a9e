/**
 * The browser session: the access token lives in memory only; the refresh token is an
 * HttpOnly cookie the server sets on /graphql/session, which scripts never see.
 *
 * Refresh tokens are single-use and presenting a spent one ends the session, so two tabs
 * must never refresh at once: every refresh runs under one Web Lock shared by all tabs of
 * the origin, and the tab that refreshed hands the new access token to the others over a
 * BroadcastChannel (a tab that waited for the lock then uses it instead of rotating again).
 */
import { currentLang } from "../i18n/lang";

export type SessionStatus = "unknown" | "signedIn" | "signedOut";
export type RefreshOutcome = "ok" | "invalid" | "network";

interface AccessToken {
  value: string;
  expiresAt: number; // ms since epoch
  obtainedAt: number;
}

type Message =
  | { type: "token"; value: string; expiresAt: number }
  /** `wipe`: the user signed out or deleted the account on purpose: nothing of theirs may stay. */
  | { type: "signedOut"; wipe?: boolean };

const REFRESH_URL = "/graphql/session";
const REFRESH_MUTATION =
  "mutation RefreshSession { refreshSession { __typename ... on Token { accessToken expiresIn } ... on Error { code message } } }";
/** Refresh this long before the access token runs out. */
export const REFRESH_MARGIN_MS = 60_000;
const LOCK_NAME = "ovoz-refresh";
const MARKER_KEY = "ovoz.refreshedAt";
const NETWORK_RETRY_MS = 5_000;

let token: AccessToken | null = null;
let status: SessionStatus = "unknown";
let inFlight: Promise<RefreshOutcome> | null = null;
let timer: ReturnType<typeof setTimeout> | undefined;
const listeners = new Set<() => void>();
let channel: BroadcastChannel | null = null;
let tokenWaiters: Array<() => void> = [];
/** The user of the current session, or of the last one (kept after it expired). */
let userId: string | null = null;
const userListeners = new Set<(previous: string | null, next: string) => void>();
const wipeListeners = new Set<() => void>();

function emit(): void {
  for (const listener of listeners) listener();
}

export function subscribeSession(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function sessionStatus(): SessionStatus {
  return status;
}

export function accessToken(): string | null {
  return token?.value ?? null;
}

function post(message: Message): void {
  try {
    channel?.postMessage(message);
  } catch {
    // A closed channel (tab going away) needs no message.
  }
}

/** The `sub` claim of an access token (a JWT), or null when it cannot be read. */
export function userIdOfToken(value: string): string | null {
  const part = value.split(".")[1];
  if (!part) return null;
  try {
    const base64 = part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "=");
    const claims = JSON.parse(atob(base64)) as { sub?: unknown };
    return typeof claims.sub === "string" ? claims.sub : null;
  } catch {
    return null;
  }
}

/** Who is (or was last) signed in in this tab. */
export function currentUserId(): string | null {
  return userId;
}

/**
 * Called, before anything renders for them, when a user signs in in this tab who is not
 * the one signed in before (`previous` is null on the first sign-in of the page).
 */
export function onUserChange(listener: (previous: string | null, next: string) => void): () => void {
  userListeners.add(listener);
  return () => userListeners.delete(listener);
}

/** Called when another tab signed out on purpose (sign out, sign out everywhere, account deleted). */
export function onWipe(listener: () => void): () => void {
  wipeListeners.add(listener);
  return () => wipeListeners.delete(listener);
}

function adopt(value: string, expiresAt: number): void {
  token = { value, expiresAt, obtainedAt: Date.now() };
  status = "signedIn";
  const next = userIdOfToken(value);
  if (next !== null && next !== userId) {
    const previous = userId;
    userId = next;
    for (const listener of userListeners) listener(previous, next);
  }
  schedule();
  const waiters = tokenWaiters;
  tokenWaiters = [];
  for (const wake of waiters) wake();
  emit();
}

function schedule(): void {
  clearTimeout(timer);
  if (!token) return;
  // A minute before expiry, or a third of the token's life for short-lived tokens: a
  // 20-second token must not be refreshed (and its refresh token rotated) every second.
  const margin = Math.min(REFRESH_MARGIN_MS, (token.expiresAt - token.obtainedAt) / 3);
  const delay = Math.max(1_000, token.expiresAt - Date.now() - margin);
  timer = setTimeout(() => {
    void refreshSession().then((outcome) => {
      if (outcome === "network") {
        clearTimeout(timer);
        timer = setTimeout(() => void refreshSession(), NETWORK_RETRY_MS);
      }
    });
  }, delay);
}

/** A token from verifyOtp (or a refresh): keep it and tell the other tabs. */
export function startSession(accessTokenValue: string, expiresInSeconds: number): void {
  const expiresAt = Date.now() + expiresInSeconds * 1000;
  adopt(accessTokenValue, expiresAt);
  markRefreshed();
  post({ type: "token", value: accessTokenValue, expiresAt });
}

/**
 * Forget the session here (and, unless told otherwise, in every other tab). `wipe`: the
 * user ended it on purpose, so the other tabs drop everything of theirs too.
 */
export function endSession(options: { broadcast?: boolean; wipe?: boolean } = {}): void {
  clearTimeout(timer);
  token = null;
  status = "signedOut";
  if (options.broadcast !== false) post({ type: "signedOut", wipe: options.wipe === true });
  emit();
}

function markRefreshed(): void {
  try {
    localStorage.setItem(MARKER_KEY, String(Date.now()));
  } catch {
    // Storage may be disabled; the lock alone still prevents reuse.
  }
}

function refreshedSince(since: number): boolean {
  try {
    return Number(localStorage.getItem(MARKER_KEY) ?? 0) >= since;
  } catch {
    return false;
  }
}

function waitForBroadcast(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      tokenWaiters = tokenWaiters.filter((w) => w !== done);
      resolve();
    }, ms);
    tokenWaiters.push(done);
  });
}

async function withRefreshLock<T>(work: () => Promise<T>): Promise<T> {
  const locks = typeof navigator !== "undefined" ? navigator.locks : undefined;
  if (!locks) return work();
  return locks.request(LOCK_NAME, { mode: "exclusive" }, work) as Promise<T>;
}

async function exchangeCookie(): Promise<RefreshOutcome> {
  let response: Response;
  try {
    response = await fetch(REFRESH_URL, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json",
        "Accept-Language": currentLang(),
        "X-Ovoz-CSRF": "1",
      },
      body: JSON.stringify({ query: REFRESH_MUTATION, operationName: "RefreshSession" }),
    });
  } catch {
    return "network";
  }
  if (response.status >= 500) return "network";
  let body: { data?: { refreshSession?: { __typename: string; accessToken?: string; expiresIn?: number } } };
  try {
    body = await response.json();
  } catch {
    return "network";
  }
  const result = body.data?.refreshSession;
  if (result?.__typename === "Token" && result.accessToken && result.expiresIn) {
    startSession(result.accessToken, result.expiresIn);
    return "ok";
  }
  return "invalid";
}

/**
 * Get a new access token, serialized with every other tab. Calls made while one is in
 * flight in this tab share it.
 */
export function refreshSession(): Promise<RefreshOutcome> {
  if (inFlight) return inFlight;
  const startedAt = Date.now();
  const previous = token?.value ?? null;
  inFlight = withRefreshLock(async () => {
    // Another tab may have refreshed while this one waited for the lock.
    if (token && token.value !== previous && token.obtainedAt >= startedAt) return "ok" as const;
    if (refreshedSince(startedAt)) {
      await waitForBroadcast(500);
      if (token && token.value !== previous) return "ok" as const;
    }
    return exchangeCookie();
  })
    .then((outcome) => {
      if (outcome === "invalid") endSession({ broadcast: false });
      return outcome;
    })
    .finally(() => {
      inFlight = null;
    });
  return inFlight;
}

/** The access token to send now: refreshed first when it is about to run out. */
export async function freshAccessToken(): Promise<string | null> {
  if (status === "signedOut") return null;
  if (token && token.expiresAt - Date.now() > REFRESH_MARGIN_MS / 2) return token.value;
  if (!token && status !== "signedIn") return null;
  await refreshSession();
  return token?.value ?? null;
}

/** Mark the token as no longer accepted (the server said so): the next use refreshes. */
export function tokenRejected(value: string | null): void {
  if (token && token.value === value) token = { ...token, expiresAt: 0 };
}

/** On page load: a signed-in user who reloads stays signed in. */
export async function restoreSession(): Promise<SessionStatus> {
  if (typeof BroadcastChannel !== "undefined" && !channel) {
    channel = new BroadcastChannel("ovoz-session");
    channel.onmessage = (event: MessageEvent<Message>) => {
      const message = event.data;
      if (message.type === "token") adopt(message.value, message.expiresAt);
      else if (message.type === "signedOut") {
        endSession({ broadcast: false });
        if (message.wipe) for (const listener of wipeListeners) listener();
      }
    };
  }
  if (typeof document !== "undefined") {
    document.addEventListener("visibilitychange", () => {
      // Timers are throttled in background tabs: check again when the tab is seen.
      if (document.visibilityState === "visible" && token && token.expiresAt - Date.now() < REFRESH_MARGIN_MS) {
        void refreshSession();
      }
    });
  }
  let outcome = await refreshSession();
  // A server that is restarting should not sign anyone out: try a few times.
  for (let tries = 0; outcome === "network" && tries < 3; tries += 1) {
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    outcome = await refreshSession();
  }
  if (outcome !== "ok") endSession({ broadcast: false });
  return status;
}

/** For tests: back to the state of a fresh page. */
export function resetSessionForTests(): void {
  clearTimeout(timer);
  token = null;
  status = "unknown";
  inFlight = null;
  tokenWaiters = [];
  userId = null;
  userListeners.clear();
  wipeListeners.clear();
  channel?.close();
  channel = null;
  listeners.clear();
}
