"""The transcription jobs view: what is waiting to be transcribed, and who holds it.

The projection keeps the job's *state* from the recordings log (an upload or a retry
queues a job; completion, final failure or deletion ends it). Workers write only the
*lease* columns: they claim a job with ``FOR UPDATE SKIP LOCKED``, renew the lease while
they work and give it up when they stop. A job whose lease ran out (its worker died) is
claimed again; ``attempt`` counts the claims.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL

from domain.erasure import ErasedEvent
from domain.recordings import Recording

JOBS_CHANNEL = "ovoz_jobs"
QUEUED, DONE, FAILED = "queued", "done", "failed"
RETRY_BACKOFF = (timedelta(seconds=5), timedelta(seconds=30), timedelta(minutes=2))

_COLUMNS = (
    "recording_id, language, state, attempt, available_at, lease_owner, lease_expires_at, "
    "created_at, updated_at"
)

_CREATE = [
    """CREATE TABLE IF NOT EXISTS transcription_jobs (
        recording_id uuid PRIMARY KEY,
        language text,
        state text NOT NULL,
        attempt integer NOT NULL DEFAULT 0,
        available_at timestamptz NOT NULL,
        lease_owner text,
        lease_expires_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS transcription_jobs_ready "
    "ON transcription_jobs (available_at, created_at) WHERE state = 'queued'",
]


@dataclass(frozen=True)
class ClaimedJob:
    recording_id: UUID
    attempt: int
    language: str | None


class JobsView(PostgresTrackingRecorder):
    """The ``transcription_jobs`` table."""

    tables = ("transcription_jobs", "jobs_tracking")  # every table it creates

    def __init__(
        self,
        datastore: PostgresDatastore,
        backoff: tuple[timedelta, ...] = RETRY_BACKOFF,
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name="jobs_tracking", **kwargs)
        self.backoff = backoff or RETRY_BACKOFF
        self.sql_create_statements.extend(SQL(s).format() for s in _CREATE)

    # -- from the projection ---------------------------------------------------------------

    def enqueue(
        self, recording_id: UUID, language: str | None, at: datetime, tracking: Tracking
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO transcription_jobs (recording_id, language, state, attempt, "
                "available_at, created_at, updated_at) VALUES (%s, %s, 'queued', 0, %s, %s, %s) "
                "ON CONFLICT (recording_id) DO UPDATE SET state = 'queued', attempt = 0, "
                "available_at = excluded.available_at, lease_owner = NULL, "
                "lease_expires_at = NULL, updated_at = excluded.updated_at",
                (recording_id, language, at, at, at),
            )
            _notify_workers(curs)
            self._insert_tracking(curs, tracking)

    def retry_later(self, recording_id: UUID, at: datetime, tracking: Tracking) -> None:
        """A retryable failure: back in the queue after a back-off that grows per attempt."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "SELECT attempt FROM transcription_jobs WHERE recording_id = %s FOR UPDATE",
                (recording_id,),
            )
            row = curs.fetchone()
            if row is not None:
                delay = self.backoff[min(max(row["attempt"], 1), len(self.backoff)) - 1]
                curs.execute(
                    "UPDATE transcription_jobs SET state = 'queued', available_at = %s, "
                    "lease_owner = NULL, lease_expires_at = NULL, updated_at = %s "
                    "WHERE recording_id = %s",
                    (at + delay, at, recording_id),
                )
            self._insert_tracking(curs, tracking)

    def finish(self, recording_id: UUID, state: str, at: datetime, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "UPDATE transcription_jobs SET state = %s, lease_owner = NULL, "
                "lease_expires_at = NULL, updated_at = %s WHERE recording_id = %s",
                (state, at, recording_id),
            )
            self._insert_tracking(curs, tracking)

    def cancel(self, recording_id: UUID, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("DELETE FROM transcription_jobs WHERE recording_id = %s", (recording_id,))
            self._insert_tracking(curs, tracking)

    def skip(self, tracking: Tracking) -> None:
        self.insert_tracking(tracking)

    # -- for workers ------------------------------------------------------------------------

    def claim(self, worker: str, lease: timedelta) -> ClaimedJob | None:
        """Take the oldest ready job nobody holds, or None."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "UPDATE transcription_jobs SET attempt = attempt + 1, lease_owner = %s, "
                "lease_expires_at = now() + %s, updated_at = now() "
                "WHERE recording_id = (SELECT recording_id FROM transcription_jobs "
                "  WHERE state = 'queued' AND available_at <= now() "
                "  AND (lease_expires_at IS NULL OR lease_expires_at < now()) "
                "  ORDER BY available_at, created_at LIMIT 1 FOR UPDATE SKIP LOCKED) "
                "RETURNING recording_id, attempt, language",
                (worker, lease),
            )
            row = curs.fetchone()
        if row is None:
            return None
        return ClaimedJob(row["recording_id"], row["attempt"], row["language"])

    def renew(self, job: ClaimedJob, worker: str, lease: timedelta) -> bool:
        """Extend the lease; False if it was lost (expired and taken, or the job ended)."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "UPDATE transcription_jobs SET lease_expires_at = now() + %s "
                "WHERE recording_id = %s AND lease_owner = %s AND attempt = %s "
                "AND state = 'queued'",
                (lease, job.recording_id, worker, job.attempt),
            )
            return curs.rowcount == 1

    def release(self, job: ClaimedJob, worker: str, *, count_attempt: bool) -> None:
        """Give the job up (on shutdown). ``count_attempt`` False: the try does not count."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "UPDATE transcription_jobs SET lease_owner = NULL, lease_expires_at = NULL, "
                "attempt = attempt - %s WHERE recording_id = %s AND lease_owner = %s "
                "AND attempt = %s",
                (0 if count_attempt else 1, job.recording_id, worker, job.attempt),
            )
            _notify_workers(curs)

    def state_of(self, recording_id: UUID) -> dict[str, Any] | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT state, attempt, lease_owner, lease_expires_at, available_at "
                "FROM transcription_jobs WHERE recording_id = %s",
                (recording_id,),
            )
            row = curs.fetchone()
        return dict(row) if row else None


