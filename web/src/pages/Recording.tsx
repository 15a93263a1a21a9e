import { useCallback, useEffect, useId, useMemo, useRef, useState } from "react";
import { useClient, useMutation, useQuery, useSubscription } from "urql";
import { graphql } from "../gql";
import type { RecordingFieldsFragment } from "../gql/graphql";
import { useLang, useT } from "../i18n";
import { Link, navigate } from "../router";
import { QueueInfo, StatusBadge, TranscriptionProgress } from "../components/Status";
import { FullTextEditor, SegmentRow } from "../components/Transcript";
import type { SaveResult } from "../components/useDraftEditor";
import { SpeakerList, speakerMap, type RenameResult } from "../components/Speakers";
import { ConfirmButton } from "../components/ConfirmButton";
import { displayName, formatBytes, formatClock, formatDateTime } from "../lib/format";
import { languageWord } from "../lib/languages";
import { clearDrafts } from "../lib/drafts";
import { useDocumentTitle } from "../lib/useDocumentTitle";

graphql(`
  fragment RecordingFields on Audio {
    id
    filename
    contentType
    sizeBytes
    durationSeconds
    status
    progress
    queuePosition
    etaSeconds
    language
    languageUncertain
    languageUnsupported
    prompt
    transcriptText
    error
    version
    createdAt
    updatedAt
    fileUrl
    txt: exportUrl(format: TXT)
    srt: exportUrl(format: SRT)
    vtt: exportUrl(format: VTT)
    json: exportUrl(format: JSON)
    segments {
      id
      start
      end
      text
      edited
      speaker
      words { start word probability }
    }
    speakers { id name renamed }
  }
`);

export const RecordingQuery = graphql(`
  query Recording($id: ID!) {
    audio(id: $id) { ...RecordingFields }
  }
`);

/**
 * Uzbek Cyrillic exports: asked for on their own, and only for an Uzbek recording (the
 * server refuses CYRL for any other, which would fail the page's whole query).
 */
const CyrillicExports = graphql(`
  query CyrillicExports($id: ID!) {
    audio(id: $id) {
      id
      txt: exportUrl(format: TXT, script: CYRL)
      srt: exportUrl(format: SRT, script: CYRL)
      vtt: exportUrl(format: VTT, script: CYRL)
      json: exportUrl(format: JSON, script: CYRL)
    }
  }
`);

export const UpdateAudio = graphql(`
  mutation UpdateAudio($id: ID!, $input: AudioUpdateInput!) {
    updateAudio(id: $id, input: $input) {
      __typename
      ... on Audio { ...RecordingFields }
      ... on VersionConflict { currentVersion }
      ... on Error { code message }
    }
  }
`);

export const RenameSpeaker = graphql(`
  mutation RenameSpeaker($audioId: ID!, $speaker: String!, $name: String!, $expectedVersion: Int) {
    renameSpeaker(audioId: $audioId, speaker: $speaker, name: $name, expectedVersion: $expectedVersion) {
      __typename
      ... on Audio { ...RecordingFields }
      ... on VersionConflict { currentVersion }
      ... on Error { code message }
    }
  }
`);

const AudioStatus = graphql(`
  subscription AudioStatus($id: ID!) {
    audioStatus(id: $id) { audioId status progress version error queuePosition etaSeconds }
  }
`);

const Retry = graphql(`
  mutation RetryTranscription($id: ID!) {
    retryTranscription(id: $id) {
      __typename
      ... on Audio { id status progress version error }
      ... on Error { code message }
    }
  }
`);

const CancelTranscription = graphql(`
  mutation CancelTranscription($id: ID!) {
    cancelTranscription(id: $id) {
      __typename
      ... on Audio { id status progress version error }
      ... on Error { code message }
    }
  }
`);

const DeleteAudio = graphql(`
  mutation DeleteAudio($id: ID!) {
    deleteAudio(id: $id) {
      __typename
      ... on DeletedAudio { id }
      ... on Error { code message }
    }
  }
`);

type Rec = RecordingFieldsFragment;
const SPEEDS = [0.75, 1, 1.25, 1.5, 2];
const SEEK_STEP = 5;
/** Signed media URLs last about 15 minutes: fetch fresh ones well before. */
const URL_REFRESH_MS = 10 * 60_000;
const EXPORTS = [
  ["TXT", "txt"],
  ["SRT", "srt"],
  ["VTT", "vtt"],
  ["JSON", "json"],
] as const;

