import { beforeEach, describe, expect, it } from "vitest";
import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { setLang } from "../i18n/lang";
import { HistoryPage } from "./History";
import { fakeApi, renderWithClient } from "../test/api";

type Event = { version: number; type: string };
const at = "2026-12-01T10:00:00+00:00";

function history(version: number, events: Event[]) {
  return {
    me: { __typename: "User", id: "u1" },
    audio: { __typename: "Audio", id: "a1", filename: "meeting.mp3", version, status: "COMPLETED" },
    auditTrail: events.map((e) => ({ __typename: "AuditEntry", ...e, at, actor: "u1", summary: "", redacted: false })),
  };
}

const EVENTS: Event[] = [
  { version: 1, type: "AudioUploaded" },
  { version: 2, type: "TranscriptionStarted" },
  { version: 3, type: "TranscriptionCompleted" },
  { version: 4, type: "TranscriptEdited" },
];

beforeEach(() => setLang("en"));

describe("history", () => {
  it("confirms a restore after the version view has closed", async () => {
    let current = 4;
    const api = fakeApi({
      History: () => history(current, current === 4 ? EVENTS : [...EVENTS, { version: 5, type: "TranscriptEdited" }]),
      AudioVersion: () => ({ audio: { __typename: "Audio", id: "a1", version: 3, transcriptText: "As transcribed.", segments: [] } }),
      UpdateAudio: () => {
        current = 5;
        return { updateAudio: { __typename: "Audio", id: "a1", version: 5 } };
      },
    });
    window.history.replaceState(null, "", "/audio/a1/history?version=3");
    renderWithClient(<HistoryPage id="a1" />);
    expect(await screen.findByText("As transcribed.")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Restore this version" }));

    expect(await screen.findByRole("status")).toHaveTextContent("Version 3 restored as version 5.");
    expect(window.location.search).not.toContain("version=");
    expect(screen.queryByRole("button", { name: "Restore this version" })).toBeNull();
    await waitFor(() => expect(screen.getAllByText(/Version 5/).length).toBeGreaterThan(0));
    expect(screen.getByRole("status")).toHaveTextContent("Version 3 restored as version 5.");
    expect(api.of("UpdateAudio")[0]?.variables).toEqual({ id: "a1", input: { transcriptText: "As transcribed.", expectedVersion: 4 } });
  });

  it("offers to view only the versions that have a transcript", async () => {
    fakeApi({ History: () => history(4, EVENTS) });
    window.history.replaceState(null, "", "/audio/a1/history");
    renderWithClient(<HistoryPage id="a1" />);
    await screen.findByRole("list", { name: "Changes, newest first" });
    const links = screen.queryAllByRole("link", { name: /^View version/ }).map((a) => a.getAttribute("aria-label"));
    expect(links).toEqual(["View version 4", "View version 3"]);
  });
});
