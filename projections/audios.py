"""The audios read model: every live recording, for lists, search and detail views.

Here: the row type (its field list is the table's column list), the ports the projection
writes through and the API reads through, the projection, and the in-memory view that a
rebuild replays into. The PostgreSQL view is ``infrastructure.views.audios.AudiosView``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking

from domain.erasure import ErasedEvent
from domain.quota import QuotaUsage
from domain.recordings import Recording, TranscriptionStatus, apply_edit
from domain.text import storable
from projections.columns import JSON_LIST, JSON_OBJECT, Columns, enum_value
from projections.projection import InMemoryTracking, TrackedWrites, ViewProjection

MAX_PAGE = 100

# Uzbek Latin writes o' and g' with U+02BB, and people also type U+02BC, U+2018, U+2019
# or a backtick: one ASCII apostrophe for all of them in the index and in queries, so that
# "o'zbek" finds the word however it was written.
APOSTROPHES = "\u02bb\u02bc\u2018\u2019`"


def normalise_apostrophes(text: str) -> str:
    return text.translate({ord(c): "'" for c in APOSTROPHES})


AUDIO_EVENTS_CHANNEL = "ovoz_audio_events"


def logged_progress(status: TranscriptionStatus) -> float | None:
    """The progress the log alone implies (live ticks while PROCESSING are not events)."""
    return {TranscriptionStatus.PROCESSING: 0.0, TranscriptionStatus.COMPLETED: 1.0}.get(status)


@dataclass(frozen=True)
class AudioRow:
    id: UUID
    owner_id: UUID
    filename: str
    content_type: str
    size_bytes: int
    sha256: str
    blob_key: str  # where the audio is stored, as its upload recorded
    duration_seconds: float | None
    status: TranscriptionStatus
    progress: float | None
    language: str | None
    transcript_text: str | None
    segments: list[dict[str, Any]]
    error: str | None
    version: int
    created_at: datetime
    updated_at: datetime
    language_probability: float | None = None
    language_uncertain: bool = False
    model_name: str | None = None
    prompt: str | None = None  # what the upload told the model about itself
    # label -> name given with renameSpeaker (kept across transcriptions, as the aggregate)
    speaker_names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, r: Recording, created_at: datetime) -> AudioRow:
        """The row the projection writes for this state of the recording: the one
        conversion that ``audio(id)``, ``audio(id, atVersion)`` and a mutation's answer
        share (live progress aside, which is not in the log)."""
        return cls(
            id=r.id,
            owner_id=r.owner_id,
            filename=r.filename,
            content_type=r.content_type,
            size_bytes=r.size_bytes,
            sha256=r.sha256,
            blob_key=r.blob_key,
            duration_seconds=r.duration_seconds,
            status=r.status,
            progress=logged_progress(r.status),
            language=r.detected_language or r.language,
            transcript_text=r.transcript_text,
            segments=r.segments,
            error=r.error,
            version=r.version,
            created_at=created_at,
            updated_at=r.modified_on,
            language_probability=r.language_probability,
            language_uncertain=r.language_uncertain,
            model_name=r.model_name,
            prompt=r.prompt,
            speaker_names=dict(r.speaker_names),
        )


def _storable(value: Any) -> Any:
    """``value`` with text PostgreSQL cannot hold replaced (see domain.text): inputs are
    refused with such text, but an event that carries it anyway (older code, another
    writer) must not stop this view for everyone."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, list):
        return [_storable(v) for v in value]
    if isinstance(value, dict):
        return {k: _storable(v) for k, v in value.items()}
    return value


# The table's columns: AudioRow's fields, those not stored as themselves declared here.
AUDIO_COLUMNS = Columns(
    AudioRow,
    {
        "status": enum_value(TranscriptionStatus),
        "segments": JSON_LIST,
        "speaker_names": JSON_OBJECT,
    },
    prepare=_storable,
)


@dataclass(frozen=True)
class AudioPage:
    items: list[AudioRow]
    total: int


@dataclass(frozen=True)
class AudioFilter:
    """Which recordings to list. ``owner_id`` None means everyone's (admins only)."""

    owner_id: UUID | None
    status: TranscriptionStatus | None = None
    search: str | None = None


# A change to a row: the fields it sets (row values: enums as members), from the row as it is.
AudioChange = Callable[[AudioRow], dict[str, Any]]


class AudioWrites(TrackedWrites, Protocol):
    """What the audios projection writes through: each write records its tracking."""

    def insert(self, row: AudioRow, tracking: Tracking) -> None:
        """Add the row (a replayed upload whose row exists changes nothing)."""

    def update(
        self, audio_id: UUID, version: int, at: datetime, tracking: Tracking, change: AudioChange
    ) -> None:
        """Apply ``change`` to the row, if it is still there, at ``version`` and time ``at``."""

    def remove(self, audio_id: UUID, tracking: Tracking, owner_id: UUID | None = None) -> None:
        """Delete the row. The owner's position moves even if the row is already gone."""


class AudioReads(Protocol):
    """What the API and the use cases read from the audios view."""

    def get(self, audio_id: UUID) -> AudioRow | None: ...

    def page(self, where: AudioFilter, skip: int, limit: int) -> AudioPage:
        """Newest first, at most MAX_PAGE; ``total`` counts every match."""

    def usage_of(self, owner_id: UUID, log_name: str) -> tuple[QuotaUsage, int]:
        """What the owner's recordings hold against their quota, and the log position
        this count reflects."""

    def ids_of(self, owner_id: UUID) -> list[UUID]: ...

    def freshness(self, owner_id: UUID | None) -> tuple[int, int]:
        """What a cached answer for ``owner_id`` (None: anyone) must match to be exact:
        the owner's log position and their count of progress updates."""


