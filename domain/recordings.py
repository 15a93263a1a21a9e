"""Recordings: an uploaded piece of audio and everything that happens to its transcript."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import DomainError
from domain.speaker_names import UnknownSpeakerError, clean_speaker_name, speakers_in
from domain.text import unstorable_reason


class TranscriptionStatus(StrEnum):
    QUEUED = "QUEUED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class RecordingNotFoundError(DomainError):
    """Absent, erased, deleted, or not the caller's: all look the same from outside."""

    code = "NOT_FOUND"


class VersionConflictError(DomainError):
    code = "VERSION_CONFLICT"

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected version {expected}, recording is at {actual}")
        self.expected = expected
        self.actual = actual


class InvalidEditError(DomainError):
    code = "INVALID_EDIT"


class NotPermittedError(DomainError):
    """The caller may see the recording but not do this to it."""

    code = "NOT_PERMITTED"


class TranscriptionStateError(DomainError):
    """The transcription is not in a state that allows this step."""

    code = "INVALID_STATE"


class NotCancellableError(TranscriptionStateError):
    """Only a QUEUED or PROCESSING transcription can be cancelled."""

    code = "NOT_CANCELLABLE"

    def __init__(self, status: TranscriptionStatus) -> None:
        super().__init__(f"a {status} recording cannot be cancelled")
        self.status = status


@dataclass(frozen=True)
class TranscriptFacts:
    """What a transcription produced."""

    text: str
    segments: list[dict[str, Any]]
    language: str | None
    language_probability: float | None
    language_uncertain: bool
    duration: float | None
    model_name: str
    processing_seconds: float


@dataclass(frozen=True)
class SegmentEdit:
    """New text for one segment; its timing stays as it was."""

    segment_id: int
    text: str


MAX_TRANSCRIPT_CHARS = 2_000_000


@dataclass(frozen=True)
class AudioFacts:
    """What the server established about an uploaded file before accepting it."""

    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    blob_key: str
    duration_seconds: float
    language: str | None
    prompt: str | None = None  # context for the model (domain.vocabulary)


