import { beforeEach, describe, expect, it } from "vitest";
import { act, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { setLang } from "../i18n/lang";
import { uploads } from "../upload/queue";
import { LibraryPage } from "./Library";
import { fakeApi, renderWithClient } from "../test/api";

const info = {
  serverInfo: { __typename: "ServerInfo", maxUploadBytes: 1_000_000, maxAudioSeconds: 3600, languages: [] },
};
const page = {
  audios: {
    __typename: "AudioPage",
    total: 1,
    skip: 0,
    limit: 20,
    items: [
      {
        __typename: "Audio",
        id: "a1",
        filename: "meeting.mp3",
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

beforeEach(() => {
  setLang("en");
  window.history.replaceState(null, "", "/");
});

describe("the library", () => {
  it("keeps the last good list on screen while the server cannot be reached", async () => {
    let down = false;
    fakeApi({
      ServerInfo: () => info,
      Library: () => {
        if (down) throw new TypeError("Failed to fetch");
        return page;
      },
    });
    renderWithClient(<LibraryPage />);
    expect(await screen.findByRole("link", { name: "meeting.mp3" })).toHaveAttribute("dir", "auto");
    expect(screen.getByText("1–1 of 1")).toBeInTheDocument();

    down = true; // e.g. the server restarts
    act(() => uploads.onUploaded("a2")); // anything that refetches the list
    const banner = await screen.findByRole("status");
    expect(banner).toHaveTextContent("Can't reach the server just now");
    expect(screen.getByRole("link", { name: "meeting.mp3" })).toBeInTheDocument();
    expect(screen.getByText("1–1 of 1")).toBeInTheDocument();
    expect(screen.queryByText(/No recordings yet/)).toBeNull();

    down = false;
    await userEvent.click(screen.getByRole("button", { name: "Try again" }));
    await waitFor(() => expect(screen.queryByRole("status")).toBeNull());
    expect(screen.getByRole("link", { name: "meeting.mp3" })).toBeInTheDocument();
  });

  it("says so, with a retry, when the very first fetch fails", async () => {
    fakeApi({
      ServerInfo: () => info,
      Library: () => {
        throw new TypeError("Failed to fetch");
      },
    });
    renderWithClient(<LibraryPage />);
    expect(await screen.findByRole("alert")).toHaveTextContent("Can't reach the server");
    expect(screen.getByRole("button", { name: "Try again" })).toBeInTheDocument();
  });

  it("makes the upload panel compact once there are recordings, the file input still there", async () => {
    let total = 0;
    fakeApi({
      ServerInfo: () => info,
      Library: () => (total === 0 ? { audios: { ...page.audios, total: 0, items: [] } } : page),
    });
    const view = renderWithClient(<LibraryPage />);
    await screen.findByText(/No recordings yet/);
    const panel = () => screen.getByRole("region", { name: "Add recordings" });
    expect(panel()).not.toHaveClass("compact");
    view.unmount();

    total = 1;
    renderWithClient(<LibraryPage />);
    await screen.findByRole("link", { name: "meeting.mp3" });
    expect(panel()).toHaveClass("compact");
    const input = screen.getByLabelText("Upload recordings");
    expect(input).toHaveAttribute("type", "file");
    expect(input).toBeEnabled();
    expect(screen.getByLabelText("Recording language")).toBeEnabled();
  });

  it("marks a recording in a language the server's model is not known to handle", async () => {
    const flagged = { ...page.audios.items[0]!, id: "a2", filename: "uzbek.mp3", language: "uz", languageUnsupported: true };
    fakeApi({
      ServerInfo: () => info,
      Library: () => ({ audios: { ...page.audios, total: 2, items: [flagged, { ...page.audios.items[0]!, languageUnsupported: false }] } }),
    });
    renderWithClient(<LibraryPage />);
    const item = (await screen.findByRole("link", { name: "uzbek.mp3" })).closest("li")!;
    const marker = item.querySelector(".lang-unsupported");
    expect(marker).toHaveTextContent("UZ");
    expect(marker).toHaveAttribute("title", "the speech model is not known to handle this language");
    expect(marker).toHaveTextContent(": the speech model is not known to handle this language");
    const other = screen.getByRole("link", { name: "meeting.mp3" }).closest("li")!;
    expect(other.querySelector(".lang-unsupported")).toBeNull();
  });
});
