/**
 * The upload queue: files wait, upload two at a time with progress, and end uploaded,
 * refused (with the reason beside the file) or failed (retry offered). Kept outside React
 * so uploads go on while the user moves between pages.
 */
import { uploadAudio, type UploadHandle, type UploadOutcome } from "../api/upload";
import type { MessageKey } from "../i18n";

export type UploadState = "waiting" | "uploading" | "uploaded" | "refused" | "failed" | "cancelled";

export interface UploadItem {
  id: number;
  file: File;
  language: string | null;
  /** What the user said the recording is about, sent with it (null: nothing). */
  prompt: string | null;
  state: UploadState;
  loaded: number;
  total: number;
  /** The server's own words (already in the user's language), or one of ours. */
  message: { text: string } | { key: MessageKey; vars?: Record<string, string | number> } | null;
  audioId: string | null;
}

export type Uploader = typeof uploadAudio;
const PARALLEL = 2;

export class UploadQueue {
  private items: UploadItem[] = [];
  private handles = new Map<number, UploadHandle>();
  private listeners = new Set<() => void>();
  private nextId = 1;
  /** Set from serverInfo; files above it are refused before a byte is sent. */
  maxUploadBytes: number | null = null;
  /** Called after each upload the server accepted (e.g. to refresh the library). */
  onUploaded: (audioId: string) => void = () => undefined;

  constructor(private readonly upload: Uploader = uploadAudio) {}

  snapshot = (): readonly UploadItem[] => this.items;

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  add(files: Iterable<File>, language: string | null, prompt: string | null = null): void {
    const about = prompt?.trim() || null;
    for (const file of files) {
      const item: UploadItem = {
        id: this.nextId++,
        file,
        language,
        prompt: about,
        state: "waiting",
        loaded: 0,
        total: file.size,
        message: null,
        audioId: null,
      };
      if (this.maxUploadBytes !== null && file.size > this.maxUploadBytes) {
        item.state = "refused";
        item.message = { key: "upload.tooLarge", vars: { size: file.size, max: this.maxUploadBytes } };
      }
      this.items = [...this.items, item];
    }
    this.emit();
    this.pump();
  }

  cancel(id: number): void {
    const item = this.find(id);
    if (!item) return;
    if (item.state === "uploading") this.handles.get(id)?.abort();
    else if (item.state === "waiting") this.update(id, { state: "cancelled" });
  }

  retry(id: number): void {
    const item = this.find(id);
    if (!item || (item.state !== "failed" && item.state !== "cancelled")) return;
    this.update(id, { state: "waiting", loaded: 0, message: null });
    this.pump();
  }

  dismiss(id: number): void {
    const item = this.find(id);
    if (!item || item.state === "uploading" || item.state === "waiting") return;
    this.items = this.items.filter((i) => i.id !== id);
    this.emit();
  }

  /** Forget every file, stopping those on their way (the user signed out, or another signed in). */
  reset(): void {
    const handles = [...this.handles.values()];
    this.handles.clear();
    this.items = [];
    for (const handle of handles) handle.abort();
    this.emit();
  }

  private find(id: number): UploadItem | undefined {
    return this.items.find((i) => i.id === id);
  }

  private update(id: number, patch: Partial<UploadItem>): void {
    this.items = this.items.map((i) => (i.id === id ? { ...i, ...patch } : i));
    this.emit();
  }

  private emit(): void {
    for (const listener of this.listeners) listener();
  }

  private pump(): void {
    const running = this.items.filter((i) => i.state === "uploading").length;
    const waiting = this.items.filter((i) => i.state === "waiting").slice(0, Math.max(0, PARALLEL - running));
    for (const item of waiting) this.start(item);
  }

  private start(item: UploadItem): void {
    this.update(item.id, { state: "uploading", loaded: 0 });
    const handle = this.upload(item.file, { language: item.language, prompt: item.prompt }, (loaded, total) =>
      this.update(item.id, { loaded, total }),
    );
    this.handles.set(item.id, handle);
    void handle.done.then((outcome) => {
      // Dropped by reset(): nothing of it may come back.
      if (this.handles.get(item.id) !== handle) return;
      this.handles.delete(item.id);
      this.finish(item.id, outcome);
      this.pump();
    });
  }

  private finish(id: number, outcome: UploadOutcome): void {
    switch (outcome.kind) {
      case "uploaded":
        this.update(id, { state: "uploaded", audioId: outcome.audioId, message: null });
        this.onUploaded(outcome.audioId);
        break;
      case "refused":
        this.update(id, { state: "refused", message: { text: outcome.message } });
        break;
      case "tooLarge": {
        const item = this.find(id);
        this.update(id, {
          state: "refused",
          message: { key: "upload.tooLarge", vars: { size: item?.file.size ?? 0, max: this.maxUploadBytes ?? 0 } },
        });
        break;
      }
      case "aborted":
        this.update(id, { state: "cancelled", message: null });
        break;
      case "unauthenticated":
        this.update(id, { state: "failed", message: { key: "upload.sessionEnded" } });
        break;
      case "network":
        this.update(id, { state: "failed", message: { key: "upload.networkFailed" } });
        break;
    }
  }
}

/** The one queue of this page. */
export const uploads = new UploadQueue();
