/** Test helpers: a real urql client over a fake network (fetch answered per operation). */
import type { ReactElement } from "react";
import { render } from "@testing-library/react";
import { Provider } from "urql";
import { vi } from "vitest";
import { makeClient } from "../api/client";

export interface Call {
  operationName: string;
  variables: Record<string, unknown>;
  headers: Headers;
}
/** The `data` of the answer, or a promise of it (to hold an answer back). */
export type Answer = (call: Call) => unknown;

/** Stub fetch: each GraphQL request is answered `{"data": answer(call)}`. */
export function fakeApi(answers: Record<string, Answer>) {
  const calls: Call[] = [];
  const fetchMock = vi.fn(async (_input: RequestInfo | URL, init?: RequestInit) => {
    const body = JSON.parse(String(init?.body ?? "{}")) as { query?: string; operationName?: string; variables?: Record<string, unknown> };
    const operationName = body.operationName ?? /(?:query|mutation)\s+(\w+)/.exec(body.query ?? "")?.[1] ?? "";
    const call = { operationName, variables: body.variables ?? {}, headers: new Headers(init?.headers) };
    calls.push(call);
    const answer = answers[operationName];
    if (!answer) throw new Error(`unexpected operation ${operationName}`);
    return new Response(JSON.stringify({ data: await answer(call) }), {
      status: 200,
      headers: { "Content-Type": "application/json" },
    });
  });
  vi.stubGlobal("fetch", fetchMock);
  return { calls, fetchMock, of: (name: string) => calls.filter((c) => c.operationName === name) };
}

export function renderWithClient(ui: ReactElement) {
  const client = makeClient({ ws: null });
  const view = render(<Provider value={client}>{ui}</Provider>);
  return { ...view, client, rerenderFresh: () => view.rerender(<Provider value={client}>{ui}</Provider>) };
}
