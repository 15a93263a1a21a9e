"""The audit trail of a recording: every event, in order, said briefly and without the
personal data it carries (no transcript text, no filename)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain.erasure import ErasedEvent
from domain.recordings import Recording

SYSTEM = "system"
REDACTED = "redacted"


@dataclass(frozen=True)
class AuditEntry:
    """``summary`` in English; ``detail`` is the same as a message key and its values,
    for the API to say in the reader's language."""

    version: int
    type: str
    at: datetime
    actor: str
    summary: str
    redacted: bool = False
    detail: tuple[str, dict[str, object]] = ("", {})


Said = tuple[str, str, dict[str, object]]  # (English, message key, its values)


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f}"


def _uploaded(e: Any) -> tuple[str, Said]:
    values: dict[str, object] = {
        "content_type": e.content_type,
        "size_mb": _mb(e.size_bytes),
        "seconds": f"{e.duration_seconds:.1f}",
    }
    english = f"Uploaded {e.content_type}, {_mb(e.size_bytes)} MB, {e.duration_seconds:.1f} s"
    if e.language:
        return str(e.owner_id), (
            f"{english}, language hint {e.language}",
            "AUDIT_UPLOADED_WITH_HINT",
            {**values, "language": e.language},
        )
    return str(e.owner_id), (english, "AUDIT_UPLOADED", values)


def _edited(e: Any) -> tuple[str, Said]:
    if e.text is not None:
        words: dict[str, object] = {"words": len(e.text.split())}
        return str(e.editor_id), (
            f"Transcript replaced ({words['words']} words)",
            "AUDIT_REPLACED",
            words,
        )
    count: dict[str, object] = {"segments": len(e.segment_edits)}
    return str(e.editor_id), (
        f"{count['segments']} segment(s) corrected",
        "AUDIT_CORRECTED",
        count,
    )


def _started(e: Any) -> tuple[str, Said]:
    said = (
        f"Transcription started (attempt {e.attempt})",
        "AUDIT_STARTED",
        {"attempt": e.attempt},
    )
    return f"worker {e.worker}", said


def _completed(e: Any) -> tuple[str, Said]:
    language = e.language or "?"
    probability = f" p={e.language_probability:.2f}" if e.language_probability is not None else ""
    values: dict[str, object] = {
        "model": e.model_name,
        "language": language,
        "words": len(e.text.split()),
        "segments": len(e.segments),
        "seconds": f"{e.processing_seconds:.1f}",
    }
    doubt = ", language uncertain" if e.language_uncertain else ""
    english = (
        f"Transcribed by {e.model_name}: {language}{probability}{doubt}, "
        f"{values['words']} words in {values['segments']} segments, "
        f"{e.processing_seconds:.1f} s"
    )
    key = "AUDIT_COMPLETED_UNCERTAIN" if e.language_uncertain else "AUDIT_COMPLETED"
    return SYSTEM, (english, key, values)


def _failed(e: Any) -> tuple[str, Said]:
    outcome = "will retry" if e.retryable else "final"
    reason = e.reason.split(":")[0]
    english = f"Transcription failed (attempt {e.attempt}, {outcome}): {reason}"
    key = "AUDIT_FAILED_RETRY" if e.retryable else "AUDIT_FAILED_FINAL"
    return SYSTEM, (english, key, {"attempt": e.attempt, "reason": reason})


def _requeued(e: Any) -> tuple[str, Said]:
    return str(e.actor_id), ("Transcription requested again", "AUDIT_REQUEUED", {})


def _cancelled(e: Any) -> tuple[str, Said]:
    return str(e.actor_id), ("Transcription cancelled", "AUDIT_CANCELLED", {})


def _renamed(e: Any) -> tuple[str, Said]:
    # The label only: the name is personal data (often a person's own name).
    said = (f"Speaker {e.speaker} renamed", "AUDIT_SPEAKER_RENAMED", {"speaker": e.speaker})
    return str(e.editor_id), said


def _deleted(e: Any) -> tuple[str, Said]:
    return str(e.actor_id), ("Deleted, audio and data key erased", "AUDIT_DELETED", {})


_DESCRIBE: dict[type, tuple[str, Callable[[Any], tuple[str, Said]]]] = {
    Recording.AudioUploaded: ("AudioUploaded", _uploaded),
    Recording.TranscriptEdited: ("TranscriptEdited", _edited),
    Recording.TranscriptionStarted: ("TranscriptionStarted", _started),
    Recording.TranscriptionCompleted: ("TranscriptionCompleted", _completed),
    Recording.TranscriptionFailed: ("TranscriptionFailed", _failed),
    Recording.TranscriptionRequeued: ("TranscriptionRequeued", _requeued),
    Recording.TranscriptionCancelled: ("TranscriptionCancelled", _cancelled),
    Recording.SpeakerRenamed: ("SpeakerRenamed", _renamed),
    Recording.AudioDeleted: ("AudioDeleted", _deleted),
}


def audit_entry(event: Any) -> AuditEntry:
    """One line of the trail. Erased events keep only what happened and when."""
    if isinstance(event, ErasedEvent):
        return AuditEntry(
            version=event.originator_version,
            type=event.event_name,
            at=event.timestamp,
            actor=REDACTED,
            summary="Details erased",
            redacted=True,
            detail=("AUDIT_ERASED", {}),
        )
    known = _DESCRIBE.get(type(event))
    name = known[0] if known else type(event).__name__
    other: Said = (name, "AUDIT_OTHER", {"name": name})
    actor, (summary, key, values) = known[1](event) if known else (SYSTEM, other)
    return AuditEntry(
        version=event.originator_version,
        type=name,
        at=event.timestamp,
        actor=actor,
        summary=summary,
        detail=(key, values),
    )
