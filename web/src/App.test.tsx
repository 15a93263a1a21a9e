import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { act, fireEvent, screen } from "@testing-library/react";
import { setLang } from "./i18n/lang";
import { resetSessionForTests, startSession } from "./auth/session";
import { App } from "./App";
import { fakeApi, renderWithClient } from "./test/api";

beforeEach(() => {
  setLang("en");
  resetSessionForTests();
});
afterEach(() => resetSessionForTests());

describe("the not-found page", () => {
  it("links back with the router, not a full page load", async () => {
    fakeApi({
      ServerInfo: () => ({ serverInfo: { __typename: "ServerInfo", maxUploadBytes: 1000, maxAudioSeconds: 60, languages: [] } }),
      Library: () => ({ audios: { __typename: "AudioPage", total: 0, skip: 0, limit: 20, items: [] } }),
    });
    window.history.replaceState(null, "", "/no/such/page");
    act(() => startSession("x.eyJzdWIiOiJ1MSJ9.y", 900));
    renderWithClient(<App />);
    const back = await screen.findByRole("link", { name: "All recordings" });
    expect(fireEvent.click(back)).toBe(false); // default (a page load) prevented
    expect(window.location.pathname).toBe("/");
    expect(await screen.findByRole("heading", { level: 1, name: "Your recordings" })).toBeInTheDocument();
  });
});
