"""The ``audios`` table: the PostgreSQL implementation of the audios view's ports."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from psycopg import Cursor
from psycopg.rows import DictRow

from domain.quota import QuotaUsage
from domain.recordings import TranscriptionStatus
from infrastructure.views.tracked import Replayed, TrackedView
from projections.audios import (
    APOSTROPHES,
    AUDIO_COLUMNS,
    AUDIO_EVENTS_CHANNEL,
    MAX_PAGE,
    AudioChange,
    AudioFilter,
    AudioPage,
    AudioRow,
    AudiosInMemory,
    normalise_apostrophes,
)

_COLUMNS = AUDIO_COLUMNS.listed

_CREATE = (
    """CREATE TABLE IF NOT EXISTS audios (
        id uuid PRIMARY KEY,
        owner_id uuid NOT NULL,
        filename text NOT NULL,
        content_type text NOT NULL,
        size_bytes bigint NOT NULL,
        sha256 text NOT NULL,
        duration_seconds double precision,
        status text NOT NULL,
        progress double precision,
        language text,
        transcript_text text,
        segments jsonb NOT NULL DEFAULT '[]',
        error text,
        version integer NOT NULL,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL,
        language_probability double precision,
        language_uncertain boolean NOT NULL DEFAULT false,
        model_name text,
        blob_key text NOT NULL,
        prompt text,
        speaker_names jsonb NOT NULL DEFAULT '{{}}',
        search tsvector GENERATED ALWAYS AS (
            to_tsvector('simple', translate(
                coalesce(transcript_text, '') || ' ' || filename, {apostrophes}, {plain}
            ))
        ) STORED
    )""",
    # A table made before upload prompts existed: those uploads had none.
    "ALTER TABLE audios ADD COLUMN IF NOT EXISTS prompt text",
    # ... and before speakers could be named: nobody had named one.
    "ALTER TABLE audios ADD COLUMN IF NOT EXISTS speaker_names jsonb NOT NULL DEFAULT '{{}}'",
    "CREATE INDEX IF NOT EXISTS audios_owner_newest ON audios (owner_id, created_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS audios_newest ON audios (created_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS audios_search ON audios USING gin (search)",
    # The log position of the last change to each owner's recordings: a response computed
    # for (query, owner, position) stays exact until that position moves.
    """CREATE TABLE IF NOT EXISTS audio_owner_positions (
        owner_id uuid PRIMARY KEY,
        position bigint NOT NULL
    )""",
    # Progress is not in the log, so it moves no position: count its updates per owner,
    # so that a cached response with an old progress is never served either.
    """CREATE TABLE IF NOT EXISTS audio_progress_ticks (
        owner_id uuid PRIMARY KEY,
        ticks bigint NOT NULL
    )""",
)


def _announce(
    curs: Cursor[DictRow], audio_id: UUID, owner_id: UUID, version: int | None, **more: Any
) -> None:
    """Tell every process (subscriptions) that a recording changed; delivered on commit."""
    payload = {"id": str(audio_id), "owner": str(owner_id), "version": version, **more}
    curs.execute("SELECT pg_notify(%s, %s)", (AUDIO_EVENTS_CHANNEL, json.dumps(payload)))


class AudiosView(TrackedView):
    """The ``audios`` table, each change committed with its tracking record
    (``AudioWrites``, ``AudioReads`` and ``AudioProgress``)."""

    tables = ("audios", "audio_owner_positions", "audio_progress_ticks", "audios_tracking")
    columns = AUDIO_COLUMNS
    create = _CREATE
    literals = {"apostrophes": APOSTROPHES, "plain": "'" * len(APOSTROPHES)}
    announce = True  # NOTIFY subscribers of each change (off while a rebuild replays)

    # -- writes (from the projection) -----------------------------------------------------

    def insert(self, row: AudioRow, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_row(curs, row)
            self._touch_owner(
                curs, row.owner_id, tracking, row.id, version=row.version, status=row.status.value
            )
            self._insert_tracking(curs, tracking)

    def update(
        self,
        audio_id: UUID,
        version: int,
        at: datetime,
        tracking: Tracking,
        change: AudioChange,
    ) -> None:
        """Apply ``change(row) -> changed fields`` to the row, if it is still there."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(f"SELECT {_COLUMNS} FROM audios WHERE id = %s FOR UPDATE", (audio_id,))  # noqa: S608
            record = curs.fetchone()
            if record is not None:
                row = AUDIO_COLUMNS.load(record)
                changed = {**change(row), "version": version, "updated_at": at}
                columns = AUDIO_COLUMNS.changes(changed)
                assignments = ", ".join(f"{name} = %s" for name in columns)
                curs.execute(
                    f"UPDATE audios SET {assignments} WHERE id = %s",  # noqa: S608
                    (*columns.values(), audio_id),
                )
                status: TranscriptionStatus = changed.get("status", row.status)
                self._touch_owner(
                    curs, row.owner_id, tracking, audio_id, version=version, status=status.value
                )
            self._insert_tracking(curs, tracking)

    def remove(self, audio_id: UUID, tracking: Tracking, owner_id: UUID | None = None) -> None:
        """Delete the row. The owner's position moves even if the row is already gone
        (an erased recording replayed), so positions are the same after a replay."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("DELETE FROM audios WHERE id = %s RETURNING owner_id", (audio_id,))
            removed = curs.fetchone()
            owner = removed["owner_id"] if removed is not None else owner_id
            if owner is not None:
                self._touch_owner(curs, owner, tracking, audio_id, status="DELETED")
            self._insert_tracking(curs, tracking)

    def _copy_more(self, curs: Cursor[DictRow], memory: Replayed) -> None:
        assert isinstance(memory, AudiosInMemory)
        with curs.copy("COPY audio_owner_positions (owner_id, position) FROM STDIN") as copy:
            for owner, position in memory.owners.items():
                copy.write_row((owner, position))

    # -- from the worker ------------------------------------------------------------------

    def set_progress(self, audio_id: UUID, progress: float) -> bool:
        """Live progress of a transcription: not an event, just the latest value while
        PROCESSING (the worker writes it, about once a second)."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "UPDATE audios SET progress = %s WHERE id = %s AND status = 'PROCESSING' "
                "RETURNING owner_id, version",
                (progress, audio_id),
            )
            row = curs.fetchone()
            if row is not None:
                curs.execute(
                    "INSERT INTO audio_progress_ticks (owner_id, ticks) VALUES (%s, 1) "
                    "ON CONFLICT (owner_id) DO UPDATE "
                    "SET ticks = audio_progress_ticks.ticks + 1",
                    (row["owner_id"],),
                )
                _announce(
                    curs,
                    audio_id,
                    row["owner_id"],
                    row["version"],
                    status="PROCESSING",
                    progress=progress,
                )
            return row is not None

    def _touch_owner(
        self,
        curs: Cursor[DictRow],
        owner_id: UUID,
        tracking: Tracking,
        audio_id: UUID,
        *,
        version: int | None = None,
        status: str | None = None,
    ) -> None:
        if self.announce:
            _announce(
                curs, audio_id, owner_id, version, status=status, position=tracking.notification_id
            )
        curs.execute(
            "INSERT INTO audio_owner_positions (owner_id, position) VALUES (%s, %s) "
            "ON CONFLICT (owner_id) DO UPDATE SET position = excluded.position",
            (owner_id, tracking.notification_id),
        )

    # -- reads ----------------------------------------------------------------------------

    def get(self, audio_id: UUID) -> AudioRow | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(f"SELECT {_COLUMNS} FROM audios WHERE id = %s", (audio_id,))  # noqa: S608
            record = curs.fetchone()
        return None if record is None else AUDIO_COLUMNS.load(record)

    def page(self, where: AudioFilter, skip: int, limit: int) -> AudioPage:
        """Newest first; ``total`` counts every match, not just this page."""
        clauses: list[str] = []
        params: list[Any] = []
        if where.owner_id is not None:
            clauses.append("owner_id = %s")
            params.append(where.owner_id)
        if where.status is not None:
            clauses.append("status = %s")
            params.append(where.status.value)
        if where.search:
            clauses.append("search @@ websearch_to_tsquery('simple', %s)")
            params.append(normalise_apostrophes(where.search))
        condition = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        limit = max(0, min(limit, MAX_PAGE))
        with self.datastore.get_connection() as conn, conn.transaction():
            # One snapshot for the page and its count.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            curs = conn.cursor()
            curs.execute(
                f"SELECT {_COLUMNS} FROM audios {condition} "  # noqa: S608
                "ORDER BY created_at DESC, id DESC OFFSET %s LIMIT %s",
                (*params, max(0, skip), limit),
            )
            items = [AUDIO_COLUMNS.load(r) for r in curs.fetchall()]
            curs.execute(f"SELECT count(*) AS n FROM audios {condition}", params)  # noqa: S608
            count = curs.fetchone()
        return AudioPage(items=items, total=int(count["n"]) if count else 0)

    def usage_of(self, owner_id: UUID, log_name: str) -> tuple[QuotaUsage, int]:
        """What ``owner_id``'s recordings hold against their upload quota (the audio
        still waiting for or in transcription, and the bytes of every live recording),
        and the position in ``log_name``'s log that this count reflects (one snapshot):
        uploads recorded past it are not in the count."""
        waiting = [TranscriptionStatus.QUEUED.value, TranscriptionStatus.PROCESSING.value]
        with self.datastore.get_connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            curs = conn.cursor()
            curs.execute(
                "SELECT coalesce(sum(duration_seconds) FILTER (WHERE status = ANY(%s)), 0) AS s, "
                "coalesce(sum(size_bytes), 0) AS b FROM audios WHERE owner_id = %s",
                (waiting, owner_id),
            )
            record = curs.fetchone()
            position = self._max_tracking_id(log_name, curs) or 0
        assert record is not None  # an aggregate always has a row
        return QuotaUsage(float(record["s"]), int(record["b"])), position

    def ids_of(self, owner_id: UUID) -> list[UUID]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT id FROM audios WHERE owner_id = %s", (owner_id,))
            return [r["id"] for r in curs.fetchall()]

    def freshness(self, owner_id: UUID | None) -> tuple[int, int]:
        """What a cached answer for ``owner_id`` (None: anyone) must match to be exact:
        the owner's log position and their count of progress updates."""
        with self.datastore.transaction(commit=False) as curs:
            if owner_id is None:
                curs.execute(
                    "SELECT (SELECT coalesce(max(position), 0) FROM audio_owner_positions) AS p, "
                    "(SELECT coalesce(sum(ticks), 0) FROM audio_progress_ticks) AS t"
                )
            else:
                curs.execute(
                    "SELECT (SELECT position FROM audio_owner_positions WHERE owner_id = %s) AS p, "
                    "(SELECT ticks FROM audio_progress_ticks WHERE owner_id = %s) AS t",
                    (owner_id, owner_id),
                )
            record = curs.fetchone()
        if record is None:
            return 0, 0
        return int(record["p"] or 0), int(record["t"] or 0)
