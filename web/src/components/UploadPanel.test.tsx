import { beforeEach, describe, expect, it, vi } from "vitest";
import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { setLang } from "../i18n/lang";
import { UploadQueue } from "../upload/queue";
import { UploadPanel } from "./UploadPanel";
import { fakeApi, renderWithClient } from "../test/api";

/** The network boundary of uploads: a scripted XMLHttpRequest. */
class FakeXhr {
  static all: FakeXhr[] = [];
  headers: Record<string, string> = {};
  method = "";
  url = "";
  body: FormData | null = null;
  status = 0;
  responseText = "";
  aborted = false;
  upload: { onprogress: ((e: ProgressEvent) => void) | null } = { onprogress: null };
  onload: (() => void) | null = null;
  onerror: (() => void) | null = null;
  ontimeout: (() => void) | null = null;
  onabort: (() => void) | null = null;
  constructor() {
    FakeXhr.all.push(this);
  }
  open(method: string, url: string) {
    this.method = method;
    this.url = url;
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name.toLowerCase()] = value;
  }
  send(body: FormData) {
    this.body = body;
  }
  abort() {
    this.aborted = true;
    this.onabort?.();
  }
  progress(loaded: number, total: number) {
    act(() => this.upload.onprogress?.({ loaded, total, lengthComputable: true } as ProgressEvent));
  }
  answer(status: number, body: unknown) {
    this.status = status;
    this.responseText = JSON.stringify(body);
    act(() => this.onload?.());
  }
  drop() {
    act(() => this.onerror?.());
  }
}

function file(name: string, size: number): File {
  return new File([new Uint8Array(size)], name, { type: "audio/mpeg" });
}

const info = {
  serverInfo: {
    __typename: "ServerInfo",
    maxUploadBytes: 1000,
    maxAudioSeconds: 3600,
    languages: [
      { __typename: "LanguageSupport", code: "uz", name: "Oʻzbekcha", supported: false },
      { __typename: "LanguageSupport", code: "ru", name: "Русский", supported: true },
      { __typename: "LanguageSupport", code: "en", name: "English", supported: true },
    ],
    refusesUnsupportedLanguages: false,
  },
};

async function setup() {
  fakeApi({ ServerInfo: () => info });
  const queue = new UploadQueue();
  renderWithClient(<UploadPanel queue={queue} />);
  await screen.findByText(/Up to 1 kB per file/);
  return queue;
}

beforeEach(() => {
  setLang("en");
  FakeXhr.all = [];
  vi.stubGlobal("XMLHttpRequest", FakeXhr);
});

