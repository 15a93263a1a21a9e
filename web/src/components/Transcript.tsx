import { forwardRef, useId, type KeyboardEvent } from "react";
import { useT } from "../i18n";
import { formatClock } from "../lib/format";
import { useDraftEditor, type SaveResult } from "./useDraftEditor";
import { SpeakerMark, type ShownSpeaker } from "./Speakers";

export interface WordView {
  start: number;
  word: string;
  probability?: number | null;
}
export interface SegmentView {
  id: number;
  start: number;
  end: number;
  text: string;
  edited: boolean;
  speaker?: string | null;
  words: WordView[];
}

/** Words the model was less sure of than this are marked for review. */
export const DOUBTFUL_BELOW = 0.5;

type Editor = ReturnType<typeof useDraftEditor>;

function ConflictChoice({ editor }: { editor: Editor }) {
  const t = useT();
  const yoursId = useId();
  if (!editor.conflict || !editor.draft) return null;
  return (
    <div className="conflict" role="group" aria-label={t("edit.conflictTitle")}>
      <p className="warning" role="alert">
        <strong>{t("edit.conflictTitle")}</strong> {t("edit.conflictBody")}
      </p>
      <div className="conflict-versions">
        <div className="version theirs">
          <h3>{t("edit.theirs")}</h3>
          <p data-version="theirs">{editor.conflict.theirs || "—"}</p>
        </div>
        <div className="version yours">
          <h3>
            <label htmlFor={yoursId}>{t("edit.yours")}</label>
          </h3>
          <textarea
            id={yoursId}
            value={editor.draft.text}
            onChange={(e) => editor.change(e.target.value)}
            rows={3}
          />
        </div>
      </div>
      <div className="row">
        <button type="button" className="primary" disabled={editor.saving} onClick={() => void editor.keepMine()}>
          {t("edit.keepMine")}
        </button>
        <button type="button" disabled={editor.saving} onClick={editor.takeTheirs}>
          {t("edit.useTheirs")}
        </button>
      </div>
    </div>
  );
}

function EditBox({ editor, label, rows, multiline = false }: { editor: Editor; label: string; rows: number; multiline?: boolean }) {
  const t = useT();
  const id = useId();
  if (!editor.draft) return null;
  if (editor.conflict) return <ConflictChoice editor={editor} />;
  const onKeyDown = (event: KeyboardEvent<HTMLTextAreaElement>): void => {
    const saveKey = multiline ? event.ctrlKey || event.metaKey : !event.shiftKey;
    if (event.key === "Enter" && saveKey && !event.nativeEvent.isComposing) {
      event.preventDefault();
      void editor.submit();
    } else if (event.key === "Escape") {
      event.preventDefault();
      editor.cancel();
    }
  };
  return (
    <div className="edit-box">
      {editor.restored && <p className="notice small">{t("edit.draftRestored")}</p>}
      <label htmlFor={id} className="visually-hidden">
        {label}
      </label>
      <textarea
        id={id}
        autoFocus
        rows={rows}
        value={editor.draft.text}
        aria-describedby={`${id}-hint`}
        onChange={(e) => editor.change(e.target.value)}
        onKeyDown={onKeyDown}
      />
      <p id={`${id}-hint`} className="hint small">
        {multiline ? t("edit.hintFull") : t("edit.hint")}
      </p>
      <div className="row">
        <button type="button" className="primary" disabled={editor.saving} onClick={() => void editor.submit()}>
          {editor.saving ? t("edit.saving") : t("edit.save")}
        </button>
        <button type="button" disabled={editor.saving} onClick={editor.cancel}>
          {t("edit.cancel")}
        </button>
      </div>
      {editor.error && (
        <p className="error" role="alert">
          {editor.error}
        </p>
      )}
    </div>
  );
}

interface SegmentRowProps {
  audioId: string;
  segment: SegmentView;
  version: number;
  active: boolean;
  readOnly?: boolean;
  /** The speaker to name above this segment (where the speaker changes), else nothing. */
  speaker?: ShownSpeaker | null;
  onSeek: (seconds: number) => void;
  save: (segmentId: number, text: string, expectedVersion: number) => Promise<SaveResult>;
}

export const SegmentRow = forwardRef<HTMLLIElement, SegmentRowProps>(function SegmentRow(
  { audioId, segment, version, active, readOnly, speaker, onSeek, save },
  ref,
) {
  const t = useT();
  const editor = useDraftEditor({
    audioId,
    part: segment.id,
    serverText: segment.text,
    version,
    save: (text, expected) => save(segment.id, text, expected),
  });
  const time = formatClock(segment.start);
  const editing = editor.draft !== null;
  const showWords = !segment.edited && segment.words.length > 0;
  return (
    <li
      ref={ref}
      className={`segment${active ? " active" : ""}${editing ? " editing" : ""}${speaker ? " speaker-start" : ""}`}
      data-segment-start={segment.start}
      data-segment-id={segment.id}
      aria-current={active ? "true" : undefined}
      onClick={editing ? undefined : () => onSeek(segment.start)}
    >
      {speaker && (
        <p className="seg-speaker" data-speaker={speaker.id}>
          <SpeakerMark index={speaker.index} />
          <span dir="auto">{speaker.name}</span>
        </p>
      )}
      <button
        type="button"
        className="seg-time"
        aria-label={t("rec.playFrom", { time })}
        onClick={(e) => {
          e.stopPropagation();
          onSeek(segment.start);
        }}
      >
        {time}
      </button>
      <div className="seg-body">
        {editing ? (
          <EditBox editor={editor} label={t("edit.segmentLabel", { time })} rows={2} />
        ) : (
          <p className="seg-text">
            {showWords
              ? segment.words.map((w, i) => {
                  const doubtful = w.probability != null && w.probability < DOUBTFUL_BELOW;
                  return (
                    <span
                      key={i}
                      className={doubtful ? "word doubtful" : "word"}
                      data-word-start={w.start}
                      title={doubtful ? t("rec.doubtful") : undefined}
                      onClick={(e) => {
                        e.stopPropagation();
                        onSeek(w.start);
                      }}
                    >
                      {w.word}
                    </span>
                  );
                })
              : segment.text}
            {segment.edited && <span className="edited-mark"> · {t("rec.edited")}</span>}
          </p>
        )}
      </div>
      {!editing && !readOnly && (
        <button
          type="button"
          className="seg-edit"
          onClick={(e) => {
            e.stopPropagation();
            editor.begin();
          }}
        >
          {t("edit.edit")}
        </button>
      )}
    </li>
  );
});

export function FullTextEditor({
  audioId,
  text,
  version,
  save,
}: {
  audioId: string;
  text: string;
  version: number;
  save: (text: string, expectedVersion: number) => Promise<SaveResult>;
}) {
  const t = useT();
  const editor = useDraftEditor({ audioId, part: "full", serverText: text, version, save });
  if (!editor.draft) {
    return (
      <button type="button" onClick={editor.begin}>
        {t("edit.editAll")}
      </button>
    );
  }
  return (
    <div className="full-editor">
      <EditBox editor={editor} label={t("edit.fullLabel")} rows={12} multiline />
    </div>
  );
}
