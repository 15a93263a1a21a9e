import { useEffect, useRef, useState } from "react";

/** A destructive action that asks first, in the page (no window.confirm). */
export function ConfirmButton({
  label,
  question,
  confirmLabel,
  keepLabel,
  onConfirm,
  busy,
}: {
  label: string;
  question: string;
  confirmLabel: string;
  keepLabel: string;
  onConfirm: () => void;
  busy?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  const confirmRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) confirmRef.current?.focus();
  }, [asking]);
  if (!asking) {
    return (
      <button type="button" className="danger" onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <div className="confirm" role="alertdialog" aria-label={label} aria-describedby="confirm-question">
      <p id="confirm-question">{question}</p>
      <div className="row">
        <button ref={confirmRef} type="button" className="danger" disabled={busy} onClick={onConfirm}>
          {confirmLabel}
        </button>
        <button type="button" onClick={() => setAsking(false)}>
          {keepLabel}
        </button>
      </div>
    </div>
  );
}
