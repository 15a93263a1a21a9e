"""The ``api_keys`` table: the PostgreSQL implementation of the api_keys view's ports."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from eventsourcing.persistence import Tracking
from psycopg import Cursor
from psycopg.rows import DictRow

from infrastructure.views.tracked import TrackedView
from projections.api_keys import API_KEY_COLUMNS, API_KEYS_CHANNEL, ApiKeyRow

_COLUMNS = API_KEY_COLUMNS.listed
TOUCH_EVERY = timedelta(minutes=1)


class ApiKeysView(TrackedView):
    """The ``api_keys`` table, written in the same transaction as its tracking record
    (``ApiKeyWrites`` and ``ApiKeyReads``). A key that stops working (revoked, or its
    owner's account deleted) is announced on ``API_KEYS_CHANNEL`` in that transaction."""

    table = "api_keys"
    tables = ("api_keys", "api_keys_tracking")
    columns = API_KEY_COLUMNS
    create = (
        "CREATE TABLE IF NOT EXISTS api_keys ("
        "id uuid PRIMARY KEY, owner_id uuid NOT NULL, name text NOT NULL, "
        "public_id text NOT NULL UNIQUE, key_hash text NOT NULL, scopes text[] NOT NULL, "
        "created_at timestamptz NOT NULL, revoked_at timestamptz, last_used_at timestamptz)",
        "CREATE INDEX IF NOT EXISTS api_keys_owner ON api_keys (owner_id, created_at DESC)",
    )
    announce = True  # a rebuild's replay tells nobody: those changes were announced

    def add(self, row: ApiKeyRow, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_row(curs, row)
            self._insert_tracking(curs, tracking)

    def revoke(self, key_id: UUID, at: datetime, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                f"UPDATE {self.table} SET revoked_at = %s "  # noqa: S608
                "WHERE id = %s AND revoked_at IS NULL RETURNING id",
                (at, key_id),
            )
            self._announce(curs, [r["id"] for r in curs.fetchall()])
            self._insert_tracking(curs, tracking)

    def remove(self, subject_id: UUID, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                f"DELETE FROM {self.table} WHERE id = %s OR owner_id = %s RETURNING id",  # noqa: S608
                (subject_id, subject_id),
            )
            self._announce(curs, [r["id"] for r in curs.fetchall()])
            self._insert_tracking(curs, tracking)

    def by_public_id(self, public_id: str) -> ApiKeyRow | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT {_COLUMNS} FROM {self.table} WHERE public_id = %s",  # noqa: S608
                (public_id,),
            )
            record = curs.fetchone()
        return None if record is None else API_KEY_COLUMNS.load(record)

    def live_of(self, owner_id: UUID) -> list[ApiKeyRow]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT {_COLUMNS} FROM {self.table} "  # noqa: S608
                "WHERE owner_id = %s AND revoked_at IS NULL ORDER BY created_at DESC, id",
                (owner_id,),
            )
            records = curs.fetchall()
        return [API_KEY_COLUMNS.load(r) for r in records]

    def ids_of(self, owner_id: UUID) -> list[UUID]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT id FROM {self.table} WHERE owner_id = %s",  # noqa: S608
                (owner_id,),
            )
            return [r["id"] for r in curs.fetchall()]

    def touch(self, key_id: UUID, at: datetime) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                f"UPDATE {self.table} SET last_used_at = %s "  # noqa: S608
                "WHERE id = %s AND (last_used_at IS NULL OR last_used_at < %s)",
                (at, key_id, at - TOUCH_EVERY),
            )

    def _announce(self, curs: Cursor[DictRow], key_ids: list[UUID]) -> None:
        if not self.announce:
            return
        for key_id in key_ids:
            curs.execute("SELECT pg_notify(%s, %s)", (API_KEYS_CHANNEL, str(key_id)))