class AudioProgress(Protocol):
    """Live progress of a transcription: not an event, written by the worker."""

    def set_progress(self, audio_id: UUID, progress: float) -> bool:
        """Record the latest progress of a PROCESSING recording; False if it is not."""


class AudiosProjection(ViewProjection[AudioWrites]):
    """Builds ``audios`` from the recordings log (every event advances its tracking)."""

    name = "audios"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.skip(tracking)

    @process_event.register
    def _(self, e: Recording.AudioUploaded, tracking: Tracking) -> None:
        # The row of the recording as its upload made it: the one conversion, AudioRow.of.
        recording = e.mutate(None)
        assert isinstance(recording, Recording)
        self.view.insert(AudioRow.of(recording, e.timestamp), tracking)

    @process_event.register
    def _(self, e: Recording.TranscriptEdited, tracking: Tracking) -> None:
        def change(row: AudioRow) -> dict[str, Any]:
            text, segments = apply_edit(row.transcript_text, row.segments, e.text, e.segment_edits)
            return {"transcript_text": text, "segments": segments}

        self.view.update(e.originator_id, e.originator_version, e.timestamp, tracking, change)

    @process_event.register
    def _(self, e: Recording.SpeakerRenamed, tracking: Tracking) -> None:
        def change(row: AudioRow) -> dict[str, Any]:
            return {"speaker_names": {**row.speaker_names, e.speaker: e.name}}

        self.view.update(e.originator_id, e.originator_version, e.timestamp, tracking, change)

    @process_event.register
    def _(self, e: Recording.TranscriptionStarted, tracking: Tracking) -> None:
        status = TranscriptionStatus.PROCESSING
        self._set(e, tracking, status=status, progress=logged_progress(status))

    @process_event.register
    def _(self, e: Recording.TranscriptionCompleted, tracking: Tracking) -> None:
        status = TranscriptionStatus.COMPLETED

        def change(row: AudioRow) -> dict[str, Any]:
            return {
                "status": status,
                "progress": logged_progress(status),
                "transcript_text": e.text,
                "segments": e.segments,
                # No detected language keeps the one the upload asked for.
                "language": e.language or row.language,
                "language_probability": e.language_probability,
                "language_uncertain": e.language_uncertain,
                "model_name": e.model_name,
                "error": None,
            }

        self.view.update(e.originator_id, e.originator_version, e.timestamp, tracking, change)

    @process_event.register
    def _(self, e: Recording.TranscriptionFailed, tracking: Tracking) -> None:
        status = TranscriptionStatus.QUEUED if e.retryable else TranscriptionStatus.FAILED
        self._set(e, tracking, status=status, progress=None, error=e.reason)

    @process_event.register
    def _(self, e: Recording.TranscriptionRequeued, tracking: Tracking) -> None:
        self._set(e, tracking, status=TranscriptionStatus.QUEUED, progress=None, error=None)

    @process_event.register
    def _(self, e: Recording.TranscriptionCancelled, tracking: Tracking) -> None:
        self._set(e, tracking, status=TranscriptionStatus.CANCELLED, progress=None, error=None)

    @process_event.register
    def _(self, e: Recording.AudioDeleted, tracking: Tracking) -> None:
        self.view.remove(e.originator_id, tracking)

    def _set(self, e: Any, tracking: Tracking, **columns: Any) -> None:
        self.view.update(
            e.originator_id, e.originator_version, e.timestamp, tracking, lambda _: columns
        )

    @process_event.register
    def _(self, e: ErasedEvent, tracking: Tracking) -> None:
        # An erased subject leaves no row behind, whichever event we were replaying.
        self.view.remove(e.originator_id, tracking, owner_id=e.owner_id)


class AudiosInMemory(InMemoryTracking):
    """The audios view's writes applied to a dict: replaying a whole log this way and
    copying the result into an empty table at the end is many times faster than a
    transaction per event (``ovoz projections rebuild``). Same projection, same rows."""

    def __init__(self) -> None:
        self.rows: dict[UUID, AudioRow] = {}
        self.owners: dict[UUID, int] = {}  # each owner's last log position
        super().__init__()

    def insert(self, row: AudioRow, tracking: Tracking) -> None:
        self.rows.setdefault(row.id, row)
        self._touch(row.owner_id, tracking)

    def update(
        self, audio_id: UUID, version: int, at: datetime, tracking: Tracking, change: AudioChange
    ) -> None:
        row = self.rows.get(audio_id)
        if row is not None:
            self.rows[audio_id] = replace(row, **change(row), version=version, updated_at=at)
            self._touch(row.owner_id, tracking)
        self.skip(tracking)

    def remove(self, audio_id: UUID, tracking: Tracking, owner_id: UUID | None = None) -> None:
        row = self.rows.pop(audio_id, None)
        owner = row.owner_id if row is not None else owner_id
        if owner is not None:
            self._touch(owner, tracking)
        self.skip(tracking)

    def _touch(self, owner_id: UUID, tracking: Tracking) -> None:
        self.owners[owner_id] = tracking.notification_id
        self.skip(tracking)
