"""The ``users`` table: the PostgreSQL implementation of the users view's ports."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import Tracking

from domain.identity import Role
from infrastructure.views.tracked import TrackedView
from projections.users import USER_COLUMNS, UserRow

_COLUMNS = USER_COLUMNS.listed


class UsersView(TrackedView):
    """The ``users`` table, written in the same transaction as its tracking record
    (``UserWrites`` and ``UserReads``)."""

    table = "users"
    tables = ("users", "users_tracking")
    columns = USER_COLUMNS
    create = (
        "CREATE TABLE IF NOT EXISTS users ("
        "id uuid PRIMARY KEY, phone text NOT NULL, role text NOT NULL, "
        "created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL, "
        "vocabulary jsonb NOT NULL DEFAULT '[]')",
        # A table made before vocabularies existed: no user had one then.
        "ALTER TABLE users ADD COLUMN IF NOT EXISTS vocabulary jsonb NOT NULL DEFAULT '[]'",
    )

    def register(self, row: UserRow, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_row(curs, row)
            self._insert_tracking(curs, tracking)

    def change_role(self, user_id: UUID, role: Role, at: datetime, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                f"UPDATE {self.table} SET role = %s, updated_at = %s WHERE id = %s",  # noqa: S608
                (role.value, at, user_id),
            )
            self._insert_tracking(curs, tracking)

    def set_vocabulary(
        self, user_id: UUID, terms: list[str], at: datetime, tracking: Tracking
    ) -> None:
        changes = USER_COLUMNS.changes({"vocabulary": terms, "updated_at": at})
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                f"UPDATE {self.table} SET vocabulary = %s, updated_at = %s "  # noqa: S608
                "WHERE id = %s",
                (changes["vocabulary"], changes["updated_at"], user_id),
            )
            self._insert_tracking(curs, tracking)

    def vocabulary_of(self, user_id: UUID) -> list[str]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT vocabulary FROM {self.table} WHERE id = %s",  # noqa: S608
                (user_id,),
            )
            record = curs.fetchone()
        return [] if record is None else [str(t) for t in record["vocabulary"]]

    def remove(self, user_id: UUID, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(f"DELETE FROM {self.table} WHERE id = %s", (user_id,))  # noqa: S608
            self._insert_tracking(curs, tracking)

    def get(self, user_id: UUID) -> UserRow | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT {_COLUMNS} FROM {self.table} WHERE id = %s",  # noqa: S608
                (user_id,),
            )
            record = curs.fetchone()
        return None if record is None else USER_COLUMNS.load(record)