class Recording(Aggregate):
    """One uploaded recording, its transcription and its edits."""

    class AudioUploaded(Aggregate.Created):
        owner_id: UUID
        filename: str
        content_type: str
        size_bytes: int
        sha256: str
        blob_key: str
        duration_seconds: float
        language: str | None
        prompt: str | None

        class_version = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Uploads from before prompts existed had none."""
            state["prompt"] = None

    class Event(Aggregate.Event):
        """Every later event names the owner too, so that an erased recording's history
        (whose payloads are unreadable) still says whose it was."""

        owner_id: UUID

    class TranscriptEdited(Event):
        text: str | None
        segment_edits: list[dict[str, Any]]
        editor_id: UUID

    class AudioDeleted(Event):
        actor_id: UUID

    class SpeakerRenamed(Event):
        speaker: str  # the label the engine gave, S1, S2, …
        name: str  # personal data: in the payload only, encrypted and erased with it
        editor_id: UUID

    class TranscriptionStarted(Event):
        worker: str
        attempt: int

    class TranscriptionCompleted(Event):
        attempt: int
        text: str
        segments: list[dict[str, Any]]
        language: str | None
        language_probability: float | None
        language_uncertain: bool
        duration: float | None
        model_name: str
        processing_seconds: float

    class TranscriptionFailed(Event):
        reason: str
        attempt: int
        retryable: bool

    class TranscriptionRequeued(Event):
        actor_id: UUID

    class TranscriptionCancelled(Event):
        actor_id: UUID

    @event(AudioUploaded)
    def __init__(
        self,
        *,
        id: UUID,  # chosen before the blob is stored, see Recordings.upload
        owner_id: UUID,
        filename: str,
        content_type: str,
        size_bytes: int,
        sha256: str,
        blob_key: str,
        duration_seconds: float,
        language: str | None,
        prompt: str | None,
    ) -> None:
        self.owner_id = owner_id
        self.filename = filename
        self.content_type = content_type
        self.size_bytes = size_bytes
        self.sha256 = sha256
        self.blob_key = blob_key
        self.duration_seconds = duration_seconds
        self.language = language
        self.prompt = prompt
        self.status = TranscriptionStatus.QUEUED
        self.transcript_text: str | None = None
        self.segments: list[dict[str, Any]] = []
        self.error: str | None = None
        self.deleted = False
        self.attempt = 0
        self.detected_language: str | None = None
        self.language_probability: float | None = None
        self.language_uncertain = False
        self.model_name: str | None = None
        # label -> name, kept across transcriptions (a new one labels in the same order)
        self.speaker_names: dict[str, str] = {}

    def trigger_event(self, event_class: Any, **kwargs: Any) -> None:
        if isinstance(event_class, type) and issubclass(event_class, Recording.Event):
            kwargs.setdefault("owner_id", self.owner_id)
        super().trigger_event(event_class, **kwargs)

    # -- rules -------------------------------------------------------------------------

    def check_version(self, expected: int | None) -> None:
        if expected is not None and expected != self.version:
            raise VersionConflictError(expected, self.version)

    def edit_transcript(
        self,
        editor_id: UUID,
        text: str | None,
        segment_edits: list[SegmentEdit],
        expected_version: int | None,
    ) -> None:
        """Replace the whole text, or the text of some segments (timings kept)."""
        self._check_live()
        self.check_version(expected_version)
        if text is None and not segment_edits:
            raise InvalidEditError("nothing to change")
        if text is not None and segment_edits:
            raise InvalidEditError("give the whole text or segment edits, not both")
        if text is not None and len(text) > MAX_TRANSCRIPT_CHARS:
            raise InvalidEditError("transcript too long")
        for given in [text, *(e.text for e in segment_edits)]:
            reason = unstorable_reason(given) if given is not None else None
            if reason is not None:
                raise InvalidEditError(reason)
        known = {int(s["id"]) for s in self.segments}
        unknown = [e.segment_id for e in segment_edits if e.segment_id not in known]
        if unknown:
            raise InvalidEditError(f"no segment {unknown[0]}")
        self._record_edit(
            text=text,
            segment_edits=[{"id": e.segment_id, "text": e.text} for e in segment_edits],
            editor_id=editor_id,
        )

    def rename_speaker(
        self, editor_id: UUID, speaker: str, name: str, expected_version: int | None
    ) -> None:
        """Name a speaker of the current transcript. The same name again changes nothing
        (no event); a later transcription keeps the name for the label."""
        self._check_live()
        self.check_version(expected_version)
        cleaned = clean_speaker_name(name)
        if speaker not in speakers_in(self.segments):
            raise UnknownSpeakerError("no segment of the transcript has that speaker")
        if self.speaker_names.get(speaker) != cleaned:
            self._record_rename(speaker=speaker, name=cleaned, editor_id=editor_id)

    def delete(self, actor_id: UUID) -> None:
        self._check_live()
        self._record_deletion(actor_id=actor_id)

    def start_transcription(self, worker: str, attempt: int) -> None:
        """A worker took the job (again, if an earlier worker's lease ran out)."""
        self._check_live()
        if self.status not in (TranscriptionStatus.QUEUED, TranscriptionStatus.PROCESSING):
            raise TranscriptionStateError(f"cannot start: {self.status}")
        if attempt < self.attempt:  # a worker that stalled past its lease: a newer one runs
            raise TranscriptionStateError(f"attempt {attempt} is older than {self.attempt}")
        self._record_start(worker=worker, attempt=attempt)

    def complete_transcription(self, attempt: int, result: TranscriptFacts) -> None:
        """Only the attempt in progress may complete, and only once."""
        self._check_current(attempt)
        self._record_completion(
            attempt=attempt,
            text=result.text,
            segments=result.segments,
            language=result.language,
            language_probability=result.language_probability,
            language_uncertain=result.language_uncertain,
            duration=result.duration,
            model_name=result.model_name,
            processing_seconds=result.processing_seconds,
        )

    def fail_transcription(self, attempt: int, reason: str, *, retryable: bool) -> None:
        """The attempt in progress failed, or (``attempt`` newer than the last start) a
        worker found the job out of attempts after its earlier workers died."""
        self._check_live()
        active = (TranscriptionStatus.QUEUED, TranscriptionStatus.PROCESSING)
        if self.status not in active or attempt < self.attempt:
            raise TranscriptionStateError(f"attempt {attempt} cannot fail now ({self.status})")
        self._record_failure(reason=reason, attempt=attempt, retryable=retryable)

    def requeue(self, actor_id: UUID) -> None:
        """retryTranscription: a FAILED or CANCELLED recording goes back in the queue."""
        self._check_live()
        if self.status not in (TranscriptionStatus.FAILED, TranscriptionStatus.CANCELLED):
            raise TranscriptionStateError(
                f"only a FAILED or CANCELLED recording can be retried, not {self.status}"
            )
        self._record_requeue(actor_id=actor_id)

    def cancel(self, actor_id: UUID) -> None:
        """cancelTranscription: a QUEUED job never starts, a PROCESSING one stops. Racing
        its completion, whichever is saved first wins (the other sees the new state)."""
        self._check_live()
        if self.status not in (TranscriptionStatus.QUEUED, TranscriptionStatus.PROCESSING):
            raise NotCancellableError(self.status)
        self._record_cancel(actor_id=actor_id)

    def _check_current(self, attempt: int) -> None:
        self._check_live()
        if self.status is not TranscriptionStatus.PROCESSING or attempt != self.attempt:
            raise TranscriptionStateError(
                f"attempt {attempt} is not the one in progress ({self.status}, {self.attempt})"
            )

    def _check_live(self) -> None:
        if self.deleted:
            raise RecordingNotFoundError(str(self.id))

    # -- events ------------------------------------------------------------------------

    @event(TranscriptEdited)
    def _record_edit(
        self, text: str | None, segment_edits: list[dict[str, Any]], editor_id: UUID
    ) -> None:
        self.transcript_text, self.segments = apply_edit(
            self.transcript_text, self.segments, text, segment_edits
        )

    @event(SpeakerRenamed)
    def _record_rename(self, speaker: str, name: str, editor_id: UUID) -> None:
        self.speaker_names = {**self.speaker_names, speaker: name}

    @event(AudioDeleted)
    def _record_deletion(self, actor_id: UUID) -> None:
        self.deleted = True

    @event(TranscriptionStarted)
    def _record_start(self, worker: str, attempt: int) -> None:
        self.status = TranscriptionStatus.PROCESSING
        self.attempt = attempt

    @event(TranscriptionCompleted)
    def _record_completion(
        self,
        *,
        attempt: int,
        text: str,
        segments: list[dict[str, Any]],
        language: str | None,
        language_probability: float | None,
        language_uncertain: bool,
        duration: float | None,
        model_name: str,
        processing_seconds: float,
    ) -> None:
        self.status = TranscriptionStatus.COMPLETED
        self.transcript_text = text
        self.segments = segments
        self.detected_language = language
        self.language_probability = language_probability
        self.language_uncertain = language_uncertain
        self.model_name = model_name
        self.error = None

    @event(TranscriptionFailed)
    def _record_failure(self, reason: str, attempt: int, retryable: bool) -> None:
        self.status = TranscriptionStatus.QUEUED if retryable else TranscriptionStatus.FAILED
        self.error = reason

    @event(TranscriptionCancelled)
    def _record_cancel(self, actor_id: UUID) -> None:
        self.status = TranscriptionStatus.CANCELLED
        self.error = None

    @event(TranscriptionRequeued)
    def _record_requeue(self, actor_id: UUID) -> None:
        self.status = TranscriptionStatus.QUEUED
        self.error = None
        self.attempt = 0


def apply_edit(
    transcript: str | None,
    segments: list[dict[str, Any]],
    text: str | None,
    segment_edits: list[dict[str, Any]],
) -> tuple[str | None, list[dict[str, Any]]]:
    """The transcript and segments after an edit.

    A segment edit changes that segment's text; its timing stays, its word timings no
    longer match and are dropped, and the transcript becomes the segments joined.

    A whole-text edit replaces the transcript and spreads its words over the existing
    segments in proportion to how many words each segment had, so every segment keeps its
    timing and subtitles show the corrected words at about the right time; edited
    segments are flagged ``edited`` and lose their word timings. (Exact alignment would
    need the audio; this keeps subtitles usable without it.)

    Used by the aggregate and by the read-model projection alike.
    """
    if text is not None:
        return text, _spread(text, segments)
    by_id = {int(e["id"]): str(e["text"]) for e in segment_edits}
    new_segments = [
        {**s, "text": by_id[int(s["id"])], "words": [], "edited": True}
        if int(s["id"]) in by_id
        else s
        for s in segments
    ]
    joined = " ".join(str(s["text"]).strip() for s in new_segments).strip()
    return joined, new_segments


class InvalidAudioError(DomainError):
    """The upload is not audio we can transcribe. ``reason`` is a stable code."""

    code = "INVALID_AUDIO"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


class FileTooLargeError(DomainError):
    code = "FILE_TOO_LARGE"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"larger than {max_bytes} bytes")
        self.max_bytes = max_bytes


def _spread(text: str, segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    words = text.split()
    weights = [max(1, len(str(s.get("text", "")).split())) for s in segments]
    total = sum(weights)
    spread: list[dict[str, Any]] = []
    cumulative = 0
    start = 0
    for segment, weight in zip(segments, weights, strict=True):
        cumulative += weight
        end = round(len(words) * cumulative / total)
        new_text = " ".join(words[start:end])
        spread.append({**segment, "text": new_text, "words": [], "edited": True})
        start = end
    return spread