function newer(a: Rec | null | undefined, b: Rec | null | undefined): Rec | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return b.version > a.version ? b : a;
}

/**
 * Whether the player's keys (Space, ←, →) apply with this element focused. Fields keep
 * their keys. A button or link keeps its own (Space activates it) unless it is one of the
 * player's or a seek control of the transcript: after clicking a timestamp, Space plays
 * or pauses instead of seeking there again. Editing controls (Save, Keep mine…) stay
 * native even inside the transcript.
 */
export function playerKeysApply(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return true;
  if (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName)) return false;
  if (target.closest(".edit-box, .conflict")) return false;
  const control = target.closest("button, a[href], [role='button']");
  if (!control) return true;
  return Boolean(control.closest(".player") || control.matches(".seg-time, [data-segment-start], [data-word-start]"));
}

function isSpace(event: KeyboardEvent): boolean {
  return event.key === " " || event.code === "Space";
}

export function RecordingPage({ id }: { id: string }) {
  const t = useT();
  const lang = useLang();
  const client = useClient();
  const speedId = useId();
  const [result, reexecute] = useQuery({ query: RecordingQuery, variables: { id } });
  const refetch = useCallback(() => reexecute({ requestPolicy: "network-only" }), [reexecute]);
  const [local, setLocal] = useState<Rec | null>(null);
  const audio = newer(result.data?.audio, local?.id === id ? local : null);
  const name = audio ? displayName(audio.filename) : null;
  useDocumentTitle(name ?? t("rec.title"));

  // Live status while it is queued or transcribed.
  const [live, setLive] = useState<{
    status: string;
    progress: number | null | undefined;
    version: number;
    error: string | null | undefined;
    queuePosition?: number | null;
    etaSeconds?: number | null;
  } | null>(null);
  useSubscription(
    { query: AudioStatus, variables: { id }, pause: !audio || audio.status === "COMPLETED" },
    (_prev, event) => {
      const e = event.audioStatus;
      setLive({
        status: e.status,
        progress: e.progress,
        version: e.version,
        error: e.error,
        queuePosition: e.queuePosition,
        etaSeconds: e.etaSeconds,
      });
      if (e.status === "COMPLETED" || e.status === "FAILED") refetch();
      return event;
    },
  );
  const liveApplies = live && audio && live.version >= audio.version;
  const status = liveApplies ? live.status : (audio?.status ?? "QUEUED");
  const progress = liveApplies ? live.progress : audio?.progress;
  const errorText = liveApplies ? live.error : audio?.error;
  const queuePosition = liveApplies ? live.queuePosition : audio?.queuePosition;
  const etaSeconds = liveApplies ? live.etaSeconds : audio?.etaSeconds;

  const uzbekDone = audio?.language === "uz" && status === "COMPLETED";
  const [cyrillic, reexecuteCyrillic] = useQuery({ query: CyrillicExports, variables: { id }, pause: !uzbekDone });
  const cyrl = uzbekDone ? cyrillic.data?.audio : null;

  useEffect(() => {
    const timer = setInterval(() => {
      refetch();
      if (uzbekDone) reexecuteCyrillic({ requestPolicy: "network-only" });
    }, URL_REFRESH_MS);
    return () => clearInterval(timer);
  }, [refetch, reexecuteCyrillic, uzbekDone]);

  // The player keeps its source while links refresh; a new one only after it failed.
  const player = useRef<HTMLAudioElement>(null);
  const [src, setSrc] = useState<string | null>(null);
  const srcFailed = useRef(false);
  const resumeAt = useRef(0);
  useEffect(() => {
    if (!audio?.fileUrl) return;
    if (src === null || (srcFailed.current && audio.fileUrl !== src)) {
      srcFailed.current = false;
      setSrc(audio.fileUrl);
    }
  }, [audio?.fileUrl, src]);

  const [time, setTime] = useState(0);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState(1);
  const seek = useCallback((seconds: number) => {
    const el = player.current;
    if (!el) return;
    el.currentTime = seconds;
    setTime(seconds);
  }, []);

  useEffect(() => {
    const onKey = (event: KeyboardEvent): void => {
      const el = player.current;
      if (!el || !playerKeysApply(event.target) || event.ctrlKey || event.metaKey || event.altKey) return;
      if (isSpace(event)) {
        event.preventDefault();
        if (el.paused) void el.play();
        else el.pause();
      } else if (event.key === "ArrowLeft") {
        event.preventDefault();
        seek(Math.max(0, el.currentTime - SEEK_STEP));
      } else if (event.key === "ArrowRight") {
        event.preventDefault();
        seek(Math.min(el.duration || Number.POSITIVE_INFINITY, el.currentTime + SEEK_STEP));
      }
    };
    // A focused button is activated by Space on keyup (Firefox even when keydown was
    // prevented): that would seek back to the timestamp just after playing.
    const onKeyUp = (event: KeyboardEvent): void => {
      if (player.current && isSpace(event) && playerKeysApply(event.target)) event.preventDefault();
    };
    window.addEventListener("keydown", onKey);
    window.addEventListener("keyup", onKeyUp);
    return () => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("keyup", onKeyUp);
    };
  }, [seek]);

  const segments = audio?.segments ?? [];
  const activeIndex = useMemo(() => {
    let found = -1;
    for (let i = 0; i < segments.length; i += 1) {
      const s = segments[i];
      if (s && s.start <= time + 0.05) found = i;
      else break;
    }
    return found >= 0 && (segments[found]?.end ?? 0) + 0.5 >= time ? found : -1;
  }, [segments, time]);
  const rows = useRef(new Map<number, HTMLLIElement>());
  useEffect(() => {
    if (!playing || activeIndex < 0) return;
    const id = segments[activeIndex]?.id;
    if (id === undefined) return;
    const row = rows.current.get(id);
    if (row && !row.classList.contains("editing")) row.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }, [activeIndex, playing, segments]);

  const runUpdate = useCallback(
    async (
      input: { segments?: { id: number; text: string }[]; transcriptText?: string; expectedVersion: number },
      pick: (a: Rec) => string,
    ): Promise<SaveResult> => {
      const r = await client.mutation(UpdateAudio, { id, input }).toPromise();
      const answer = r.data?.updateAudio;
      if (!answer) return { kind: "error", message: t("error.network") };
      if (answer.__typename === "Audio") {
        setLocal(answer);
        return { kind: "saved" };
      }
      if (answer.__typename === "VersionConflict") {
        const fresh = await client.query(RecordingQuery, { id }, { requestPolicy: "network-only" }).toPromise();
        const current = fresh.data?.audio;
        if (!current) return { kind: "error", message: answer.message };
        setLocal(current);
        return { kind: "conflict", theirs: pick(current), currentVersion: current.version };
      }
      return { kind: "error", message: answer.message };
    },
    [client, id, t],
  );
  const saveSegment = useCallback(
    (segmentId: number, text: string, expectedVersion: number) =>
      runUpdate({ segments: [{ id: segmentId, text }], expectedVersion }, (a) => a.segments.find((s) => s.id === segmentId)?.text ?? ""),
    [runUpdate],
  );
  const saveFull = useCallback(
    (text: string, expectedVersion: number) => runUpdate({ transcriptText: text, expectedVersion }, (a) => a.transcriptText ?? ""),
    [runUpdate],
  );

  const renameSpeaker = useCallback(
    async (speaker: string, name: string, expectedVersion: number): Promise<RenameResult> => {
      const r = await client.mutation(RenameSpeaker, { audioId: id, speaker, name, expectedVersion }).toPromise();
      const answer = r.data?.renameSpeaker;
      if (!answer) return { kind: "error", message: t("error.network") };
      if (answer.__typename === "Audio") {
        setLocal(answer);
        return { kind: "saved" };
      }
      if (answer.__typename === "VersionConflict") {
        // As for edits: read the recording again, then say whether this name changed.
        const fresh = await client.query(RecordingQuery, { id }, { requestPolicy: "network-only" }).toPromise();
        const current = fresh.data?.audio;
        if (!current) return { kind: "error", message: answer.message };
        setLocal(current);
        const theirs = (current.speakers ?? []).find((s) => s.id === speaker)?.name ?? "";
        return { kind: "conflict", theirs, currentVersion: current.version };
      }
      if (answer.__typename === "InvalidSpeakerName") return { kind: "invalid", message: answer.message };
      return { kind: "error", message: answer.message };
    },
    [client, id, t],
  );

  const [retryState, retry] = useMutation(Retry);
  const [cancelState, cancelTranscription] = useMutation(CancelTranscription);
  const [deleteState, deleteAudio] = useMutation(DeleteAudio);
  const [actionError, setActionError] = useState<string | null>(null);

  const onRetry = async (): Promise<void> => {
    setActionError(null);
    const r = await retry({ id });
    const answer = r.data?.retryTranscription;
    if (!answer) setActionError(t("error.network"));
    else if (answer.__typename !== "Audio") setActionError(answer.message);
    else {
      setLive({ status: answer.status, progress: answer.progress, version: answer.version, error: answer.error });
      refetch();
    }
  };

  const onCancel = async (): Promise<void> => {
    setActionError(null);
    const r = await cancelTranscription({ id });
    const answer = r.data?.cancelTranscription;
    if (!answer) setActionError(t("error.network"));
    else if (answer.__typename !== "Audio") setActionError(answer.message);
    else setLive({ status: answer.status, progress: answer.progress, version: answer.version, error: answer.error });
  };

  const onDelete = async (): Promise<void> => {
    setActionError(null);
    const r = await deleteAudio({ id });
    const answer = r.data?.deleteAudio;
    if (!answer) setActionError(t("error.network"));
    else if (answer.__typename === "DeletedAudio" || answer.__typename === "NotFound") {
      clearDrafts(id);
      navigate("/");
    } else setActionError(answer.message);
  };

  if (!audio) {
    if (result.fetching || (!result.data && !result.error)) return <p className="hint">{t("loading")}</p>;
    return (
      <>
        <h1>{t("rec.notFoundTitle")}</h1>
        <p>{result.error ? t("error.network") : t("rec.notFound")}</p>
        <Link to="/">{t("rec.back")}</Link>
      </>
    );
  }

  const completed = status === "COMPLETED";
  // Names only when there is more than one voice: a monologue needs no "Speaker 1".
  const speakers = speakerMap(audio.speakers);
  const named = speakers.size >= 2;
  return (
    <article className="recording">
      <p className="crumbs">
        <Link to="/">{t("rec.back")}</Link>
      </p>
      <h1 className="filename-title" dir="auto">
        {name}
      </h1>
      <div className="meta-line">
        <StatusBadge status={status} />
        <QueueInfo position={queuePosition} eta={etaSeconds} />
        <span>{formatClock(audio.durationSeconds)}</span>
        {audio.language && <span>{audio.language.toUpperCase()}</span>}
        <span>{formatBytes(audio.sizeBytes, lang)}</span>
        <span>{formatDateTime(audio.createdAt, lang)}</span>
        <Link to={`/audio/${audio.id}/history`}>{t("rec.history")}</Link>
      </div>
      {audio.prompt && (
        <p className="prompt-note hint small">
          {t("rec.prompt")}: <q dir="auto">{audio.prompt}</q>
        </p>
      )}
      {audio.languageUnsupported && (
        <p className="warning">
          {t("rec.languageUnsupported", { language: audio.language ? languageWord(audio.language, t, lang) : "?" })}
        </p>
      )}
      {status === "PROCESSING" && <TranscriptionProgress progress={progress} name={name ?? ""} />}
      {status === "QUEUED" && <p className="hint">{t("rec.queued")}</p>}
      {(status === "QUEUED" || status === "PROCESSING") && (
        <button type="button" disabled={cancelState.fetching} onClick={() => void onCancel()}>
          {t("rec.cancelTranscription")}
        </button>
      )}
      {status === "CANCELLED" && (
        <div className="failed">
          <p className="hint">{t("rec.cancelled")}</p>
          <button type="button" className="primary" disabled={retryState.fetching} onClick={() => void onRetry()}>
            {t("rec.retry")}
          </button>
        </div>
      )}
      {status === "FAILED" && (
        <div className="failed">
          <p className="error">{t("rec.failed", { error: errorText ?? "" })}</p>
          <button type="button" className="primary" disabled={retryState.fetching} onClick={() => void onRetry()}>
            {t("rec.retry")}
          </button>
        </div>
      )}
      {audio.languageUncertain && completed && <p className="warning">{t("rec.languageUncertain")}</p>}

      <section className="player" aria-label={t("rec.player")}>
        <audio
          ref={player}
          controls
          preload="metadata"
          src={src ?? undefined}
          onTimeUpdate={(e) => setTime(e.currentTarget.currentTime)}
          onSeeked={(e) => setTime(e.currentTarget.currentTime)}
          onPlay={() => setPlaying(true)}
          onPause={() => setPlaying(false)}
          onLoadedMetadata={(e) => {
            e.currentTarget.playbackRate = speed;
            if (resumeAt.current > 0) e.currentTarget.currentTime = resumeAt.current;
            resumeAt.current = 0;
          }}
          onError={(e) => {
            // Most likely the signed URL ran out: get a new one and resume where it was.
            resumeAt.current = e.currentTarget.currentTime;
            srcFailed.current = true;
            refetch();
          }}
        />
        <div className="player-controls">
          <label htmlFor={speedId}>{t("rec.speed")}</label>
          <select
            id={speedId}
            value={speed}
            onChange={(e) => {
              const value = Number(e.target.value);
              setSpeed(value);
              if (player.current) player.current.playbackRate = value;
            }}
          >
            {SPEEDS.map((s) => (
              <option key={s} value={s}>
                {s}×
              </option>
            ))}
          </select>
          <span className="hint small">{t("rec.keys")}</span>
        </div>
      </section>

      {named && (
        <SpeakerList
          speakers={[...speakers.values()]}
          segments={segments}
          version={audio.version}
          readOnly={!completed}
          rename={renameSpeaker}
        />
      )}

      <section className="transcript" aria-labelledby="transcript-h">
        <div className="section-head">
          <h2 id="transcript-h">{t("rec.transcript")}</h2>
          {completed && (
            <nav className="exports" aria-label={t("rec.exports")}>
              <div className="export-group">
                <span className="hint">{t("rec.exports")}:</span>
                {EXPORTS.map(([label, key]) => (
                  <a key={key} href={audio[key]} download>
                    {label}
                  </a>
                ))}
              </div>
              {cyrl && (
                <div className="export-group">
                  <span className="hint">
                    {t("rec.exportsCyrl")}:
                  </span>
                  {EXPORTS.map(([label, key]) => (
                    <a key={key} href={cyrl[key]} download aria-label={`${label} ${t("rec.cyrlSuffix")}`}>
                      {label}
                    </a>
                  ))}
                </div>
              )}
            </nav>
          )}
        </div>
        {!completed && segments.length === 0 && <p className="hint">{t("rec.noTranscript")}</p>}
        {completed && (
          <FullTextEditor key={`full-${audio.id}`} audioId={audio.id} text={audio.transcriptText ?? ""} version={audio.version} save={saveFull} />
        )}
        {segments.length > 0 && (
          <ol className="segments">
            {segments.map((segment, index) => (
              <SegmentRow
                key={segment.id}
                ref={(el) => {
                  if (el) rows.current.set(segment.id, el);
                  else rows.current.delete(segment.id);
                }}
                audioId={audio.id}
                segment={segment}
                version={audio.version}
                active={index === activeIndex}
                readOnly={!completed}
                speaker={named && segment.speaker && segment.speaker !== segments[index - 1]?.speaker ? speakers.get(segment.speaker) : null}
                onSeek={seek}
                save={saveSegment}
              />
            ))}
          </ol>
        )}
        {completed && segments.length === 0 && audio.transcriptText && <p className="full-text">{audio.transcriptText}</p>}
      </section>

      <section className="danger-zone" aria-labelledby="manage-h">
        <h2 id="manage-h">{t("rec.manage")}</h2>
        <ConfirmButton
          label={t("rec.delete")}
          question={t("rec.deleteQuestion", { name: `\u2068${name ?? ""}\u2069` })}
          confirmLabel={t("rec.deleteYes")}
          keepLabel={t("rec.deleteNo")}
          busy={deleteState.fetching}
          onConfirm={() => void onDelete()}
        />
        {actionError && (
          <p className="error" role="alert">
            {actionError}
          </p>
        )}
      </section>
    </article>
  );
}
