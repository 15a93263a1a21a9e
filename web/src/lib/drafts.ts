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

/** Whose drafts the `ovoz.draft.*` keys are (several people may share one browser). */
export const DRAFT_OWNER_KEY = "ovoz.draftOwner";

function draftKeys(): string[] {
  const keys: string[] = [];
  for (let i = 0; i < localStorage.length; i += 1) {
    const key = localStorage.key(i);
    if (key?.startsWith(PREFIX)) keys.push(key);
  }
  return keys;
}

/** Every draft of every recording, and whose they were. */
export function clearAllDrafts(): void {
  try {
    for (const key of draftKeys()) localStorage.removeItem(key);
    localStorage.removeItem(DRAFT_OWNER_KEY);
  } catch {
    // Nothing to clear.
  }
}

/**
 * A user signed in: the drafts in this browser become theirs. Drafts another user left
 * (their session expired, then someone else signed in) are dropped, never shown.
 */
export function claimDrafts(userId: string): void {
  try {
    const owner = localStorage.getItem(DRAFT_OWNER_KEY);
    if (owner !== null && owner !== userId) {
      for (const key of draftKeys()) localStorage.removeItem(key);
    }
    localStorage.setItem(DRAFT_OWNER_KEY, userId);
  } catch {
    // Storage disabled: there are no drafts either.
  }
}
