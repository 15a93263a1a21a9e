import { describe, expect, it, beforeEach, vi } from "vitest";
import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { setLang } from "../i18n/lang";
import { RecordingPage } from "./Recording";
import { fakeApi, renderWithClient } from "../test/api";

interface Seg {
  id: number;
  start: number;
  end: number;
  text: string;
}

function recording(version: number, segments: Seg[]) {
  return {
    __typename: "Audio",
    id: "a1",
    filename: "meeting.mp3",
    contentType: "audio/mpeg",
    sizeBytes: 123456,
    durationSeconds: 12,
    status: "COMPLETED",
    progress: 1,
    language: "en",
    languageUncertain: false,
    languageUnsupported: false,
    prompt: null as string | null,
    transcriptText: segments.map((s) => s.text).join(" "),
    error: null,
    version,
    createdAt: "2026-12-01T10:00:00+00:00",
    updatedAt: "2026-12-01T10:00:00+00:00",
    fileUrl: `/audio/a1/file?v=${version}`,
    txt: "/audio/a1/export/txt",
    srt: "/audio/a1/export/srt",
    vtt: "/audio/a1/export/vtt",
    json: "/audio/a1/export/json",
    segments: segments.map((s) => ({
      __typename: "Segment",
      ...s,
      edited: false,
      words: [],
    })),
  };
}

const ORIGINAL: Seg[] = [
  { id: 0, start: 0, end: 4.5, text: "Hello there." },
  { id: 1, start: 4.5, end: 9.25, text: "How are you?" },
];

function segmentAt(start: number): HTMLElement {
  const el = document.querySelector<HTMLElement>(`[data-segment-start="${start}"]`);
  if (!el) throw new Error(`no segment at ${start}`);
  return el;
}

beforeEach(() => setLang("en"));

