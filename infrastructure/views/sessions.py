"""The ``sessions`` table: the PostgreSQL implementation of the sessions view's ports.

Ending a session also NOTIFYs ``ovoz_sessions_ended`` in the same transaction, so every
API process learns at once that the session's access tokens no longer count
(infrastructure.callers.Callers keeps the set)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import Tracking

from infrastructure.views.tracked import TrackedView
from projections.sessions import SESSION_COLUMNS, SessionRow

SESSIONS_CHANNEL = "ovoz_sessions_ended"
_COLUMNS = SESSION_COLUMNS.listed


class SessionsView(TrackedView):
    """The ``sessions`` table, written in the same transaction as its tracking record
    (``SessionWrites`` and ``SessionReads``)."""

    table = "sessions"
    tables = ("sessions", "sessions_tracking")
    columns = SESSION_COLUMNS
    create = (
        "CREATE TABLE IF NOT EXISTS sessions ("
        "id uuid PRIMARY KEY, user_id uuid NOT NULL, client_type text NOT NULL, "
        "device text NOT NULL, address text, created_at timestamptz NOT NULL, "
        "last_used_at timestamptz NOT NULL, idle_expires_at timestamptz NOT NULL, "
        "expires_at timestamptz NOT NULL, ended_at timestamptz, end_reason text)",
        "CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id, last_used_at)",
        "CREATE INDEX IF NOT EXISTS sessions_ended ON sessions (ended_at) "
        "WHERE ended_at IS NOT NULL",
    )

    def start(self, row: SessionRow, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_row(curs, row)
            self._insert_tracking(curs, tracking)

    def used(
        self,
        session_id: UUID,
        at: datetime,
        idle_expires_at: datetime,
        address: str | None,
        tracking: Tracking,
    ) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                f"UPDATE {self.table} SET last_used_at = %s, idle_expires_at = %s, "  # noqa: S608
                "address = %s WHERE id = %s",
                (at, idle_expires_at, address, session_id),
            )
            self._insert_tracking(curs, tracking)

    def end(self, session_id: UUID, at: datetime, reason: str, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                f"UPDATE {self.table} SET ended_at = %s, end_reason = %s "  # noqa: S608
                "WHERE id = %s AND ended_at IS NULL",
                (at, reason, session_id),
            )
            curs.execute("SELECT pg_notify(%s, %s)", (SESSIONS_CHANNEL, str(session_id)))
            self._insert_tracking(curs, tracking)

    def remove(self, subject_id: UUID, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                f"DELETE FROM {self.table} WHERE id = %s OR user_id = %s",  # noqa: S608
                (subject_id, subject_id),
            )
            self._insert_tracking(curs, tracking)

    def of_user(self, user_id: UUID) -> list[SessionRow]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT {_COLUMNS} FROM {self.table} WHERE user_id = %s "  # noqa: S608
                "ORDER BY last_used_at DESC, id",
                (user_id,),
            )
            return [SESSION_COLUMNS.load(r) for r in curs.fetchall()]

    def ended_since(self, moment: datetime) -> list[UUID]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT id FROM {self.table} WHERE ended_at >= %s",  # noqa: S608
                (moment,),
            )
            return [r["id"] for r in curs.fetchall()]
