/**
 * Unsaved edits, kept in localStorage per (recording, segment) so that a reload, a crash
 * or an expired session never loses what the user typed.
 */
export type DraftPart = number | "full";

export interface Draft {
  text: string;
  /** The server's text when editing began: a change to it means someone else edited. */
  baseText: string;
  baseVersion: number;
  savedAt: number;
}

const PREFIX = "ovoz.draft.";

export function draftKey(audioId: string, part: DraftPart): string {
  return `${PREFIX}${audioId}.${part}`;
}

export function loadDraft(audioId: string, part: DraftPart): Draft | null {
  try {
    const raw = localStorage.getItem(draftKey(audioId, part));
    if (!raw) return null;
    const value = JSON.parse(raw) as Partial<Draft>;
    if (typeof value.text !== "string" || typeof value.baseText !== "string") return null;
    return {
      text: value.text,
      baseText: value.baseText,
      baseVersion: Number(value.baseVersion ?? 0),
      savedAt: Number(value.savedAt ?? 0),
    };
  } catch {
    return null;
  }
}

export function saveDraft(audioId: string, part: DraftPart, draft: Omit<Draft, "savedAt">): void {
  try {
    localStorage.setItem(draftKey(audioId, part), JSON.stringify({ ...draft, savedAt: Date.now() }));
  } catch {
    // Full or disabled storage: the edit still lives in the page.
  }
}

export function clearDraft(audioId: string, part: DraftPart): void {
  try {
    localStorage.removeItem(draftKey(audioId, part));
  } catch {
    // Nothing to clear.
  }
}

/** Every draft of one recording (e.g. to drop them when it is deleted). */
export function clearDrafts(audioId: string): void {
  try {
    const prefix = `${PREFIX}${audioId}.`;
    const keys: string[] = [];
    for (let i = 0; i < localStorage.length; i += 1) {
      const key = localStorage.key(i);
      if (key?.startsWith(prefix)) keys.push(key);
    }
    for (const key of keys) localStorage.removeItem(key);
  } catch {
    // Nothing to clear.
  }
}
