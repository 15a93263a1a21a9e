"""The transcription queue as the API reads it: the PostgreSQL implementation of
``projections.queue.QueueReads``, over ``transcription_jobs`` (with its workers' table)
and ``audios`` (owners, live progress)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.postgres import PostgresDatastore

from projections.queue import HISTORY, QueueSnapshot, RunningJob, Standing, Throughput

# A waiting job: queued, and no worker holds it (a lapsed lease is the job of a worker that
# died: the next claim takes it). Ordered as JobsView.claim takes them; the id breaks ties.
_WAITING = "state = 'queued' AND (lease_expires_at IS NULL OR lease_expires_at < now())"

_STANDINGS = f"""
    WITH queue AS (
        SELECT recording_id,
               row_number() OVER w AS position,
               coalesce(sum(audio_seconds) OVER w, 0) - coalesce(audio_seconds, 0) AS ahead,
               greatest(0, extract(epoch FROM available_at - now()))::float8 AS ready_in
        FROM transcription_jobs WHERE {_WAITING}
        WINDOW w AS (ORDER BY available_at, created_at, recording_id ROWS UNBOUNDED PRECEDING)
    )
    SELECT q.recording_id, q.position, q.ahead, q.ready_in, a.owner_id
    FROM queue q JOIN audios a ON a.id = q.recording_id
    WHERE q.recording_id = ANY(%s) OR a.owner_id = ANY(%s)
"""  # noqa: S608 - constants only

_THROUGHPUT = f"""
    SELECT
      (SELECT count(*) FROM transcription_workers WHERE alive_until > now()) AS workers,
      (SELECT coalesce(json_agg(json_build_array(audio_seconds, processing_seconds)), '[]')
         FROM (SELECT audio_seconds, processing_seconds FROM transcription_jobs
               WHERE state = 'done' AND processing_seconds IS NOT NULL AND audio_seconds > 0
               ORDER BY updated_at DESC LIMIT {HISTORY}) AS h) AS history,
      (SELECT coalesce(json_agg(json_build_array(coalesce(j.audio_seconds, 0),
                                                 coalesce(a.progress, 0))), '[]')
         FROM transcription_jobs j LEFT JOIN audios a ON a.id = j.recording_id
         WHERE j.state = 'queued' AND j.lease_expires_at >= now()) AS running
"""  # noqa: S608 - constants only


class QueueView:
    """Reads of the queue: one snapshot answers a whole page of recordings."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore

    def snapshot(
        self, audio_ids: Iterable[UUID] = (), owner_ids: Iterable[UUID] = ()
    ) -> tuple[QueueSnapshot, dict[UUID, UUID]]:
        """The standings of the waiting recordings among ``audio_ids`` and those of
        ``owner_ids`` (with each one's owner), and the throughput, in one snapshot."""
        with self.datastore.get_connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            curs = conn.cursor()
            curs.execute(_STANDINGS, (list(audio_ids), list(owner_ids)))
            rows = curs.fetchall()
            curs.execute(_THROUGHPUT)
            shared = curs.fetchone()
        assert shared is not None  # a row of subqueries is always there
        standings = {r["recording_id"]: _standing(r) for r in rows}
        owners = {r["recording_id"]: r["owner_id"] for r in rows}
        throughput = Throughput(
            history=[(float(a), float(p)) for a, p in shared["history"]],
            running=[RunningJob(float(a), float(p)) for a, p in shared["running"]],
            workers=int(shared["workers"]),
        )
        return QueueSnapshot(standings, throughput), owners

    def in_flight(self, owner_id: UUID | None) -> bool:
        """Whether ``owner_id`` (None: anyone) has a recording waiting or being transcribed."""
        owner = "" if owner_id is None else "owner_id = %s AND "
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT EXISTS (SELECT 1 FROM audios WHERE {owner}"  # noqa: S608
                "status IN ('QUEUED', 'PROCESSING')) AS busy",
                () if owner_id is None else (owner_id,),
            )
            record = curs.fetchone()
        return bool(record and record["busy"])


def _standing(row: Any) -> Standing:
    return Standing(int(row["position"]), float(row["ahead"]), float(row["ready_in"]))
