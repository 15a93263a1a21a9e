"""The transcription jobs view: what is waiting to be transcribed, and who holds it.

The projection keeps the job's *state* from the recordings log (an upload or a retry
queues a job; completion, final failure or deletion ends it). Workers write only the
*lease* columns: they claim a job with ``FOR UPDATE SKIP LOCKED``, renew the lease while
they work and give it up when they stop. A job whose lease ran out (its worker died) is
claimed again; ``attempt`` counts the claims.

Here: the job row, the ports, the projection and the in-memory view a rebuild replays
into. The PostgreSQL view is ``infrastructure.views.jobs.JobsView``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import singledispatchmethod
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking

from domain.erasure import ErasedEvent
from domain.recordings import Recording
from projections.columns import Columns
from projections.projection import InMemoryTracking, TrackedWrites, ViewProjection

JOBS_CHANNEL = "ovoz_jobs"
# NOTIFY payload: the id of a recording whose job was cancelled, for the worker running it.
CANCELLED_CHANNEL = "ovoz_jobs_cancelled"
QUEUED, DONE, FAILED, CANCELLED = "queued", "done", "failed", "cancelled"
RETRY_BACKOFF = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2))


@dataclass(frozen=True)
class ClaimedJob:
    recording_id: UUID
    attempt: int
    language: str | None


@dataclass(frozen=True)
class JobRow:
    """A row of ``transcription_jobs``, as the projection alone makes it."""

    recording_id: UUID
    language: str | None
    state: str
    attempt: int
    available_at: datetime
    lease_owner: str | None
    lease_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime
    # For the queue's ETA (projections.queue): the upload's duration, and once DONE how
    # long the engine took.
    audio_seconds: float | None = None
    processing_seconds: float | None = None


JOB_COLUMNS = Columns(JobRow)


class JobWrites(TrackedWrites, Protocol):
    """What the jobs projection writes through: each write records its tracking."""

    def enqueue(
        self,
        recording_id: UUID,
        language: str | None,
        at: datetime,
        tracking: Tracking,
        audio_seconds: float | None = None,
    ) -> None:
        """Queue the job afresh (a requeue keeps its language, duration and creation time)."""

    def retry_later(self, recording_id: UUID, at: datetime, tracking: Tracking) -> None:
        """A retryable failure: back in the queue after a back-off that grows per attempt."""

    def finish(
        self,
        recording_id: UUID,
        state: str,
        at: datetime,
        tracking: Tracking,
        processing_seconds: float | None = None,
    ) -> None:
        """End the job in ``state`` (DONE, FAILED or CANCELLED); DONE says how long it took."""

    def cancel(self, recording_id: UUID, tracking: Tracking) -> None:
        """Forget the job (its recording is gone)."""


class JobQueue(Protocol):
    """What workers do with the jobs: claim one, keep its lease, give it up."""

    def claim(self, worker: str, lease: timedelta) -> ClaimedJob | None:
        """Take the oldest ready job nobody holds, or None."""

    def renew(self, job: ClaimedJob, worker: str, lease: timedelta) -> bool:
        """Extend the lease; False if it was lost (expired and taken, or the job ended)."""

    def release(self, job: ClaimedJob, worker: str, *, count_attempt: bool) -> None:
        """Give the job up (on shutdown). ``count_attempt`` False: the try does not count."""


class JobsProjection(ViewProjection[JobWrites]):
    """Keeps ``transcription_jobs`` in step with the recordings log."""

    name = "jobs"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.skip(tracking)

    @process_event.register
    def _(self, e: Recording.AudioUploaded, tracking: Tracking) -> None:
        self.view.enqueue(
            e.originator_id, e.language, e.timestamp, tracking, audio_seconds=e.duration_seconds
        )

    @process_event.register
    def _(self, e: Recording.TranscriptionRequeued, tracking: Tracking) -> None:
        self.view.enqueue(e.originator_id, None, e.timestamp, tracking)

    @process_event.register
    def _(self, e: Recording.TranscriptionFailed, tracking: Tracking) -> None:
        if e.retryable:
            self.view.retry_later(e.originator_id, e.timestamp, tracking)
        else:
            self.view.finish(e.originator_id, FAILED, e.timestamp, tracking)

    @process_event.register
    def _(self, e: Recording.TranscriptionCompleted, tracking: Tracking) -> None:
        self.view.finish(
            e.originator_id, DONE, e.timestamp, tracking, processing_seconds=e.processing_seconds
        )

    @process_event.register
    def _(self, e: Recording.TranscriptionCancelled, tracking: Tracking) -> None:
        self.view.finish(e.originator_id, CANCELLED, e.timestamp, tracking)

    @process_event.register
    def _(self, e: Recording.AudioDeleted, tracking: Tracking) -> None:
        self.view.cancel(e.originator_id, tracking)

    @process_event.register
    def _(self, e: ErasedEvent, tracking: Tracking) -> None:
        self.view.cancel(e.originator_id, tracking)


class JobsInMemory(InMemoryTracking):
    """The jobs view's projection writes applied to a dict, for fast replays (see
    AudiosInMemory). No worker writes here: leases and attempts are not in the log."""

    def __init__(self, backoff: tuple[timedelta, ...] = RETRY_BACKOFF) -> None:
        self.backoff = backoff or RETRY_BACKOFF
        self.rows: dict[UUID, JobRow] = {}
        super().__init__()

    def enqueue(
        self,
        recording_id: UUID,
        language: str | None,
        at: datetime,
        tracking: Tracking,
        audio_seconds: float | None = None,
    ) -> None:
        row = self.rows.get(recording_id)
        if row is None:  # as the table's upsert: a requeue keeps language and created_at
            row = JobRow(recording_id, language, QUEUED, 0, at, None, None, at, at, audio_seconds)
        self.rows[recording_id] = replace(
            row, state=QUEUED, attempt=0, available_at=at, lease_owner=None,
            lease_expires_at=None, updated_at=at, processing_seconds=None,
        )  # fmt: skip
        self.skip(tracking)

    def retry_later(self, recording_id: UUID, at: datetime, tracking: Tracking) -> None:
        row = self.rows.get(recording_id)
        if row is not None:
            delay = self.backoff[min(max(row.attempt, 1), len(self.backoff)) - 1]
            self.rows[recording_id] = replace(
                row, state=QUEUED, available_at=at + delay, lease_owner=None,
                lease_expires_at=None, updated_at=at,
            )  # fmt: skip
        self.skip(tracking)

    def finish(
        self,
        recording_id: UUID,
        state: str,
        at: datetime,
        tracking: Tracking,
        processing_seconds: float | None = None,
    ) -> None:
        row = self.rows.get(recording_id)
        if row is not None:
            self.rows[recording_id] = replace(
                row, state=state, lease_owner=None, lease_expires_at=None, updated_at=at,
                processing_seconds=processing_seconds,
            )  # fmt: skip
        self.skip(tracking)

    def cancel(self, recording_id: UUID, tracking: Tracking) -> None:
        self.rows.pop(recording_id, None)
        self.skip(tracking)
