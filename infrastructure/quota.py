"""Upload quotas, checked so that concurrent uploads cannot pass them together.

A user's usage is read from the audios view, which the projector fills a moment after an
upload is recorded. Two uploads checked in that moment, or at the same time, would each
miss the other. So each admitted upload leaves a *claim* (its seconds and bytes) until the
view has passed its log position, and admitting takes a per-user PostgreSQL advisory lock,
which serialises one user's checks across every API process (other users never wait).
"""

from __future__ import annotations

import logging
from typing import LiteralString
from uuid import UUID

import psycopg
from eventsourcing.postgres import PostgresDatastore

from domain.quota import QuotaUsage, UploadQuota
from projections.audios import AudioReads

log = logging.getLogger("ovoz.quota")

# An admitted upload is recorded within milliseconds; a claim never marked recorded
# belongs to a process that died in between (or lost its database), so it stops counting.
_UNRECORDED_CLAIM_TTL_SECONDS = 300
_LOCK_NAMESPACE = 0x6F766F7A  # "ovoz": the first key of our advisory locks on user ids

_CREATE = [
    """CREATE TABLE IF NOT EXISTS upload_claims (
        recording_id uuid PRIMARY KEY,
        owner_id uuid NOT NULL,
        seconds double precision NOT NULL,
        size_bytes bigint NOT NULL,
        claimed_at timestamptz NOT NULL DEFAULT now(),
        position bigint
    )""",
    "CREATE INDEX IF NOT EXISTS upload_claims_owner ON upload_claims (owner_id)",
]


def create_claims_table(datastore: PostgresDatastore) -> None:
    with datastore.transaction(commit=True) as curs:
        for statement in _CREATE:
            curs.execute(statement)


class UploadClaims:
    """Admits uploads against their owner's :class:`UploadQuota` (race-free)."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        audios: AudioReads,
        log_name: str,
        quota: UploadQuota,
    ) -> None:
        """``datastore``: the read models' (claims are read beside the audios view);
        ``log_name``: the application whose log the audios view follows."""
        self.datastore = datastore
        self.audios = audios
        self.log_name = log_name
        self.quota = quota

    def admit(self, owner_id: UUID, recording_id: UUID, seconds: float, size_bytes: int) -> None:
        """Claim this upload's share of the owner's quota, or raise
        :class:`~domain.quota.QuotaExceededError` (claiming nothing)."""
        # The view's count and the log position it reflects: a claim at or below that
        # position is in the count (or its recording is deleted), one above it is not.
        # Read before the lock: a recording the view shows later is still claimed then.
        settled, projected = self.audios.usage_of(owner_id, self.log_name)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (_LOCK_NAMESPACE, str(owner_id))
            )
            # Claims that count no more, anyone's (SKIP LOCKED: two admissions never wait
            # on, or deadlock over, each other's clean-up).
            curs.execute(
                "DELETE FROM upload_claims WHERE recording_id IN (SELECT recording_id "
                "FROM upload_claims WHERE position <= %s "
                "OR (position IS NULL AND claimed_at < now() - make_interval(secs => %s)) "
                "FOR UPDATE SKIP LOCKED)",
                (projected, _UNRECORDED_CLAIM_TTL_SECONDS),
            )
            curs.execute(
                "SELECT coalesce(sum(seconds), 0) AS s, coalesce(sum(size_bytes), 0) AS b "
                "FROM upload_claims WHERE owner_id = %s AND (position IS NULL OR position > %s)",
                (owner_id, projected),
            )
            pending = curs.fetchone()
            assert pending is not None  # an aggregate always has a row
            in_flight = QuotaUsage(float(pending["s"]), int(pending["b"]))
            self.quota.check(settled + in_flight, seconds, size_bytes)
            curs.execute(
                "INSERT INTO upload_claims (recording_id, owner_id, seconds, size_bytes) "
                "VALUES (%s, %s, %s, %s)",
                (recording_id, owner_id, seconds, size_bytes),
            )

    def recorded(self, recording_id: UUID, position: int) -> None:
        """The upload is in the log at ``position``: its claim lasts until the view
        passes it. Best effort: the upload stands either way, and an unmarked claim
        expires on its own."""
        self._best_effort(
            "UPDATE upload_claims SET position = %s WHERE recording_id = %s",
            position,
            recording_id,
        )

    def release(self, recording_id: UUID) -> None:
        """The upload was not recorded after all: give its share back (best effort)."""
        self._best_effort("DELETE FROM upload_claims WHERE recording_id = %s", recording_id)

    def _best_effort(self, statement: LiteralString, *params: object) -> None:
        try:
            with self.datastore.transaction(commit=True) as curs:
                curs.execute(statement, params)
        except psycopg.Error:
            log.warning("upload claim not updated; it expires on its own", exc_info=True)
