import { useCallback, useEffect, useState } from "react";
import { clearDraft, loadDraft, saveDraft, type Draft, type DraftPart } from "../lib/drafts";

export type SaveResult =
  | { kind: "saved" }
  | { kind: "conflict"; theirs: string; currentVersion: number }
  | { kind: "error"; message: string };

export interface Conflict {
  theirs: string;
  currentVersion: number;
}

interface Options {
  audioId: string;
  part: DraftPart;
  /** The text the server has now for this part. */
  serverText: string;
  /** The recording's version the page knows. */
  version: number;
  save: (text: string, expectedVersion: number) => Promise<SaveResult>;
}

/**
 * Editing one part of a transcript (a segment or the whole text) so the user's words are
 * never lost: every keystroke is a draft in localStorage; a save carries expectedVersion;
 * when someone else changed the same text the user sees both and chooses.
 */
export function useDraftEditor({ audioId, part, serverText, version, save }: Options) {
  const [draft, setDraftState] = useState<Draft | null>(() => loadDraft(audioId, part));
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const restored = useState(() => draft !== null)[0];

  const setDraft = useCallback(
    (next: Draft | null) => {
      setDraftState(next);
      if (next) saveDraft(audioId, part, next);
      else clearDraft(audioId, part);
    },
    [audioId, part],
  );

  // The text changed under an open draft (another tab, another person): a conflict,
  // found before anything is sent.
  useEffect(() => {
    if (draft && !conflict && serverText !== draft.baseText) {
      setConflict({ theirs: serverText, currentVersion: version });
    }
  }, [draft, conflict, serverText, version]);

  const begin = (): void => {
    setError(null);
    setConflict(null);
    setDraft({ text: serverText, baseText: serverText, baseVersion: version, savedAt: Date.now() });
  };

  const change = (text: string): void => {
    if (draft) setDraft({ ...draft, text });
  };

  const cancel = (): void => {
    setError(null);
    setConflict(null);
    setDraft(null);
  };

  const attempt = async (text: string, base: string, expectedVersion: number): Promise<void> => {
    setSaving(true);
    setError(null);
    try {
      let result = await save(text, expectedVersion);
      // Someone changed another part of the recording, not this one: nothing to choose.
      if (result.kind === "conflict" && result.theirs === base) {
        result = await save(text, result.currentVersion);
      }
      if (result.kind === "saved") {
        setConflict(null);
        setDraft(null);
      } else if (result.kind === "conflict") {
        setConflict({ theirs: result.theirs, currentVersion: result.currentVersion });
      } else {
        setError(result.message);
      }
    } finally {
      setSaving(false);
    }
  };

  const submit = async (): Promise<void> => {
    if (!draft || saving || conflict) return;
    if (draft.text === serverText) {
      cancel();
      return;
    }
    await attempt(draft.text, draft.baseText, version);
  };

  /** Resolve a conflict with the user's text: it becomes a new edit on top of theirs. */
  const keepMine = async (): Promise<void> => {
    if (!draft || !conflict) return;
    const rebased = { ...draft, baseText: conflict.theirs, baseVersion: conflict.currentVersion };
    setDraft(rebased);
    const { currentVersion } = conflict;
    setConflict(null);
    await attempt(rebased.text, rebased.baseText, currentVersion);
  };

  /** Resolve a conflict with the other version: the draft is dropped. */
  const takeTheirs = cancel;

  return { draft, conflict, saving, error, restored, begin, change, cancel, submit, keepMine, takeTheirs };
}
