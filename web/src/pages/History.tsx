import { useEffect, useRef, useState } from "react";
import { useClient, useQuery } from "urql";
import { graphql } from "../gql";
import { useLang, useT, type MessageKey } from "../i18n";
import { Link, navigate, useLocation } from "../router";
import { displayName, formatClock, formatDateTime } from "../lib/format";
import { useDocumentTitle } from "../lib/useDocumentTitle";
import { UpdateAudio } from "./Recording";

const HistoryQuery = graphql(`
  query History($id: ID!) {
    me { id }
    audio(id: $id) { id filename version status }
    auditTrail(audioId: $id) { version type at actor summary redacted }
  }
`);

const VersionQuery = graphql(`
  query AudioVersion($id: ID!, $version: Int!) {
    audio(id: $id, atVersion: $version) {
      id
      version
      transcriptText
      segments { id start end text }
    }
  }
`);

const EVENT_KEYS: Record<string, MessageKey> = {
  AudioUploaded: "event.AudioUploaded",
  TranscriptEdited: "event.TranscriptEdited",
  TranscriptionStarted: "event.TranscriptionStarted",
  TranscriptionCompleted: "event.TranscriptionCompleted",
  TranscriptionFailed: "event.TranscriptionFailed",
  TranscriptionRequeued: "event.TranscriptionRequeued",
  AudioDeleted: "event.AudioDeleted",
};

/** The events after which a version has a transcript. */
const TEXT_EVENTS = new Set(["TranscriptionCompleted", "TranscriptEdited"]);

export function HistoryPage({ id }: { id: string }) {
  const t = useT();
  const lang = useLang();
  const { search } = useLocation();
  const selected = Number(search.get("version")) || null;
  // Set after a restore: the version view closes, the confirmation stays.
  const restored = Number(search.get("restored")) || null;
  const restoredAs = Number(search.get("as")) || null;
  const [result, reexecute] = useQuery({ query: HistoryQuery, variables: { id }, requestPolicy: "network-only" });
  // The summaries come in the language of the request: ask again when it changes.
  const historyLang = useLang();
  const firstLang = useRef(historyLang);
  useEffect(() => {
    if (historyLang === firstLang.current) return;
    firstLang.current = historyLang;
    reexecute({ requestPolicy: "network-only" });
  }, [historyLang, reexecute]);
  const audio = result.data?.audio;
  useDocumentTitle(t("hist.title"));

  const actorName = (actor: string): string => {
    if (actor === result.data?.me.id) return t("hist.you");
    if (actor === "system") return t("hist.system");
    if (actor === "redacted") return t("hist.redacted");
    if (actor.startsWith("worker")) return t("hist.worker");
    return actor;
  };

  if (!result.data) {
    return result.error ? <p role="alert" className="error">{t("error.network")}</p> : <p className="hint">{t("loading")}</p>;
  }
  if (!audio) {
    return (
      <>
        <h1>{t("rec.notFoundTitle")}</h1>
        <p>{t("rec.notFound")}</p>
        <Link to="/">{t("rec.back")}</Link>
      </>
    );
  }
  // Versions before the first transcript (uploaded, queued, started) have no text to show.
  const firstText = Math.min(
    ...result.data.auditTrail.filter((e) => TEXT_EVENTS.has(e.type)).map((e) => e.version),
  );
  const events = [...result.data.auditTrail].reverse();
  return (
    <article className="history">
      <p className="crumbs">
        <Link to={`/audio/${id}`}>{t("hist.back")}</Link>
      </p>
      <h1>{t("hist.title")}</h1>
      <p className="filename-title" dir="auto">
        {displayName(audio.filename)}
      </p>
      {selected !== null && (
        <VersionView
          id={id}
          version={selected}
          currentVersion={audio.version}
          onRestored={(newVersion) => {
            reexecute({ requestPolicy: "network-only" });
            navigate(`/audio/${id}/history?restored=${selected}&as=${newVersion}`, { replace: true });
          }}
        />
      )}
      {restored !== null && restoredAs !== null && selected === null && (
        <p className="notice" role="status">
          {t("hist.restoredAs", { n: restored, m: restoredAs })}
        </p>
      )}
      <ol className="timeline" aria-label={t("hist.timeline")}>
        {events.map((e) => (
          <li key={e.version} className={e.version === selected ? "event selected" : "event"}>
            <div className="event-head">
              <strong>{EVENT_KEYS[e.type] ? t(EVENT_KEYS[e.type] as MessageKey) : e.type}</strong>
              <span className="hint">
                {t("hist.version", { n: e.version })}
                {e.version === audio.version ? ` · ${t("hist.current")}` : ""}
              </span>
            </div>
            <div className="hint">
              {t("hist.by", { actor: actorName(e.actor) })} · <time dateTime={e.at}>{formatDateTime(e.at, lang)}</time>
            </div>
            <p className="summary small">
              {e.summary}
            </p>
            {!e.redacted && e.type !== "AudioDeleted" && e.version >= firstText && (
              <Link to={`/audio/${id}/history?version=${e.version}`} aria-label={t("hist.viewVersion", { n: e.version })}>
                {t("hist.view")}
              </Link>
            )}
          </li>
        ))}
      </ol>
    </article>
  );
}

function VersionView({
  id,
  version,
  currentVersion,
  onRestored,
}: {
  id: string;
  version: number;
  currentVersion: number;
  onRestored: (newVersion: number) => void;
}) {
  const t = useT();
  const client = useClient();
  const [result] = useQuery({ query: VersionQuery, variables: { id, version } });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const past = result.data?.audio;

  const restore = async (): Promise<void> => {
    if (!past) return;
    setBusy(true);
    setError(null);
    const send = (expectedVersion: number) =>
      client
        .mutation(UpdateAudio, { id, input: { transcriptText: past.transcriptText ?? "", expectedVersion } })
        .toPromise();
    let r = await send(currentVersion);
    // A restore is "this text, on top of whatever is there now": a newer version is no conflict.
    const first = r.data?.updateAudio;
    if (first?.__typename === "VersionConflict") r = await send(first.currentVersion);
    setBusy(false);
    const answer = r.data?.updateAudio;
    if (!answer) setError(t("error.network"));
    else if (answer.__typename === "Audio") onRestored(answer.version);
    else setError(answer.message);
  };

  return (
    <section className="version-view" aria-labelledby="version-h">
      <h2 id="version-h">{t("hist.viewing", { n: version })}</h2>
      {!past && !result.fetching && <p>{t("hist.noText")}</p>}
      {past && (
        <>
          {past.segments.length > 0 ? (
            <ol className="segments readonly">
              {past.segments.map((s) => (
                <li key={s.id} className="segment">
                  <span className="seg-time">{formatClock(s.start)}</span>
                  <p className="seg-text">{s.text}</p>
                </li>
              ))}
            </ol>
          ) : (
            <p className="full-text">{past.transcriptText || t("hist.noText")}</p>
          )}
          {past.transcriptText != null && version !== currentVersion && (
            <button type="button" className="primary" disabled={busy} onClick={() => void restore()}>
              {t("hist.restore")}
            </button>
          )}
        </>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </section>
  );
}