describe("the upload queue", () => {
  it("sends a multipart request with the preflight header and shows its progress", async () => {
    await setup();
    await userEvent.upload(screen.getByLabelText("Upload recordings"), file("a.mp3", 400));
    await waitFor(() => expect(FakeXhr.all).toHaveLength(1));
    const xhr = FakeXhr.all[0]!;
    expect(xhr.url).toBe("/graphql");
    expect(xhr.headers["apollo-require-preflight"]).toBe("1");
    expect(xhr.headers["accept-language"]).toBe("en");
    expect(JSON.parse(String(xhr.body?.get("map")))).toEqual({ "0": ["variables.file"] });
    expect(JSON.parse(String(xhr.body?.get("operations"))).variables).toEqual({ file: null, language: null });
    expect((xhr.body?.get("0") as File).name).toBe("a.mp3");

    xhr.progress(100, 400);
    const bar = await screen.findByRole("progressbar", { name: "Upload of a.mp3" });
    expect(bar).toHaveAttribute("value", "0.25");
    expect(screen.getByText("Uploading 25%")).toBeInTheDocument();

    xhr.answer(200, { data: { uploadAudio: { __typename: "Audio", id: "a9", filename: "a.mp3", status: "QUEUED" } } });
    expect(await screen.findByText("Uploaded")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Open" })).toHaveAttribute("href", "/audio/a9");
  });

  it("refuses a file over the server's limit before sending a byte", async () => {
    await setup();
    await userEvent.upload(screen.getByLabelText("Upload recordings"), file("big.wav", 2000));
    const row = (await screen.findByText("big.wav")).closest("li")!;
    expect(within(row).getByRole("alert")).toHaveTextContent("This file is 2 kB; the limit is 1 kB.");
    expect(FakeXhr.all).toHaveLength(0);
  });

  it("says the sizes in bytes when rounding would make them alike", async () => {
    await setup();
    await userEvent.upload(screen.getByLabelText("Upload recordings"), file("edge.wav", 1001));
    const row = (await screen.findByText("edge.wav")).closest("li")!;
    expect(within(row).getByRole("alert")).toHaveTextContent("This file is 1,001 B; the limit is 1,000 B.");
  });

  it("cancels an upload in flight and offers it again", async () => {
    await setup();
    await userEvent.upload(screen.getByLabelText("Upload recordings"), file("a.mp3", 400));
    await waitFor(() => expect(FakeXhr.all).toHaveLength(1));
    await userEvent.click(screen.getByRole("button", { name: "Cancel" }));
    expect(FakeXhr.all[0]!.aborted).toBe(true);
    expect(await screen.findByText("Upload stopped")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Upload again" }));
    await waitFor(() => expect(FakeXhr.all).toHaveLength(2));
  });

  it("shows the server's typed refusal beside the file", async () => {
    await setup();
    await userEvent.upload(screen.getByLabelText("Upload recordings"), file("notes.txt", 10));
    await waitFor(() => expect(FakeXhr.all).toHaveLength(1));
    FakeXhr.all[0]!.answer(200, {
      data: { uploadAudio: { __typename: "InvalidAudio", code: "INVALID_AUDIO", message: "This is not an audio file.", reason: "NOT_AUDIO" } },
    });
    const row = (await screen.findByText("notes.txt")).closest("li")!;
    expect(await within(row).findByRole("alert")).toHaveTextContent("This is not an audio file.");
    expect(within(row).getByText("Not accepted")).toBeInTheDocument();
    expect(within(row).queryByRole("button", { name: "Upload again" })).toBeNull();
  });

  it("offers a retry when the connection drops mid-upload", async () => {
    await setup();
    await userEvent.upload(screen.getByLabelText("Upload recordings"), file("a.mp3", 400));
    await waitFor(() => expect(FakeXhr.all).toHaveLength(1));
    FakeXhr.all[0]!.progress(200, 400);
    FakeXhr.all[0]!.drop();
    expect(await screen.findByText("The connection dropped during the upload.")).toBeInTheDocument();
    await userEvent.click(screen.getByRole("button", { name: "Upload again" }));
    await waitFor(() => expect(FakeXhr.all).toHaveLength(2));
  });

  it("uploads several files, two at a time, with the remembered language", async () => {
    await setup();
    await userEvent.selectOptions(screen.getByLabelText("Recording language"), "ru");
    await userEvent.upload(screen.getByLabelText("Upload recordings"), [file("1.mp3", 1), file("2.mp3", 1), file("3.mp3", 1)]);
    await waitFor(() => expect(FakeXhr.all).toHaveLength(2));
    expect(JSON.parse(String(FakeXhr.all[0]!.body?.get("operations"))).variables.language).toBe("ru");
    expect(localStorage.getItem("ovoz.uploadLanguage")).toBe("ru");
    FakeXhr.all[0]!.answer(200, { data: { uploadAudio: { __typename: "Audio", id: "x", filename: "1.mp3", status: "QUEUED" } } });
    await waitFor(() => expect(FakeXhr.all).toHaveLength(3));
  });

  it("shows file names without bidi controls, isolated in their own direction", async () => {
    await setup();
    const tricky = "report\u202Egnp.\u2066mp3\u2069\u200F";
    await userEvent.upload(screen.getByLabelText("Upload recordings"), [file(tricky, 1)]);
    const name = document.querySelector(".upload-item .filename");
    expect(name?.textContent).toBe("reportgnp.mp3");
    expect(name).toHaveAttribute("dir", "auto");
    expect(screen.getByRole("progressbar", { name: "Upload of reportgnp.mp3" })).toBeInTheDocument();
  });

  it("warns before an Uzbek upload when the server's model does not handle Uzbek", async () => {
    await setup();
    expect(screen.queryByText(/does not handle/)).toBeNull();
    await userEvent.selectOptions(screen.getByLabelText("Recording language"), "uz");
    expect(screen.getByText(/does not handle Uzbek well yet/)).toBeInTheDocument();
    expect(screen.queryByText(/Oʻzbekcha/, { selector: "p" })).toBeNull();
  });

  it.each([
    ["uz", "Bu serverdagi nutq modeli oʻzbek tilini hali yaxshi tanimaydi"],
    ["ru", "Речевая модель на этом сервере пока плохо распознаёт узбекский язык"],
  ] as const)("names Uzbek as a word of the UI language (%s), not by its endonym", async (lang, sentence) => {
    localStorage.setItem("ovoz.uploadLanguage", "uz");
    setLang(lang);
    fakeApi({ ServerInfo: () => info });
    renderWithClient(<UploadPanel queue={new UploadQueue()} />);
    expect(await screen.findByRole("status")).toHaveTextContent(sentence);
  });

  it("sends the description with the files added while it is there, and counts its characters", async () => {
    await setup();
    await userEvent.click(screen.getByText("Describe the recording (optional)"));
    const prompt = screen.getByRole("textbox", { name: "What is this recording about? Names, topic…" });
    expect(prompt).toHaveAttribute("maxlength", "800");
    expect(prompt).toHaveAccessibleDescription(expect.stringContaining("0 of 800 characters"));
    await userEvent.type(prompt, "Board meeting: Dilnoza, Oʻktam");
    expect(screen.getByText("30 of 800 characters")).toBeInTheDocument();

    await userEvent.upload(screen.getByLabelText("Upload recordings"), [file("1.mp3", 1), file("2.mp3", 1)]);
    await waitFor(() => expect(FakeXhr.all).toHaveLength(2));
    for (const xhr of FakeXhr.all) {
      expect(JSON.parse(String(xhr.body?.get("operations"))).variables).toEqual({
        file: null,
        language: null,
        prompt: "Board meeting: Dilnoza, Oʻktam",
      });
    }

    // Cleared: the next file goes without one (no variable at all).
    await userEvent.clear(prompt);
    await userEvent.upload(screen.getByLabelText("Upload recordings"), file("3.mp3", 1));
    FakeXhr.all[0]!.answer(200, { data: { uploadAudio: { __typename: "Audio", id: "x", filename: "1.mp3", status: "QUEUED" } } });
    await waitFor(() => expect(FakeXhr.all).toHaveLength(3));
    expect(JSON.parse(String(FakeXhr.all[2]!.body?.get("operations"))).variables).toEqual({ file: null, language: null });
  });

  it.each([
    [
      "InvalidPrompt",
      { __typename: "InvalidPrompt", code: "INVALID_PROMPT", message: "The prompt must be plain text of at most 800 characters.", maxChars: 800 },
    ],
    [
      "UnsupportedLanguage",
      {
        __typename: "UnsupportedLanguage",
        code: "UNSUPPORTED_LANGUAGE",
        message: "This server's model is not known to handle uz. An administrator has to configure a model for it in WHISPER_MODELS.",
        language: "uz",
      },
    ],
  ])("shows %s beside the file", async (_name, refusal) => {
    await setup();
    await userEvent.click(screen.getByText("Describe the recording (optional)"));
    await userEvent.type(screen.getByRole("textbox", { name: "What is this recording about? Names, topic…" }), "x");
    await userEvent.upload(screen.getByLabelText("Upload recordings"), file("talk.mp3", 10));
    await waitFor(() => expect(FakeXhr.all).toHaveLength(1));
    FakeXhr.all[0]!.answer(200, { data: { uploadAudio: refusal } });
    const row = (await screen.findByText("talk.mp3")).closest("li")!;
    expect(await within(row).findByRole("alert")).toHaveTextContent(refusal.message);
    expect(within(row).getByText("Not accepted")).toBeInTheDocument();
    expect(within(row).queryByRole("link", { name: "Open" })).toBeNull();
  });

  it("says an Uzbek upload will be refused when the server refuses languages its model does not handle", async () => {
    fakeApi({ ServerInfo: () => ({ serverInfo: { ...info.serverInfo, refusesUnsupportedLanguages: true } }) });
    renderWithClient(<UploadPanel queue={new UploadQueue()} />);
    await screen.findByText(/Up to 1 kB per file/);
    await userEvent.selectOptions(screen.getByLabelText("Recording language"), "uz");
    expect(screen.getByRole("status")).toHaveTextContent(
      "The speech model on this server does not handle Uzbek yet: uploads in it will be refused.",
    );
  });
});
