import { useEffect, useRef, useState } from "react";
import { useT } from "../i18n";
import { formatClock } from "../lib/format";

type Phase = "idle" | "starting" | "recording";

function pickMimeType(): string {
  const candidates = ["audio/webm;codecs=opus", "audio/webm", "audio/mp4", "audio/ogg;codecs=opus"];
  return candidates.find((type) => MediaRecorder.isTypeSupported(type)) ?? "";
}

function fileName(type: string, at: Date): string {
  const ext = type.includes("mp4") ? "m4a" : type.includes("ogg") ? "ogg" : "webm";
  const pad = (n: number): string => String(n).padStart(2, "0");
  const stamp = `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}-${pad(at.getHours())}${pad(at.getMinutes())}${pad(at.getSeconds())}`;
  return `recording-${stamp}.${ext}`;
}

/** Record from the microphone, with a level meter and a timer; the file is uploaded on stop. */
export function Recorder({ onRecorded }: { onRecorded: (file: File) => void }) {
  const t = useT();
  const [phase, setPhase] = useState<Phase>("idle");
  const [elapsed, setElapsed] = useState(0);
  const [level, setLevel] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const stopRef = useRef<((keep: boolean) => void) | null>(null);

  useEffect(() => () => stopRef.current?.(false), []);

  const supported = typeof window !== "undefined" && "MediaRecorder" in window && !!navigator.mediaDevices?.getUserMedia;
  if (!supported) return null;

  const start = async (): Promise<void> => {
    setError(null);
    setPhase("starting");
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      setError(t("record.denied"));
      setPhase("idle");
      return;
    }
    const type = pickMimeType();
    const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    const chunks: Blob[] = [];
    const startedAt = new Date();
    let keep = true;
    recorder.ondataavailable = (event) => {
      if (event.data.size > 0) chunks.push(event.data);
    };
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(stream).connect(analyser);
    const samples = new Uint8Array(analyser.fftSize);
    let frame = 0;
    const tick = (): void => {
      analyser.getByteTimeDomainData(samples);
      let peak = 0;
      for (const s of samples) peak = Math.max(peak, Math.abs(s - 128) / 128);
      setLevel(peak);
      setElapsed((Date.now() - startedAt.getTime()) / 1000);
      frame = requestAnimationFrame(tick);
    };
    recorder.onstop = () => {
      cancelAnimationFrame(frame);
      for (const track of stream.getTracks()) track.stop();
      void context.close();
      setPhase("idle");
      setLevel(0);
      stopRef.current = null;
      if (keep && chunks.length > 0) {
        const mime = recorder.mimeType || type || "audio/webm";
        onRecorded(new File(chunks, fileName(mime, startedAt), { type: mime.split(";")[0] }));
      }
    };
    stopRef.current = (keepIt: boolean) => {
      keep = keepIt;
      if (recorder.state !== "inactive") recorder.stop();
    };
    recorder.start(1000);
    setElapsed(0);
    setPhase("recording");
    tick();
  };

  return (
    <div className="recorder">
      {phase !== "recording" ? (
        <button type="button" onClick={() => void start()} disabled={phase === "starting"}>
          <span aria-hidden="true" className="rec-dot" /> {t("record.start")}
        </button>
      ) : (
        <div className="recording-now" role="group" aria-label={t("record.recording")}>
          <span className="timer" aria-live="off">
            {formatClock(elapsed)}
          </span>
          <meter min={0} max={1} value={level} aria-label={t("record.level")} />
          <button type="button" className="primary" onClick={() => stopRef.current?.(true)}>
            {t("record.stop")}
          </button>
          <button type="button" onClick={() => stopRef.current?.(false)}>
            {t("record.discard")}
          </button>
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
