import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

/** navigator.locks as browsers implement it for one origin: one holder at a time. */
function fakeLocks() {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    request: (_name: string, _options: unknown, work: () => Promise<unknown>) => {
      const run = tail.then(work);
      tail = run.catch(() => undefined);
      return run;
    },
  };
}

type SessionModule = typeof import("./session");

/** A separate copy of the session module: what a second tab runs. */
async function openTab(): Promise<SessionModule> {
  vi.resetModules();
  return import("./session");
}

beforeEach(() => {
  vi.stubGlobal("navigator", { ...navigator, locks: fakeLocks(), languages: ["en"] });
});
afterEach(() => vi.unstubAllGlobals());

describe("refreshing the session", () => {
  it("never has two refreshes in flight across tabs, and a waiting tab takes the broadcast token", async () => {
    let inFlight = 0;
    let maxInFlight = 0;
    let issued = 0;
    const fetchMock = vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
      expect(String(url)).toBe("/graphql/session");
      expect(new Headers(init?.headers).get("X-Ovoz-CSRF")).toBe("1");
      expect(init?.credentials).toBe("same-origin");
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((resolve) => setTimeout(resolve, 30));
      inFlight -= 1;
      issued += 1;
      return new Response(
        JSON.stringify({ data: { refreshSession: { __typename: "Token", accessToken: `tok-${issued}`, expiresIn: 900 } } }),
        { headers: { "Content-Type": "application/json" } },
      );
    });
    vi.stubGlobal("fetch", fetchMock);

    const tabA = await openTab();
    const tabB = await openTab();
    await Promise.all([tabA.restoreSession(), tabB.restoreSession()]);

    expect(maxInFlight).toBe(1);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    expect(tabA.accessToken()).toBe("tok-1");
    expect(tabB.accessToken()).toBe("tok-1");
    expect(tabB.sessionStatus()).toBe("signedIn");
    tabA.resetSessionForTests();
    tabB.resetSessionForTests();
  });

  it("shares one refresh between simultaneous callers in a tab", async () => {
    const fetchMock = vi.fn(async () =>
      new Response(JSON.stringify({ data: { refreshSession: { __typename: "Token", accessToken: "t", expiresIn: 900 } } }), {
        headers: { "Content-Type": "application/json" },
      }),
    );
    vi.stubGlobal("fetch", fetchMock);
    const tab = await openTab();
    const outcomes = await Promise.all([tab.refreshSession(), tab.refreshSession(), tab.refreshSession()]);
    expect(outcomes).toEqual(["ok", "ok", "ok"]);
    expect(fetchMock).toHaveBeenCalledTimes(1);
    tab.resetSessionForTests();
  });

  it("signs out when the refresh token is refused", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn(async () =>
        new Response(
          JSON.stringify({ data: { refreshSession: { __typename: "InvalidSession", code: "INVALID_SESSION", message: "x" } } }),
          { headers: { "Content-Type": "application/json" } },
        ),
      ),
    );
    const tab = await openTab();
    expect(await tab.restoreSession()).toBe("signedOut");
    expect(tab.accessToken()).toBeNull();
    tab.resetSessionForTests();
  });

  it("retries an operation once with a fresh token after UNAUTHENTICATED", async () => {
    const tab = await openTab();
    const { apiFetch } = await import("../api/fetch");
    tab.startSession("old", 900);
    const seen: string[] = [];
    vi.stubGlobal(
      "fetch",
      vi.fn(async (url: RequestInfo | URL, init?: RequestInit) => {
        if (String(url) === "/graphql/session") {
          return new Response(JSON.stringify({ data: { refreshSession: { __typename: "Token", accessToken: "new", expiresIn: 900 } } }), {
            headers: { "Content-Type": "application/json" },
          });
        }
        const auth = new Headers(init?.headers).get("Authorization") ?? "";
        seen.push(auth);
        const body = auth === "Bearer new" ? { data: { me: { id: "u" } } } : { errors: [{ message: "no", extensions: { code: "UNAUTHENTICATED" } }] };
        return new Response(JSON.stringify(body), { headers: { "Content-Type": "application/json" } });
      }),
    );
    const response = await apiFetch("/graphql", { method: "POST", body: "{}" });
    expect(await response.json()).toEqual({ data: { me: { id: "u" } } });
    expect(seen).toEqual(["Bearer old", "Bearer new"]);
    tab.resetSessionForTests();
  });
});
