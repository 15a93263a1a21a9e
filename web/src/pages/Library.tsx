import { useCallback, useEffect, useId, useMemo, useRef, useState } from "react";
import { useQuery, useSubscription } from "urql";
import { onReconnect } from "../api/client";
import { graphql } from "../gql";
import type { LibraryQuery, TranscriptionStatus } from "../gql/graphql";
import { useLang, useT } from "../i18n";
import { Link, navigate, useLocation } from "../router";
import { QueueInfo, StatusBadge, TranscriptionProgress, statusKey } from "../components/Status";
import { UploadPanel } from "../components/UploadPanel";
import { uploads } from "../upload/queue";
import { displayName, formatClock, formatDateTime } from "../lib/format";
import { useDocumentTitle } from "../lib/useDocumentTitle";

const PAGE_SIZE = 20;
/** While the server cannot be reached, ask again this often. */
const RETRY_MS = 5_000;
const STATUSES = ["QUEUED", "PROCESSING", "COMPLETED", "FAILED"] as const;

const Library = graphql(`
  query Library($skip: Int!, $limit: Int!, $status: TranscriptionStatus, $search: String) {
    audios(skip: $skip, limit: $limit, status: $status, search: $search) {
      total
      skip
      limit
      items { id filename durationSeconds language languageUnsupported status progress error createdAt version queuePosition etaSeconds }
    }
  }
`);

export const MyAudioEvents = graphql(`
  subscription MyAudioEvents {
    myAudioEvents {
      audioId
      status
      progress
      version
      error
      queuePosition
      etaSeconds
      audio { id filename durationSeconds language languageUnsupported status progress error createdAt version queuePosition etaSeconds }
    }
  }
`);

type Item = LibraryQuery["audios"]["items"][number];
interface Live {
  status: string;
  progress: number | null | undefined;
  version: number;
  error: string | null | undefined;
  queuePosition: number | null | undefined;
  etaSeconds: number | null | undefined;
  audio: Item | null | undefined;
}

function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const id = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(id);
  }, [value, ms]);
  return debounced;
}

