"""The ``transcription_jobs`` table: the PostgreSQL implementation of the jobs view's
ports (the projection keeps each job's state, workers hold its lease)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL

from infrastructure.views.tracked import TrackedView
from projections.audios import AUDIO_EVENTS_CHANNEL
from projections.jobs import (
    CANCELLED,
    CANCELLED_CHANNEL,
    JOB_COLUMNS,
    JOBS_CHANNEL,
    RETRY_BACKOFF,
    ClaimedJob,
)
from projections.queue import QUEUE_MOVED

_CREATE = (
    """CREATE TABLE IF NOT EXISTS transcription_jobs (
        recording_id uuid PRIMARY KEY,
        language text,
        state text NOT NULL,
        attempt integer NOT NULL DEFAULT 0,
        available_at timestamptz NOT NULL,
        lease_owner text,
        lease_expires_at timestamptz,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        audio_seconds double precision,
        processing_seconds double precision
    )""",
    # A table made before the queue's ETA existed gains its columns (its finished jobs
    # then have no timings: the ETA starts from its prior until new jobs finish).
    "ALTER TABLE transcription_jobs ADD COLUMN IF NOT EXISTS audio_seconds double precision",
    "ALTER TABLE transcription_jobs ADD COLUMN IF NOT EXISTS processing_seconds double precision",
    "CREATE INDEX IF NOT EXISTS transcription_jobs_ready "
    "ON transcription_jobs (available_at, created_at) WHERE state = 'queued'",
    "CREATE INDEX IF NOT EXISTS transcription_jobs_done "
    "ON transcription_jobs (updated_at DESC) WHERE state = 'done'",
)


def create_workers_table(datastore: PostgresDatastore) -> None:
    """Every worker says it is alive when it claims or renews (at most every third of a
    lease): the queue's ETA shares the work among the workers alive now. Not a view of the
    log (a rebuild leaves it be), beside the jobs view whose claims write it."""
    with datastore.transaction(commit=True) as curs:
        curs.execute(
            "CREATE TABLE IF NOT EXISTS transcription_workers ("
            "name text PRIMARY KEY, alive_until timestamptz NOT NULL)"
        )


class JobsView(TrackedView):
    """The ``transcription_jobs`` table (``JobWrites`` and ``JobQueue``)."""

    tables = ("transcription_jobs", "jobs_tracking")
    columns = JOB_COLUMNS
    create = _CREATE

    def __init__(
        self,
        datastore: PostgresDatastore,
        backoff: tuple[timedelta, ...] = RETRY_BACKOFF,
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, **kwargs)
        self.backoff = backoff or RETRY_BACKOFF
        self._last_beat: dict[str, float] = {}  # worker -> monotonic time of its last beat

    # -- from the projection ---------------------------------------------------------------

    def enqueue(
        self,
        recording_id: UUID,
        language: str | None,
        at: datetime,
        tracking: Tracking,
        audio_seconds: float | None = None,
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO transcription_jobs (recording_id, language, state, attempt, "
                "available_at, created_at, updated_at, audio_seconds) "
                "VALUES (%s, %s, 'queued', 0, %s, %s, %s, %s) "
                "ON CONFLICT (recording_id) DO UPDATE SET state = 'queued', attempt = 0, "
                "available_at = excluded.available_at, lease_owner = NULL, "
                "lease_expires_at = NULL, updated_at = excluded.updated_at, "
                "processing_seconds = NULL",
                (recording_id, language, at, at, at, audio_seconds),
            )
            _notify_workers(curs)
            _notify_queue_moved(curs)
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
                _notify_queue_moved(curs)
            self._insert_tracking(curs, tracking)

    def finish(
        self,
        recording_id: UUID,
        state: str,
        at: datetime,
        tracking: Tracking,
        processing_seconds: float | None = None,
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "UPDATE transcription_jobs SET state = %s, lease_owner = NULL, "
                "lease_expires_at = NULL, updated_at = %s, processing_seconds = %s "
                "WHERE recording_id = %s",
                (state, at, processing_seconds, recording_id),
            )
            if state == CANCELLED:
                _notify_cancelled(curs, recording_id)
            _notify_queue_moved(curs)
            self._insert_tracking(curs, tracking)

    def cancel(self, recording_id: UUID, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("DELETE FROM transcription_jobs WHERE recording_id = %s", (recording_id,))
            _notify_cancelled(curs, recording_id)  # a deleted recording's engine stops too
            _notify_queue_moved(curs)
            self._insert_tracking(curs, tracking)

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
            if row is not None:
                _notify_queue_moved(curs)
            self._beat(curs, worker, lease)
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
            renewed = curs.rowcount == 1
            self._beat(curs, worker, lease)
            return renewed

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
            _notify_queue_moved(curs)

    def _beat(self, curs: Cursor[DictRow], worker: str, lease: timedelta) -> None:
        """``worker`` is alive for one more lease (written at most every third of one:
        an idle worker polls every two seconds)."""
        now = time.monotonic()
        if now - self._last_beat.get(worker, float("-inf")) < lease.total_seconds() / 3:
            return
        self._last_beat[worker] = now
        curs.execute(
            "INSERT INTO transcription_workers (name, alive_until) VALUES (%s, now() + %s) "
            "ON CONFLICT (name) DO UPDATE SET alive_until = excluded.alive_until",
            (worker, lease),
        )
        curs.execute(
            "DELETE FROM transcription_workers WHERE alive_until < now() - interval '1 hour'"
        )

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


def _notify_queue_moved(curs: Cursor[DictRow]) -> None:
    """Positions or ETAs of waiting recordings may have changed: API processes re-read
    them for their open subscriptions (coalesced there; see infrastructure.live)."""
    curs.execute("SELECT pg_notify(%s, %s)", (AUDIO_EVENTS_CHANNEL, QUEUE_MOVED))


def _notify_cancelled(curs: Cursor[DictRow], recording_id: UUID) -> None:
    """Delivered on commit: the worker running this job stops its engine at once."""
    curs.execute("SELECT pg_notify(%s, %s)", (CANCELLED_CHANNEL, str(recording_id)))
