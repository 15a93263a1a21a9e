/**
 * fetch for /graphql: adds the bearer token and the UI language to every request, and on
 * UNAUTHENTICATED refreshes the session and sends the operation once more.
 */
import { currentLang } from "../i18n/lang";
import { endSession, freshAccessToken, refreshSession, tokenRejected } from "../auth/session";

interface GraphQLErrorShape {
  extensions?: { code?: unknown };
}

export async function isUnauthenticated(response: Response): Promise<boolean> {
  if (response.status === 401) return true;
  const type = response.headers.get("content-type") ?? "";
  if (!type.includes("json")) return false;
  try {
    const body = (await response.clone().json()) as { errors?: GraphQLErrorShape[] };
    return (body.errors ?? []).some((e) => e.extensions?.code === "UNAUTHENTICATED");
  } catch {
    return false;
  }
}

/** Headers every request to the API carries. */
export function apiHeaders(token: string | null, base?: HeadersInit): Headers {
  const headers = new Headers(base);
  headers.set("Accept-Language", currentLang());
  if (token) headers.set("Authorization", `Bearer ${token}`);
  else headers.delete("Authorization");
  return headers;
}

export const apiFetch: typeof fetch = async (input, init) => {
  const send = async (): Promise<{ response: Response; token: string | null }> => {
    const token = await freshAccessToken();
    const response = await fetch(input, { ...init, headers: apiHeaders(token, init?.headers) });
    return { response, token };
  };
  const first = await send();
  if (!first.token || !(await isUnauthenticated(first.response))) return first.response;
  tokenRejected(first.token);
  const outcome = await refreshSession();
  if (outcome === "invalid") {
    endSession({ broadcast: false });
    return first.response;
  }
  if (outcome === "network") return first.response;
  return (await send()).response;
};