describe("the recording page", () => {
  it("shows segments with their start, one audio element and the four exports", async () => {
    const api = fakeApi({ Recording: () => ({ audio: recording(3, ORIGINAL) }) });
    renderWithClient(<RecordingPage id="a1" />);
    expect(await screen.findByRole("heading", { level: 1, name: "meeting.mp3" })).toBeInTheDocument();
    expect(document.querySelectorAll("audio")).toHaveLength(1);
    expect(document.querySelectorAll("[data-segment-start]")).toHaveLength(2);
    for (const name of ["TXT", "SRT", "VTT", "JSON"]) {
      expect(screen.getByRole("link", { name })).toHaveAttribute("href", `/audio/a1/export/${name.toLowerCase()}`);
    }
    // Not Uzbek: no Cyrillic asked for (the server would refuse it), no warning, no description.
    expect(api.of("CyrillicExports")).toHaveLength(0);
    expect(screen.queryByText(/Cyrillic/)).toBeNull();
    expect(screen.queryByText(/not known to handle/)).toBeNull();
    expect(screen.queryByText(/Described at upload/)).toBeNull();
  });

  it("offers an Uzbek recording's exports in Cyrillic too, each named apart from the Latin ones", async () => {
    const api = fakeApi({
      Recording: () => ({ audio: { ...recording(3, ORIGINAL), language: "uz" } }),
      CyrillicExports: () => ({
        audio: {
          __typename: "Audio",
          id: "a1",
          txt: "/audio/a1/export/txt?script=cyrl",
          srt: "/audio/a1/export/srt?script=cyrl",
          vtt: "/audio/a1/export/vtt?script=cyrl",
          json: "/audio/a1/export/json?script=cyrl",
        },
      }),
    });
    renderWithClient(<RecordingPage id="a1" />);
    const downloads = await screen.findByRole("navigation", { name: "Download" });
    await within(downloads).findByText("Uzbek Cyrillic:");
    for (const name of ["TXT", "SRT", "VTT", "JSON"]) {
      const format = name.toLowerCase();
      expect(within(downloads).getByRole("link", { name })).toHaveAttribute("href", `/audio/a1/export/${format}`);
      expect(within(downloads).getByRole("link", { name: `${name} (Cyrillic)` })).toHaveAttribute(
        "href",
        `/audio/a1/export/${format}?script=cyrl`,
      );
    }
    expect(api.of("CyrillicExports")[0]?.variables).toEqual({ id: "a1" });
  });

  it("warns when the server's model is not known to handle the language, and shows the upload's description", async () => {
    fakeApi({
      Recording: () => ({
        audio: { ...recording(3, ORIGINAL), language: "tr", languageUnsupported: true, prompt: "Board meeting: Dilnoza, Oʻktam" },
      }),
    });
    renderWithClient(<RecordingPage id="a1" />);
    expect(
      await screen.findByText("The speech model on this server is not known to handle Turkish: the transcript may be poor."),
    ).toHaveClass("warning");
    const note = screen.getByText(/Described at upload/);
    expect(note).toHaveTextContent("Described at upload: Board meeting: Dilnoza, Oʻktam");
  });

  it("seeks the player to a segment's start when it is clicked", async () => {
    fakeApi({ Recording: () => ({ audio: recording(3, ORIGINAL) }) });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("How are you?");
    await userEvent.click(screen.getByText("How are you?"));
    expect(document.querySelector("audio")?.currentTime).toBe(4.5);
  });

  it("plays and pauses with Space after a timestamp was clicked, and leaves other buttons their Space", async () => {
    const play = vi.spyOn(HTMLMediaElement.prototype, "play").mockResolvedValue(undefined);
    fakeApi({ Recording: () => ({ audio: recording(3, ORIGINAL) }) });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("How are you?");
    const stamp = within(segmentAt(4.5)).getByRole("button", { name: "Play from 0:04" });
    await userEvent.click(stamp);
    expect(stamp).toHaveFocus();
    expect(fireEvent.keyDown(stamp, { key: " ", code: "Space" })).toBe(false); // prevented
    expect(fireEvent.keyUp(stamp, { key: " ", code: "Space" })).toBe(false); // no second click
    expect(play).toHaveBeenCalledTimes(1);

    // A word: the page itself has the focus.
    expect(fireEvent.keyDown(document.body, { key: " ", code: "Space" })).toBe(false);
    expect(play).toHaveBeenCalledTimes(2);

    // Outside the transcript and the player, and on editing controls, Space is the button's.
    const del = screen.getByRole("button", { name: "Delete" });
    expect(fireEvent.keyDown(del, { key: " ", code: "Space" })).toBe(true);
    const edit = within(segmentAt(0)).getByRole("button", { name: "Edit" });
    expect(fireEvent.keyDown(edit, { key: " ", code: "Space" })).toBe(true);
    await userEvent.click(edit);
    const save = within(segmentAt(0)).getByRole("button", { name: "Save" });
    expect(fireEvent.keyDown(save, { key: " ", code: "Space" })).toBe(true);
    expect(fireEvent.keyDown(within(segmentAt(0)).getByRole("textbox"), { key: " ", code: "Space" })).toBe(true);
    expect(play).toHaveBeenCalledTimes(2);
    play.mockRestore();
  });

  it("saves an edited segment with Enter, carrying the version it was edited at", async () => {
    const api = fakeApi({
      Recording: () => ({ audio: recording(3, ORIGINAL) }),
      UpdateAudio: () => ({ updateAudio: recording(4, [ORIGINAL[0]!, { ...ORIGINAL[1]!, text: "How are you doing?" }]) }),
    });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("How are you?");
    const row = segmentAt(4.5);
    await userEvent.click(within(row).getByRole("button", { name: "Edit" }));
    const box = within(row).getByRole("textbox");
    await userEvent.clear(box);
    await userEvent.type(box, "How are you doing?{Enter}");
    await waitFor(() => expect(screen.getByText("How are you doing?")).toBeInTheDocument());
    expect(api.of("UpdateAudio")[0]?.variables).toEqual({
      id: "a1",
      input: { segments: [{ id: 1, text: "How are you doing?" }], expectedVersion: 3 },
    });
    expect(localStorage.getItem("ovoz.draft.a1.1")).toBeNull();
  });

  it("cancels with Esc and leaves the text as it was", async () => {
    const api = fakeApi({ Recording: () => ({ audio: recording(3, ORIGINAL) }) });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("Hello there.");
    const row = segmentAt(0);
    await userEvent.click(within(row).getByRole("button", { name: "Edit" }));
    await userEvent.type(within(row).getByRole("textbox"), " Extra{Escape}");
    expect(within(row).queryByRole("textbox")).toBeNull();
    expect(screen.getByText("Hello there.")).toBeInTheDocument();
    expect(api.of("UpdateAudio")).toHaveLength(0);
    expect(localStorage.getItem("ovoz.draft.a1.0")).toBeNull();
  });

  it("keeps an unsaved draft through a remount (a reload)", async () => {
    fakeApi({ Recording: () => ({ audio: recording(3, ORIGINAL) }) });
    const first = renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("Hello there.");
    const row = segmentAt(0);
    await userEvent.click(within(row).getByRole("button", { name: "Edit" }));
    await userEvent.type(within(row).getByRole("textbox"), " General Kenobi.");
    first.unmount();

    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("How are you?");
    const again = within(segmentAt(0));
    expect(again.getByRole("textbox")).toHaveValue("Hello there. General Kenobi.");
    expect(again.getByText("Your unsaved draft was restored.")).toBeInTheDocument();
  });

  it("on a conflict shows both versions and saves mine on top of theirs when I choose it", async () => {
    let server = recording(3, ORIGINAL);
    const api = fakeApi({
      Recording: () => ({ audio: server }),
      UpdateAudio: ({ variables }) => {
        const input = variables.input as { expectedVersion: number; segments: Seg[] };
        if (input.expectedVersion !== server.version) {
          return { updateAudio: { __typename: "VersionConflict", code: "VERSION_CONFLICT", message: "Changed meanwhile", currentVersion: server.version } };
        }
        const text = input.segments[0]!.text;
        server = recording(server.version + 1, [{ ...ORIGINAL[0]!, text }, ORIGINAL[1]!]);
        return { updateAudio: server };
      },
    });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("Hello there.");
    const row = segmentAt(0);
    await userEvent.click(within(row).getByRole("button", { name: "Edit" }));
    const box = within(row).getByRole("textbox");
    await userEvent.clear(box);
    await userEvent.type(box, "Mine.");

    // Meanwhile someone else saves the same segment.
    server = recording(4, [{ ...ORIGINAL[0]!, text: "Theirs." }, ORIGINAL[1]!]);
    await userEvent.click(within(row).getByRole("button", { name: "Save" }));

    const choice = await within(segmentAt(0)).findByRole("group", { name: /changed elsewhere \(another tab or device\)/ });
    expect(within(choice).getByText("Theirs.")).toBeInTheDocument();
    expect(within(choice).getByRole("textbox", { name: "Your version" })).toHaveValue("Mine.");
    expect(JSON.parse(localStorage.getItem("ovoz.draft.a1.0") ?? "{}").text).toBe("Mine.");

    await userEvent.click(within(choice).getByRole("button", { name: "Keep mine" }));
    await waitFor(() => expect(within(segmentAt(0)).getByText("Mine.")).toBeInTheDocument());
    const saves = api.of("UpdateAudio").map((c) => (c.variables.input as { expectedVersion: number }).expectedVersion);
    expect(saves).toEqual([3, 4]);
    expect(server.segments[0]?.text).toBe("Mine.");
    expect(localStorage.getItem("ovoz.draft.a1.0")).toBeNull();
  });

  it("on a conflict can take theirs, dropping the draft", async () => {
    let server = recording(3, ORIGINAL);
    fakeApi({
      Recording: () => ({ audio: server }),
      UpdateAudio: () => ({ updateAudio: { __typename: "VersionConflict", code: "VERSION_CONFLICT", message: "x", currentVersion: 4 } }),
    });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("Hello there.");
    await userEvent.click(within(segmentAt(0)).getByRole("button", { name: "Edit" }));
    await userEvent.type(within(segmentAt(0)).getByRole("textbox"), "!");
    server = recording(4, [{ ...ORIGINAL[0]!, text: "Theirs." }, ORIGINAL[1]!]);
    await userEvent.click(within(segmentAt(0)).getByRole("button", { name: "Save" }));
    await userEvent.click(await screen.findByRole("button", { name: "Use the saved one" }));
    expect(within(segmentAt(0)).getByText("Theirs.")).toBeInTheDocument();
    expect(localStorage.getItem("ovoz.draft.a1.0")).toBeNull();
  });

  it("is no conflict when someone changed only another segment: it saves again at the new version", async () => {
    let server = recording(3, ORIGINAL);
    const api = fakeApi({
      Recording: () => ({ audio: server }),
      UpdateAudio: ({ variables }) => {
        const input = variables.input as { expectedVersion: number };
        if (input.expectedVersion !== server.version) {
          return { updateAudio: { __typename: "VersionConflict", code: "VERSION_CONFLICT", message: "x", currentVersion: server.version } };
        }
        server = recording(server.version + 1, [{ ...ORIGINAL[0]!, text: "Edited first." }, { ...ORIGINAL[1]!, text: "Other edit." }]);
        return { updateAudio: server };
      },
    });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("Hello there.");
    await userEvent.click(within(segmentAt(0)).getByRole("button", { name: "Edit" }));
    const box = within(segmentAt(0)).getByRole("textbox");
    await userEvent.clear(box);
    await userEvent.type(box, "Edited first.");
    server = recording(4, [ORIGINAL[0]!, { ...ORIGINAL[1]!, text: "Other edit." }]);
    await userEvent.keyboard("{Enter}");
    await waitFor(() => expect(screen.getByText("Edited first.")).toBeInTheDocument());
    expect(screen.queryByRole("group", { name: /changed elsewhere \(another tab or device\)/ })).toBeNull();
    expect(api.of("UpdateAudio").map((c) => (c.variables.input as { expectedVersion: number }).expectedVersion)).toEqual([3, 4]);
  });

  it("sends the UI language with every request", async () => {
    setLang("ru");
    const api = fakeApi({ Recording: () => ({ audio: recording(3, ORIGINAL) }) });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("Hello there.");
    expect(api.calls[0]?.headers.get("Accept-Language")).toBe("ru");
  });
});

