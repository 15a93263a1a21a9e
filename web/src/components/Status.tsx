import { useLang, useT, type MessageKey } from "../i18n";
import { formatDuration, formatPercent, ordinal } from "../lib/format";

const STATUS_KEYS: Record<string, MessageKey> = {
  QUEUED: "status.QUEUED",
  PROCESSING: "status.PROCESSING",
  COMPLETED: "status.COMPLETED",
  FAILED: "status.FAILED",
  CANCELLED: "status.CANCELLED",
};

export function statusKey(status: string): MessageKey {
  return STATUS_KEYS[status] ?? "status.QUEUED";
}

export function StatusBadge({ status }: { status: string }) {
  const t = useT();
  return (
    <span className={`status status-${status.toLowerCase()}`} data-status={status}>
      {t(statusKey(status))}
    </span>
  );
}

/** A live progress bar while a recording is transcribed. */
export function TranscriptionProgress({ progress, name }: { progress: number | null | undefined; name: string }) {
  const t = useT();
  const lang = useLang();
  const value = Math.max(0, Math.min(1, progress ?? 0));
  return (
    <div className="progress-line">
      <progress max={1} value={value} aria-label={t("library.progressOf", { name })} />
      <span className="hint">{formatPercent(value, lang)}</span>
    </div>
  );
}

/** "3rd in queue · about 2 min" beside a QUEUED or PROCESSING status (nothing once done). */
export function QueueInfo({ position, eta }: { position?: number | null; eta?: number | null }) {
  const t = useT();
  const lang = useLang();
  const parts: string[] = [];
  if (position != null) parts.push(t("queue.position", { n: ordinal(position, lang) }));
  if (eta != null) parts.push(eta < 60 ? t("queue.etaSoon") : t("queue.eta", { time: formatDuration(eta, t) }));
  if (parts.length === 0) return null;
  return <span className="queue-info hint">{parts.join(" · ")}</span>;
}
