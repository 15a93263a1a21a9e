import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { act, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { setLang } from "../i18n/lang";
import { endSession, resetSessionForTests, sessionStatus, startSession } from "./session";
import { guardUserData, hardNavigation } from "./userData";
import { uploads } from "../upload/queue";
import { loadDraft, saveDraft } from "../lib/drafts";
import { ApiProvider } from "../api/ApiProvider";
import { AccountPage } from "../pages/Account";
import { LibraryPage } from "../pages/Library";
import { fakeApi } from "../test/api";

/** An access token as the server makes them (only the `sub` claim is read here). */
function jwt(sub: string): string {
  const part = (value: object) => btoa(JSON.stringify(value)).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
  return `${part({ alg: "HS256" })}.${part({ sub, exp: 9999999999 })}.signature`;
}

/** Uploads that never finish by themselves: the network boundary of the queue. */
class HangingXhr {
  static all: HangingXhr[] = [];
  aborted = false;
  upload = { onprogress: null };
  onabort: (() => void) | null = null;
  constructor() {
    HangingXhr.all.push(this);
  }
  open() {}
  setRequestHeader() {}
  send() {}
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
}

const info = {
  serverInfo: { __typename: "ServerInfo", maxUploadBytes: 1_000_000, maxAudioSeconds: 3600, languages: [] },
};
function library(filename: string) {
  return {
    audios: {
      __typename: "AudioPage",
      total: 1,
      skip: 0,
      limit: 20,
      items: [
        {
          __typename: "Audio",
          id: `id-${filename}`,
          filename,
          durationSeconds: 5,
          language: "en",
          status: "COMPLETED",
          progress: 1,
          error: null,
          createdAt: "2026-12-01T10:00:00+00:00",
          version: 3,
        },
      ],
    },
  };
}
const account = {
  me: { __typename: "User", id: "u1", phoneNumber: "+998901234567", createdAt: "2026-12-01T10:00:00+00:00", vocabulary: [] },
  sessions: [],
};

let unguard: () => void = () => undefined;
beforeEach(() => {
  setLang("en");
  resetSessionForTests();
  uploads.reset();
  unguard = guardUserData();
  HangingXhr.all = [];
  vi.stubGlobal("XMLHttpRequest", HangingXhr);
});
afterEach(() => {
  unguard();
  uploads.reset();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});

const audioFile = () => new File([new Uint8Array(10)], "mine.mp3", { type: "audio/mpeg" });

describe("a browser shared by several people", () => {
  it.each([
    ["Sign out", "SignOut", { signOut: { __typename: "SignedOut", sessionsEnded: 1 } }],
    ["Sign out everywhere", "SignOutEverywhere", { signOutEverywhere: { __typename: "SignedOut", sessionsEnded: 3 } }],
  ] as const)("%s stops the uploads, drops the drafts and reloads the page", async (button, operation, answer) => {
    const assign = vi.spyOn(hardNavigation, "assign").mockImplementation(() => undefined);
    act(() => startSession(jwt("u1"), 900));
    saveDraft("a1", 0, { text: "half-typed", baseText: "", baseVersion: 1 });
    uploads.add([audioFile()], null);
    await waitFor(() => expect(HangingXhr.all).toHaveLength(1));
    fakeApi({ Account: () => account, [operation]: () => answer });
    render(
      <ApiProvider ws={false}>
        <AccountPage />
      </ApiProvider>,
    );
    await userEvent.click(await screen.findByRole("button", { name: button }));
    await waitFor(() => expect(assign).toHaveBeenCalledWith("/signin"));
    expect(HangingXhr.all[0]?.aborted).toBe(true);
    expect(uploads.snapshot()).toEqual([]);
    expect(loadDraft("a1", 0)).toBeNull();
    expect(Object.keys(localStorage).filter((k) => k.startsWith("ovoz.draft"))).toEqual([]);
    expect(sessionStatus()).toBe("signedOut");
  });

  it("deleting the account leaves nothing either", async () => {
    const assign = vi.spyOn(hardNavigation, "assign").mockImplementation(() => undefined);
    act(() => startSession(jwt("u1"), 900));
    saveDraft("a1", "full", { text: "draft", baseText: "", baseVersion: 1 });
    fakeApi({ Account: () => account, DeleteAccount: () => ({ deleteAccount: { __typename: "DeletedAccount", userId: "u1" } }) });
    render(
      <ApiProvider ws={false}>
        <AccountPage />
      </ApiProvider>,
    );
    await userEvent.type(await screen.findByLabelText("Type DELETE to confirm"), "delete");
    await userEvent.click(screen.getByRole("button", { name: "Delete account" }));
    await waitFor(() => expect(assign).toHaveBeenCalledWith("/signin"));
    expect(loadDraft("a1", "full")).toBeNull();
  });

  it("after one user's session expired, another signing in sees none of their recordings, uploads or drafts", async () => {
    let who = "first.mp3";
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    fakeApi({
      ServerInfo: () => info,
      Library: async () => {
        if (who === "second.mp3") await held;
        return library(who);
      },
    });
    act(() => startSession(jwt("u1"), 900));
    render(
      <ApiProvider ws={false}>
        <LibraryPage />
      </ApiProvider>,
    );
    expect(await screen.findByRole("link", { name: "first.mp3" })).toBeInTheDocument();
    saveDraft("id-first.mp3", 0, { text: "first user's words", baseText: "", baseVersion: 3 });
    act(() => uploads.add([audioFile()], null));
    await waitFor(() => expect(HangingXhr.all).toHaveLength(1));

    act(() => endSession({ broadcast: false })); // expired
    who = "second.mp3";
    act(() => startSession(jwt("u2"), 900));

    expect(screen.queryByRole("link", { name: "first.mp3" })).toBeNull();
    expect(screen.queryByText("mine.mp3")).toBeNull();
    expect(HangingXhr.all[0]?.aborted).toBe(true);
    expect(loadDraft("id-first.mp3", 0)).toBeNull();
    release();
    expect(await screen.findByRole("link", { name: "second.mp3" })).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "first.mp3" })).toBeNull();
  });

  it("the same user signing in again after the session expired keeps drafts and uploads", async () => {
    act(() => startSession(jwt("u1"), 900));
    saveDraft("a1", 0, { text: "kept", baseText: "", baseVersion: 1 });
    uploads.add([audioFile()], null);
    await waitFor(() => expect(HangingXhr.all).toHaveLength(1));
    act(() => endSession({ broadcast: false }));
    act(() => startSession(jwt("u1"), 900));
    expect(loadDraft("a1", 0)?.text).toBe("kept");
    expect(uploads.snapshot()).toHaveLength(1);
    expect(HangingXhr.all[0]?.aborted).toBe(false);
  });

  it("drafts another user left in this browser are dropped when someone else signs in on a fresh page", () => {
    localStorage.setItem("ovoz.draftOwner", "u1");
    saveDraft("a1", 0, { text: "u1's", baseText: "", baseVersion: 1 });
    act(() => startSession(jwt("u2"), 900));
    expect(loadDraft("a1", 0)).toBeNull();
    expect(localStorage.getItem("ovoz.draftOwner")).toBe("u2");
  });
});
