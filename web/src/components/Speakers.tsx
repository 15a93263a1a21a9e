import { useId, useRef, useState, type KeyboardEvent } from "react";
import { useT } from "../i18n";
import { formatClock } from "../lib/format";

export interface SpeakerView {
  id: string;
  name: string;
  renamed: boolean;
}

/** A speaker as the transcript shows it: the name, and which of the marker colours. */
export interface ShownSpeaker {
  id: string;
  name: string;
  /** 0-based order of first appearance: picks the marker's colour (and shape). */
  index: number;
}

/** How many marker styles there are (styles.css: .speaker-mark.spk-0 … spk-7). */
export const MARKERS = 8;

export type RenameResult =
  | { kind: "saved" }
  | { kind: "conflict"; theirs: string; currentVersion: number }
  | { kind: "invalid"; message: string }
  | { kind: "error"; message: string };

/** Speakers by label, in the order the server lists them (S1 first). */
export function speakerMap(speakers: readonly SpeakerView[] | null | undefined): Map<string, ShownSpeaker> {
  const map = new Map<string, ShownSpeaker>();
  (speakers ?? []).forEach((s, index) => map.set(s.id, { id: s.id, name: s.name, index }));
  return map;
}

/** Seconds of speech per speaker label (the sum of their segments' lengths). */
export function talkSeconds(segments: readonly { start: number; end: number; speaker?: string | null }[]): Map<string, number> {
  const totals = new Map<string, number>();
  for (const s of segments) {
    if (!s.speaker) continue;
    totals.set(s.speaker, (totals.get(s.speaker) ?? 0) + Math.max(0, s.end - s.start));
  }
  return totals;
}

/** The colour marker beside a name: a shape too, so colour is never the only cue. */
export function SpeakerMark({ index }: { index: number }) {
  return <span className={`speaker-mark spk-${index % MARKERS}`} aria-hidden="true" />;
}

interface ItemProps {
  speaker: ShownSpeaker;
  seconds: number;
  share: number;
  version: number;
  readOnly: boolean;
  rename: (speaker: string, name: string, expectedVersion: number) => Promise<RenameResult>;
}