export function LibraryPage() {
  const t = useT();
  const lang = useLang();
  useDocumentTitle(t("library.title"));
  const searchId = useId();
  const statusId = useId();
  const { search: params } = useLocation();
  const page = Math.max(1, Number(params.get("page") ?? 1) || 1);
  const status = (STATUSES as readonly string[]).includes(params.get("status") ?? "")
    ? (params.get("status") as TranscriptionStatus)
    : null;
  const [text, setText] = useState(params.get("q") ?? "");
  const search = useDebounced(text.trim(), 300);

  const setParams = useCallback((patch: Record<string, string | null>) => {
    const next = new URLSearchParams(window.location.search);
    for (const [k, v] of Object.entries(patch)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    const qs = next.toString();
    navigate(qs ? `/?${qs}` : "/", { replace: true });
  }, []);

  useEffect(() => {
    if ((params.get("q") ?? "") !== search) setParams({ q: search || null, page: null });
  }, [search, params, setParams]);

  const variables = useMemo(
    () => ({ skip: (page - 1) * PAGE_SIZE, limit: PAGE_SIZE, status, search: search || null }),
    [page, status, search],
  );
  const [result, reexecute] = useQuery({ query: Library, variables });
  const refetch = useCallback(() => reexecute({ requestPolicy: "network-only" }), [reexecute]);

  // Live status: the subscription's first messages are the current state of what is in
  // progress (after every reconnect too), then each change.
  const [live, setLive] = useState<ReadonlyMap<string, Live>>(new Map());
  const known = useRef(new Set<string>());
  const pendingRefetch = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const scheduleRefetch = useCallback(() => {
    clearTimeout(pendingRefetch.current);
    pendingRefetch.current = setTimeout(refetch, 400);
  }, [refetch]);
  useEffect(() => () => clearTimeout(pendingRefetch.current), []);

  // Back from a lost connection: the list may hide changes made meanwhile.
  useEffect(() => onReconnect(refetch), [refetch]);
  useSubscription({ query: MyAudioEvents }, (_previous, event) => {
    const e = event.myAudioEvents;
    setLive((map) => {
      const current = map.get(e.audioId);
      if (current && current.version > e.version) return map;
      const next = new Map(map);
      next.set(e.audioId, {
        status: e.status,
        progress: e.progress,
        version: e.version,
        error: e.error,
        queuePosition: e.queuePosition,
        etaSeconds: e.etaSeconds,
        audio: e.audio,
      });
      return next;
    });
    if (!known.current.has(e.audioId)) scheduleRefetch();
    return event;
  });

  useEffect(() => {
    uploads.onUploaded = () => refetch();
    return () => {
      uploads.onUploaded = () => undefined;
    };
  }, [refetch]);

  // A failed fetch (the server restarting, the network gone) keeps the last good page
  // on screen, with a banner, instead of emptying the list.
  const fresh = result.data?.audios;
  const lastGood = useRef(fresh);
  if (fresh) lastGood.current = fresh;
  const list = fresh ?? lastGood.current;
  const unreachable = Boolean(result.error) && !fresh;
  useEffect(() => {
    if (!unreachable) return;
    const timer = setInterval(refetch, RETRY_MS);
    return () => clearInterval(timer);
  }, [unreachable, refetch]);
  useEffect(() => {
    known.current = new Set(list?.items.map((i) => i.id) ?? []);
  }, [list]);

  const items = (list?.items ?? []).map((item) => {
    const l = live.get(item.id);
    if (!l || l.version < item.version) return item;
    return {
      ...item,
      ...(l.audio ?? {}),
      status: l.status as Item["status"],
      progress: l.progress,
      error: l.error,
      queuePosition: l.queuePosition,
      etaSeconds: l.etaSeconds,
    };
  });
  const total = list?.total ?? 0;
  // From the page shown (which may be the last good one), not from the address.
  const shownSkip = list?.skip ?? (page - 1) * PAGE_SIZE;
  const from = total === 0 ? 0 : shownSkip + 1;
  const to = Math.min(total, shownSkip + (list?.items.length ?? 0));
  const filtered = Boolean(search || status);

  return (
    <>
      <h1>{t("library.title")}</h1>
      <UploadPanel compact={Boolean(list && (list.total > 0 || filtered))} />
      <section aria-labelledby={`${searchId}-h`} className="library">
        <h2 id={`${searchId}-h`}>{t("library.listTitle")}</h2>
        <div className="filters">
          <div className="field">
            <label htmlFor={searchId}>{t("library.search")}</label>
            <input id={searchId} type="search" value={text} onChange={(e) => setText(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor={statusId}>{t("library.statusFilter")}</label>
            <select
              id={statusId}
              value={status ?? ""}
              onChange={(e) => setParams({ status: e.target.value || null, page: null })}
            >
              <option value="">{t("library.allStatuses")}</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {t(statusKey(s))}
                </option>
              ))}
            </select>
          </div>
        </div>

        {unreachable && !list && (
          <p role="alert" className="error">
            {t("error.network")}{" "}
            <button type="button" onClick={refetch}>
              {t("action.tryAgain")}
            </button>
          </p>
        )}
        {unreachable && list && (
          <p role="status" className="warning banner">
            <span>{t("library.stale")}</span>{" "}
            <button type="button" onClick={refetch}>
              {t("action.tryAgain")}
            </button>
          </p>
        )}
        {!list && !unreachable && <p className="hint">{t("loading")}</p>}
        {list && items.length === 0 && (
          <p className="empty">{filtered ? t("library.noMatches") : t("library.empty")}</p>
        )}
        {items.length > 0 && (
          <ul className="audio-list" aria-label={t("library.listTitle")}>
            {items.map((item) => (
              <li key={item.id} className="audio-item" data-audio-id={item.id}>
                <div className="audio-head">
                  <Link to={`/audio/${item.id}`} className="audio-name" dir="auto">
                    {displayName(item.filename)}
                  </Link>
                  <StatusBadge status={item.status} />
                </div>
                <div className="audio-meta hint">
                  <QueueInfo position={item.queuePosition} eta={item.etaSeconds} />
                  <span>{formatClock(item.durationSeconds)}</span>
                  {item.language &&
                    (item.languageUnsupported ? (
                      <span className="lang-unsupported" title={t("library.languageUnsupported")}>
                        {item.language.toUpperCase()}
                        <span aria-hidden="true">{" \u26A0\uFE0E"}</span>
                        <span className="visually-hidden">: {t("library.languageUnsupported")}</span>
                      </span>
                    ) : (
                      <span>{item.language.toUpperCase()}</span>
                    ))}
                  <span>{formatDateTime(item.createdAt, lang)}</span>
                </div>
                {item.status === "PROCESSING" && <TranscriptionProgress progress={item.progress} name={displayName(item.filename)} />}
                {item.status === "FAILED" && item.error && <p className="error small">{item.error}</p>}
              </li>
            ))}
          </ul>
        )}
        {list && total > 0 && (
          <nav className="pager" aria-label={t("library.pages")}>
            <button type="button" disabled={page <= 1} onClick={() => setParams({ page: page > 2 ? String(page - 1) : null })}>
              {t("library.prev")}
            </button>
            <span>{t("library.range", { from, to, total })}</span>
            <button type="button" disabled={to >= total} onClick={() => setParams({ page: String(page + 1) })}>
              {t("library.next")}
            </button>
          </nav>
        )}
      </section>
    </>
  );
}
