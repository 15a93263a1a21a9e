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
    version: int
    type: str
    at: datetime
    actor: str
    summary: str
    redacted: bool = False


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


def _uploaded(e: Any) -> tuple[str, str]:
    language = f", language hint {e.language}" if e.language else ""
    summary = (
        f"Uploaded {e.content_type}, {_mb(e.size_bytes)}, {e.duration_seconds:.1f} s{language}"
    )
    return str(e.owner_id), summary


def _edited(e: Any) -> tuple[str, str]:
    if e.text is not None:
        return str(e.editor_id), f"Transcript replaced ({len(e.text.split())} words)"
    return str(e.editor_id), f"{len(e.segment_edits)} segment(s) corrected"


def _started(e: Any) -> tuple[str, str]:
    return f"worker {e.worker}", f"Transcription started (attempt {e.attempt})"


def _completed(e: Any) -> tuple[str, str]:
    language = e.language or "?"
    probability = f" p={e.language_probability:.2f}" if e.language_probability is not None else ""
    doubt = ", language uncertain" if e.language_uncertain else ""
    return SYSTEM, (
        f"Transcribed by {e.model_name}: {language}{probability}{doubt}, "
        f"{len(e.text.split())} words in {len(e.segments)} segments, "
        f"{e.processing_seconds:.1f} s"
    )


def _failed(e: Any) -> tuple[str, str]:
    outcome = "will retry" if e.retryable else "final"
    return (
        SYSTEM,
        f"Transcription failed (attempt {e.attempt}, {outcome}): {e.reason.split(':')[0]}",
    )


def _requeued(e: Any) -> tuple[str, str]:
    return str(e.actor_id), "Transcription requested again"


def _deleted(e: Any) -> tuple[str, str]:
    return str(e.actor_id), "Deleted, audio and data key erased"


_DESCRIBE: dict[type, tuple[str, Callable[[Any], tuple[str, str]]]] = {
    Recording.AudioUploaded: ("AudioUploaded", _uploaded),
    Recording.TranscriptEdited: ("TranscriptEdited", _edited),
    Recording.TranscriptionStarted: ("TranscriptionStarted", _started),
    Recording.TranscriptionCompleted: ("TranscriptionCompleted", _completed),
    Recording.TranscriptionFailed: ("TranscriptionFailed", _failed),
    Recording.TranscriptionRequeued: ("TranscriptionRequeued", _requeued),
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
        )
    known = _DESCRIBE.get(type(event))
    name = known[0] if known else type(event).__name__
    actor, summary = known[1](event) if known else (SYSTEM, name)
    return AuditEntry(
        version=event.originator_version,
        type=name,
        at=event.timestamp,
        actor=actor,
        summary=summary,
    )
