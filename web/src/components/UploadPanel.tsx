import { useEffect, useId, useState, useSyncExternalStore, type DragEvent } from "react";
import { useLang, useT, type Translate } from "../i18n";
import type { Lang } from "../i18n/lang";
import { uploads as defaultQueue, type UploadItem, type UploadQueue } from "../upload/queue";
import { useServerInfo } from "../api/serverInfo";
import { displayName, formatBytes, formatExactBytes, formatPercent } from "../lib/format";
import { languageWord } from "../lib/languages";
import { Link } from "../router";
import { Recorder } from "./Recorder";

const UPLOAD_LANG_KEY = "ovoz.uploadLanguage";
/** Names of the languages in themselves: the same in every UI language. */
export const RECORDING_LANGUAGES = [
  { code: "uz", name: "Oʻzbekcha" },
  { code: "ru", name: "Русский" },
  { code: "en", name: "English" },
] as const;

/** The server's bound on uploadAudio's prompt (InvalidPrompt.maxChars). */
export const MAX_PROMPT_CHARS = 800;

function rememberedLanguage(): string {
  try {
    return localStorage.getItem(UPLOAD_LANG_KEY) ?? "";
  } catch {
    return "";
  }
}

function messageText(item: UploadItem, t: Translate, lang: Lang): string | null {
  const message = item.message;
  if (!message) return null;
  if ("text" in message) return message.text;
  const vars: Record<string, string | number> = {};
  for (const [name, value] of Object.entries(message.vars ?? {})) {
    vars[name] = typeof value === "number" && (name === "size" || name === "max") ? formatBytes(value, lang) : value;
  }
  // "This file is 2 MB; the limit is 2 MB" says nothing: where rounding makes the two
  // alike, give both in bytes.
  const raw = message.vars ?? {};
  if (typeof raw.size === "number" && typeof raw.max === "number" && vars.size === vars.max) {
    vars.size = formatExactBytes(raw.size, lang);
    vars.max = formatExactBytes(raw.max, lang);
  }
  return t(message.key, vars);
}

/**
 * `compact`: the user has recordings, so on a narrow screen the panel is one row (file
 * button, record button, language) and the library's list shows on the first screen.
 */