function SpeakerItem({ speaker, seconds, share, version, readOnly, rename }: ItemProps) {
  const t = useT();
  const inputId = useId();
  const [draft, setDraft] = useState<string | null>(null);
  /** The name it had when renaming began: a different one now means it was renamed elsewhere. */
  const [base, setBase] = useState("");
  const [conflict, setConflict] = useState<{ theirs: string; currentVersion: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const renameButton = useRef<HTMLButtonElement>(null);

  const close = (): void => {
    setDraft(null);
    setConflict(null);
    setError(null);
    // Back to the button that opened the field (after it is rendered again).
    setTimeout(() => renameButton.current?.focus(), 0);
  };

  const begin = (): void => {
    setDraft(speaker.name);
    setBase(speaker.name);
    setConflict(null);
    setError(null);
  };

  const attempt = async (name: string, from: string, expectedVersion: number): Promise<void> => {
    setSaving(true);
    setError(null);
    try {
      let result = await rename(speaker.id, name, expectedVersion);
      // The recording changed elsewhere but not this name: nothing to ask, save on top.
      if (result.kind === "conflict" && result.theirs === from) {
        result = await rename(speaker.id, name, result.currentVersion);
      }
      if (result.kind === "saved") close();
      else if (result.kind === "conflict") setConflict({ theirs: result.theirs, currentVersion: result.currentVersion });
      else setError(result.message);
    } finally {
      setSaving(false);
    }
  };

  const submit = async (): Promise<void> => {
    if (draft === null || saving || conflict) return;
    if (draft === speaker.name) {
      close();
      return;
    }
    await attempt(draft, base, version);
  };

  const keepMine = async (): Promise<void> => {
    if (draft === null || !conflict) return;
    const { theirs, currentVersion } = conflict;
    setBase(theirs);
    setConflict(null);
    await attempt(draft, theirs, currentVersion);
  };

  const onKeyDown = (event: KeyboardEvent<HTMLInputElement>): void => {
    if (event.key === "Enter" && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void (conflict ? keepMine() : submit());
    } else if (event.key === "Escape") {
      event.preventDefault();
      close();
    }
  };

  const talk = seconds > 0 ? t("spk.talk", { time: formatClock(seconds), percent: Math.round(share * 100) }) : null;

  if (draft === null) {
    return (
      <li className="speaker" data-speaker={speaker.id}>
        <SpeakerMark index={speaker.index} />
        <span className="speaker-who">
          <span className="speaker-name" dir="auto">
            {speaker.name}
          </span>
          {talk && <span className="hint small speaker-talk">{talk}</span>}
        </span>
        {!readOnly && (
          <button
            ref={renameButton}
            type="button"
            className="speaker-rename"
            aria-label={t("spk.renameLabel", { name: speaker.name })}
            onClick={begin}
          >
            {t("spk.rename")}
          </button>
        )}
      </li>
    );
  }

  return (
    <li className="speaker editing" data-speaker={speaker.id}>
      <SpeakerMark index={speaker.index} />
      <div className="speaker-form">
        <label htmlFor={inputId} className="small">
          {t("spk.nameLabel", { name: speaker.name })}
        </label>
        <input
          id={inputId}
          type="text"
          autoFocus
          autoComplete="off"
          dir="auto"
          value={draft}
          aria-invalid={error ? true : undefined}
          aria-describedby={error ? `${inputId}-error` : `${inputId}-hint`}
          onChange={(e) => setDraft(e.target.value)}
          onKeyDown={onKeyDown}
          onFocus={(e) => e.currentTarget.select()}
        />
        {error ? (
          <p id={`${inputId}-error`} className="error small" role="alert">
            {error}
          </p>
        ) : (
          <p id={`${inputId}-hint`} className="hint small">
            {t("spk.hint")}
          </p>
        )}
        {conflict ? (
          <div className="conflict" role="group" aria-label={t("spk.conflict", { theirs: conflict.theirs })}>
            <p className="warning" role="alert">
              {t("spk.conflict", { theirs: conflict.theirs })}
            </p>
            <div className="row">
              <button type="button" className="primary" disabled={saving} onClick={() => void keepMine()}>
                {t("edit.keepMine")}
              </button>
              <button type="button" disabled={saving} onClick={close}>
                {t("edit.useTheirs")}
              </button>
            </div>
          </div>
        ) : (
          <div className="row">
            <button type="button" className="primary" disabled={saving} onClick={() => void submit()}>
              {saving ? t("edit.saving") : t("edit.save")}
            </button>
            <button type="button" disabled={saving} onClick={close}>
              {t("edit.cancel")}
            </button>
          </div>
        )}
      </div>
    </li>
  );
}

/** Who speaks in the recording, how much, and a way to name each of them. */
export function SpeakerList({
  speakers,
  segments,
  version,
  readOnly,
  rename,
}: {
  speakers: readonly ShownSpeaker[];
  segments: readonly { start: number; end: number; speaker?: string | null }[];
  version: number;
  readOnly: boolean;
  rename: ItemProps["rename"];
}) {
  const t = useT();
  const talk = talkSeconds(segments);
  let total = 0;
  for (const seconds of talk.values()) total += seconds;
  return (
    <section className="speakers" aria-labelledby="speakers-h">
      <h2 id="speakers-h">{t("spk.title")}</h2>
      <ul className="speaker-list">
        {speakers.map((s) => {
          const seconds = talk.get(s.id) ?? 0;
          return (
            <SpeakerItem
              key={s.id}
              speaker={s}
              seconds={seconds}
              share={total > 0 ? seconds / total : 0}
              version={version}
              readOnly={readOnly}
              rename={rename}
            />
          );
        })}
      </ul>
    </section>
  );
}