describe("speakers", () => {
  const TALK: (Seg & { speaker: string | null })[] = [
    { id: 0, start: 0, end: 3, text: "Good morning.", speaker: "S1" },
    { id: 1, start: 3, end: 6, text: "Shall we begin?", speaker: "S1" },
    { id: 2, start: 6, end: 8, text: "Yes, please.", speaker: "S2" },
    { id: 3, start: 8, end: 12, text: "First the budget.", speaker: "S1" },
  ];
  type Named = { id: string; name: string; renamed: boolean };
  const DEFAULTS: Named[] = [
    { id: "S1", name: "Speaker 1", renamed: false },
    { id: "S2", name: "Speaker 2", renamed: false },
  ];

  function talk(version: number, speakers: Named[] = DEFAULTS, segments = TALK) {
    const base = recording(version, segments);
    return {
      ...base,
      segments: base.segments.map((s, i) => ({ ...s, speaker: segments[i]?.speaker ?? null })),
      speakers: speakers.map((s) => ({ __typename: "Speaker", ...s })),
    };
  }

  const namesIn = (el: Element | null) =>
    [...(el?.querySelectorAll(".seg-speaker") ?? [])].map((n) => n.closest("[data-segment-start]")?.getAttribute("data-segment-start") + " " + n.textContent);

  it("names the speaker above each run of their segments, and lists who speaks and how much", async () => {
    fakeApi({ Recording: () => ({ audio: talk(3) }) });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("Shall we begin?");
    expect(namesIn(document.querySelector("ol.segments"))).toEqual(["0 Speaker 1", "6 Speaker 2", "8 Speaker 1"]);
    // The names sit outside the text a segment's editor edits.
    await userEvent.click(within(segmentAt(6)).getByRole("button", { name: "Edit" }));
    expect(within(segmentAt(6)).getByRole("textbox")).toHaveValue("Yes, please.");

    const list = screen.getByRole("region", { name: "Speakers" });
    const items = within(list).getAllByRole("listitem");
    expect(items.map((li) => li.textContent)).toEqual([
      "Speaker 1speaks 0:10 (83%)Rename",
      "Speaker 2speaks 0:02 (17%)Rename",
    ]);
    // Each has its own marker, and the transcript's marker is the list's.
    const marks = items.map((li) => li.querySelector(".speaker-mark")?.className);
    expect(new Set(marks).size).toBe(2);
    expect(segmentAt(6).querySelector(".speaker-mark")?.className).toBe(marks[1]);
  });

  it("shows no names for a single speaker", async () => {
    const alone = TALK.map((s) => ({ ...s, speaker: "S1" }));
    fakeApi({ Recording: () => ({ audio: talk(3, [DEFAULTS[0]!], alone) }) });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("Shall we begin?");
    expect(document.querySelectorAll(".seg-speaker")).toHaveLength(0);
    expect(screen.queryByText("Speaker 1")).toBeNull();
    expect(screen.queryByRole("region", { name: "Speakers" })).toBeNull();
  });

  it("renames a speaker with Enter, carrying the version, and the name changes everywhere", async () => {
    const api = fakeApi({
      Recording: () => ({ audio: talk(3) }),
      RenameSpeaker: () => ({ renameSpeaker: talk(4, [{ id: "S1", name: "Dilnoza", renamed: true }, DEFAULTS[1]!]) }),
    });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("Shall we begin?");
    await userEvent.click(screen.getByRole("button", { name: "Rename Speaker 1" }));
    const box = screen.getByRole("textbox", { name: "New name for Speaker 1" });
    expect(box).toHaveValue("Speaker 1");
    await userEvent.clear(box);
    await userEvent.type(box, "Dilnoza{Enter}");
    await waitFor(() => expect(namesIn(document.querySelector("ol.segments"))).toEqual(["0 Dilnoza", "6 Speaker 2", "8 Dilnoza"]));
    expect(screen.queryByRole("textbox", { name: /New name/ })).toBeNull();
    expect(screen.getByRole("button", { name: "Rename Dilnoza" })).toHaveFocus();
    expect(api.of("RenameSpeaker")[0]?.variables).toEqual({ audioId: "a1", speaker: "S1", name: "Dilnoza", expectedVersion: 3 });
  });

  it("cancels with Esc without sending anything", async () => {
    const api = fakeApi({ Recording: () => ({ audio: talk(3) }) });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("Shall we begin?");
    await userEvent.click(screen.getByRole("button", { name: "Rename Speaker 2" }));
    await userEvent.type(screen.getByRole("textbox", { name: "New name for Speaker 2" }), "Aziz{Escape}");
    expect(screen.queryByRole("textbox", { name: /New name/ })).toBeNull();
    expect(namesIn(document.querySelector("ol.segments"))).toEqual(["0 Speaker 1", "6 Speaker 2", "8 Speaker 1"]);
    expect(api.of("RenameSpeaker")).toHaveLength(0);
  });

  it("shows the server's reason beside the field when the name is refused", async () => {
    fakeApi({
      Recording: () => ({ audio: talk(3) }),
      RenameSpeaker: () => ({
        renameSpeaker: {
          __typename: "InvalidSpeakerName",
          code: "INVALID_SPEAKER_NAME",
          message: "A speaker's name is 1 to 60 characters of plain text.",
        },
      }),
    });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("Shall we begin?");
    await userEvent.click(screen.getByRole("button", { name: "Rename Speaker 1" }));
    const box = screen.getByRole("textbox", { name: "New name for Speaker 1" });
    await userEvent.clear(box);
    await userEvent.type(box, "   {Enter}");
    const error = await screen.findByRole("alert");
    expect(error).toHaveTextContent("A speaker's name is 1 to 60 characters of plain text.");
    expect(box).toHaveAttribute("aria-invalid", "true");
    expect(box).toHaveAccessibleDescription("A speaker's name is 1 to 60 characters of plain text.");
    expect(box).toHaveValue("   "); // still there to correct
  });

  it("on a conflict reads the recording again: saves on top when the name was not touched", async () => {
    let server = talk(3);
    const api = fakeApi({
      Recording: () => ({ audio: server }),
      RenameSpeaker: ({ variables }) => {
        if (variables.expectedVersion !== server.version) {
          return { renameSpeaker: { __typename: "VersionConflict", code: "VERSION_CONFLICT", message: "x", currentVersion: server.version } };
        }
        server = talk(server.version + 1, [DEFAULTS[0]!, { id: "S2", name: String(variables.name), renamed: true }]);
        return { renameSpeaker: server };
      },
    });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("Shall we begin?");
    await userEvent.click(screen.getByRole("button", { name: "Rename Speaker 2" }));
    server = talk(4); // someone edited the text meanwhile, not the names
    const box = screen.getByRole("textbox", { name: "New name for Speaker 2" });
    await userEvent.clear(box);
    await userEvent.type(box, "Aziz{Enter}");
    await waitFor(() => expect(namesIn(document.querySelector("ol.segments"))).toContain("6 Aziz"));
    expect(api.of("RenameSpeaker").map((c) => c.variables.expectedVersion)).toEqual([3, 4]);
  });

  it("on a conflict over the same name asks again: keep mine saves at the new version, or take theirs", async () => {
    let server = talk(3);
    const api = fakeApi({
      Recording: () => ({ audio: server }),
      RenameSpeaker: ({ variables }) => {
        if (variables.expectedVersion !== server.version) {
          return { renameSpeaker: { __typename: "VersionConflict", code: "VERSION_CONFLICT", message: "x", currentVersion: server.version } };
        }
        server = talk(server.version + 1, [DEFAULTS[0]!, { id: "S2", name: String(variables.name), renamed: true }]);
        return { renameSpeaker: server };
      },
    });
    renderWithClient(<RecordingPage id="a1" />);
    await screen.findByText("Shall we begin?");
    await userEvent.click(screen.getByRole("button", { name: "Rename Speaker 2" }));
    server = talk(4, [DEFAULTS[0]!, { id: "S2", name: "Mr Aziz", renamed: true }]); // another tab named them
    const box = screen.getByRole("textbox", { name: "New name for Speaker 2" });
    await userEvent.clear(box);
    await userEvent.type(box, "Aziz{Enter}");

    const choice = await screen.findByRole("group", { name: /renamed elsewhere to “Mr Aziz”/ });
    // Their name already shows in the transcript; mine waits in the field.
    expect(namesIn(document.querySelector("ol.segments"))).toContain("6 Mr Aziz");
    expect(box).toHaveValue("Aziz");
    await userEvent.click(within(choice).getByRole("button", { name: "Keep mine" }));
    await waitFor(() => expect(namesIn(document.querySelector("ol.segments"))).toContain("6 Aziz"));
    expect(api.of("RenameSpeaker").map((c) => c.variables.expectedVersion)).toEqual([3, 4]);

    // Again, this time taking theirs: nothing more is sent.
    await userEvent.click(screen.getByRole("button", { name: "Rename Aziz" }));
    server = talk(6, [DEFAULTS[0]!, { id: "S2", name: "Aziz aka", renamed: true }]);
    await userEvent.type(screen.getByRole("textbox", { name: "New name for Aziz" }), "!{Enter}");
    await userEvent.click(await screen.findByRole("button", { name: "Use the saved one" }));
    expect(screen.queryByRole("textbox", { name: /New name/ })).toBeNull();
    expect(namesIn(document.querySelector("ol.segments"))).toContain("6 Aziz aka");
    expect(api.of("RenameSpeaker")).toHaveLength(3);
  });
});