def _notify_workers(curs: Cursor[DictRow]) -> None:
    curs.execute(SQL("NOTIFY {}").format(SQL(JOBS_CHANNEL)))


class JobsProjection(Projection[JobsView]):
    """Keeps ``transcription_jobs`` in step with the recordings log."""

    name = "jobs"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.skip(tracking)

    @process_event.register
    def _(self, e: Recording.AudioUploaded, tracking: Tracking) -> None:
        self.view.enqueue(e.originator_id, e.language, e.timestamp, tracking)

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
        self.view.finish(e.originator_id, DONE, e.timestamp, tracking)

    @process_event.register
    def _(self, e: Recording.AudioDeleted, tracking: Tracking) -> None:
        self.view.cancel(e.originator_id, tracking)

    @process_event.register
    def _(self, e: ErasedEvent, tracking: Tracking) -> None:
        self.view.cancel(e.originator_id, tracking)


@dataclass(frozen=True)
class _Job:
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


class JobsInMemory:
    """The jobs view's projection writes applied to a dict, for fast replays (see
    AudiosInMemory). No worker writes here: leases and attempts are not in the log."""

    def __init__(self, backoff: tuple[timedelta, ...] = RETRY_BACKOFF) -> None:
        self.backoff = backoff or RETRY_BACKOFF
        self.rows: dict[UUID, _Job] = {}
        self.position = 0

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.position or None

    def enqueue(
        self, recording_id: UUID, language: str | None, at: datetime, tracking: Tracking
    ) -> None:
        row = self.rows.get(recording_id)
        if row is None:  # as the table's upsert: a requeue keeps language and created_at
            row = _Job(recording_id, language, QUEUED, 0, at, None, None, at, at)
        self.rows[recording_id] = replace(
            row, state=QUEUED, attempt=0, available_at=at, lease_owner=None,
            lease_expires_at=None, updated_at=at,
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

    def finish(self, recording_id: UUID, state: str, at: datetime, tracking: Tracking) -> None:
        row = self.rows.get(recording_id)
        if row is not None:
            self.rows[recording_id] = replace(
                row, state=state, lease_owner=None, lease_expires_at=None, updated_at=at
            )
        self.skip(tracking)

    def cancel(self, recording_id: UUID, tracking: Tracking) -> None:
        self.rows.pop(recording_id, None)
        self.skip(tracking)

    def skip(self, tracking: Tracking) -> None:
        self.position = max(self.position, tracking.notification_id)

    def copy_into(self, view: JobsView, application_name: str) -> None:
        """Write everything into ``view``'s empty tables, with its tracking position."""
        with view.datastore.transaction(commit=True) as curs:
            with curs.copy(f"COPY transcription_jobs ({_COLUMNS}) FROM STDIN") as copy:
                for r in self.rows.values():
                    copy.write_row(
                        (
                            r.recording_id, r.language, r.state, r.attempt, r.available_at,
                            r.lease_owner, r.lease_expires_at, r.created_at, r.updated_at,
                        )
                    )  # fmt: skip
            if self.position:
                view._insert_tracking(curs, Tracking(application_name, self.position))