export function UploadPanel({ queue = defaultQueue, compact = false }: { queue?: UploadQueue; compact?: boolean }) {
  const t = useT();
  const lang = useLang();
  const inputId = useId();
  const languageId = useId();
  const promptId = useId();
  const info = useServerInfo();
  const items = useSyncExternalStore(queue.subscribe, queue.snapshot, queue.snapshot);
  const [language, setLanguage] = useState(rememberedLanguage);
  const [dragging, setDragging] = useState(false);
  // For the files added while it is there (kept for the next ones, as the language is).
  const [prompt, setPrompt] = useState("");
  const [promptOpen, setPromptOpen] = useState(false);

  useEffect(() => {
    if (info) queue.maxUploadBytes = info.maxUploadBytes;
  }, [info, queue]);

  const chooseLanguage = (value: string): void => {
    setLanguage(value);
    try {
      localStorage.setItem(UPLOAD_LANG_KEY, value);
    } catch {
      // Not remembered.
    }
  };

  const addFiles = (files: FileList | File[] | null): void => {
    if (!files || files.length === 0) return;
    queue.add(Array.from(files), language || null, prompt);
  };

  const onDrop = (event: DragEvent): void => {
    event.preventDefault();
    setDragging(false);
    addFiles(event.dataTransfer.files);
  };

  const chosen = info?.languages.find((l) => l.code === language);
  const unsupported = chosen !== undefined && !chosen.supported;
  const promptSet = prompt.trim() !== "";

  return (
    <section className={compact ? "upload compact" : "upload"} aria-labelledby={`${inputId}-title`}>
      <h2 id={`${inputId}-title`}>{t("upload.title")}</h2>
      <div className="upload-controls">
        <div
          className={dragging ? "dropzone dragging" : "dropzone"}
          onDragOver={(e) => {
            e.preventDefault();
            setDragging(true);
          }}
          onDragLeave={() => setDragging(false)}
          onDrop={onDrop}
        >
          <p className="hint drop-hint">{t("upload.drop")}</p>
          <label htmlFor={inputId} className="button primary file-label">
            {t("upload.input")}
          </label>
          <input
            id={inputId}
            className="file-input"
            type="file"
            multiple
            accept="audio/*,video/*,.mp3,.m4a,.wav,.ogg,.opus,.flac,.webm,.aac"
            onChange={(e) => {
              addFiles(e.target.files);
              e.target.value = "";
            }}
          />
          {info && <p className="hint limit-hint">{t("upload.limit", { max: formatBytes(info.maxUploadBytes, lang) })}</p>}
        </div>
        <div className="field inline upload-language">
          <label htmlFor={languageId}>{t("upload.language")}</label>
          <select id={languageId} value={language} onChange={(e) => chooseLanguage(e.target.value)}>
            <option value="">{t("upload.auto")}</option>
            {RECORDING_LANGUAGES.map((l) => (
              <option key={l.code} value={l.code} lang={l.code}>
                {l.name}
              </option>
            ))}
          </select>
        </div>
        <Recorder onRecorded={(file) => addFiles([file])} />
      </div>
      <details className="upload-prompt" open={promptOpen} onToggle={(e) => setPromptOpen(e.currentTarget.open)}>
        <summary>
          {t("upload.promptToggle")}
          {promptSet && <span className="prompt-set"> · {t("upload.promptSet")}</span>}
        </summary>
        <div className="field">
          <label htmlFor={promptId}>{t("upload.promptLabel")}</label>
          <textarea
            id={promptId}
            rows={3}
            maxLength={MAX_PROMPT_CHARS}
            value={prompt}
            dir="auto"
            aria-describedby={`${promptId}-hint ${promptId}-count`}
            onChange={(e) => setPrompt(e.target.value)}
          />
          <div className="prompt-foot">
            <span id={`${promptId}-hint`} className="hint small">
              {t("upload.promptHint")} <Link to="/account">{t("upload.promptVocabulary")}</Link>
            </span>
            <span id={`${promptId}-count`} className="hint small counter">
              {t("upload.promptCount", { n: prompt.length, max: MAX_PROMPT_CHARS })}
            </span>
          </div>
        </div>
      </details>
      {unsupported && (
        <p className="warning" role="status">
          {t(info?.refusesUnsupportedLanguages ? "upload.unsupportedLanguageRefused" : "upload.unsupportedLanguage", {
            language: languageWord(chosen.code, t, lang),
          })}
        </p>
      )}
      {items.length > 0 && (
        <ul className="upload-list" aria-label={t("upload.queue")}>
          {items.map((item) => (
            <UploadRow key={item.id} item={item} queue={queue} text={messageText(item, t, lang)} />
          ))}
        </ul>
      )}
    </section>
  );
}

function UploadRow({ item, queue, text }: { item: UploadItem; queue: UploadQueue; text: string | null }) {
  const t = useT();
  const lang = useLang();
  const name = displayName(item.file.name);
  const fraction = item.total > 0 ? Math.min(1, item.loaded / item.total) : 0;
  const label = {
    waiting: t("upload.waiting"),
    uploading: t("upload.uploading", { percent: formatPercent(fraction, lang) }),
    uploaded: t("upload.uploaded"),
    refused: t("upload.refused"),
    failed: t("upload.failed"),
    cancelled: t("upload.cancelled"),
  }[item.state];
  return (
    <li className={`upload-item state-${item.state}`} data-upload-state={item.state}>
      <div className="upload-head">
        <span className="filename" dir="auto">
          {name}
        </span>
        <span className="hint">{formatBytes(item.file.size, lang)}</span>
      </div>
      {(item.state === "uploading" || item.state === "waiting") && (
        <progress
          max={1}
          value={fraction}
          aria-label={t("upload.progressOf", { name })}
        />
      )}
      <div className="upload-foot">
        <span className="upload-state">{label}</span>
        {text && (
          <span className={item.state === "refused" || item.state === "failed" ? "error" : "hint"} role="alert">
            {text}
          </span>
        )}
        <span className="actions">
          {(item.state === "uploading" || item.state === "waiting") && (
            <button type="button" onClick={() => queue.cancel(item.id)}>
              {t("upload.cancel")}
            </button>
          )}
          {(item.state === "failed" || item.state === "cancelled") && (
            <button type="button" onClick={() => queue.retry(item.id)}>
              {t("upload.tryAgain")}
            </button>
          )}
          {item.state === "uploaded" && item.audioId && <Link to={`/audio/${item.audioId}`}>{t("upload.open")}</Link>}
          {item.state !== "uploading" && item.state !== "waiting" && (
            <button type="button" className="link-button" onClick={() => queue.dismiss(item.id)}>
              {t("upload.dismiss")}
            </button>
          )}
        </span>
      </div>
    </li>
  );
}
