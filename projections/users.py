"""The users read model: who is signed up, with which phone and role."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from psycopg.sql import SQL

from domain.erasure import ErasedEvent
from domain.identity import Role, User


@dataclass(frozen=True)
class UserRow:
    id: UUID
    phone: str
    role: Role
    created_at: datetime
    updated_at: datetime


class UsersView(PostgresTrackingRecorder):
    """The ``users`` table, written in the same transaction as its tracking record."""

    table = "users"
    tables = ("users", "users_tracking")  # every table it creates

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, tracking_table_name=f"{self.table}_tracking", **kwargs)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS users ("
                "id uuid PRIMARY KEY, phone text NOT NULL, role text NOT NULL, "
                "created_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)"
            ).format()
        )

    def register(self, row: UserRow, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                f"INSERT INTO {self.table} (id, phone, role, created_at, updated_at) "  # noqa: S608
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                (row.id, row.phone, row.role.value, row.created_at, row.updated_at),
            )
            self._insert_tracking(curs, tracking)

    def change_role(self, user_id: UUID, role: Role, at: datetime, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                f"UPDATE {self.table} SET role = %s, updated_at = %s WHERE id = %s",  # noqa: S608
                (role.value, at, user_id),
            )
            self._insert_tracking(curs, tracking)

    def remove(self, user_id: UUID, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(f"DELETE FROM {self.table} WHERE id = %s", (user_id,))  # noqa: S608
            self._insert_tracking(curs, tracking)

    def skip(self, tracking: Tracking) -> None:
        self.insert_tracking(tracking)

    def get(self, user_id: UUID) -> UserRow | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                f"SELECT id, phone, role, created_at, updated_at FROM {self.table} "  # noqa: S608
                "WHERE id = %s",
                (user_id,),
            )
            row = curs.fetchone()
        if row is None:
            return None
        return UserRow(
            id=row["id"],
            phone=row["phone"],
            role=Role(row["role"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


class UsersProjection(Projection[UsersView]):
    """Builds ``users`` from the identity log."""

    # No topic filter: every event of the log advances this view's tracking position, so
    # that a read-your-writes wait for any position of the identity log can complete.
    name = "users"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.skip(tracking)

    @process_event.register
    def _(self, domain_event: User.UserRegistered, tracking: Tracking) -> None:
        row = UserRow(
            id=domain_event.originator_id,
            phone=domain_event.phone,
            role=Role(domain_event.role),
            created_at=domain_event.timestamp,
            updated_at=domain_event.timestamp,
        )
        self.view.register(row, tracking)

    @process_event.register
    def _(self, domain_event: User.RoleChanged, tracking: Tracking) -> None:
        role = Role(domain_event.role)
        self.view.change_role(domain_event.originator_id, role, domain_event.timestamp, tracking)

    @process_event.register
    def _(self, domain_event: User.AccountDeleted, tracking: Tracking) -> None:
        self.view.remove(domain_event.originator_id, tracking)

    @process_event.register
    def _(self, domain_event: ErasedEvent, tracking: Tracking) -> None:
        # An erased user leaves no row; for other subjects this deletes nothing.
        self.view.remove(domain_event.originator_id, tracking)


class UsersInMemory:
    """The users view's writes applied to a dict, for fast replays (see AudiosInMemory)."""

    def __init__(self) -> None:
        self.rows: dict[UUID, UserRow] = {}
        self.position = 0

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.position or None

    def register(self, row: UserRow, tracking: Tracking) -> None:
        self.rows.setdefault(row.id, row)
        self.skip(tracking)

    def change_role(self, user_id: UUID, role: Role, at: datetime, tracking: Tracking) -> None:
        row = self.rows.get(user_id)
        if row is not None:
            self.rows[user_id] = replace(row, role=role, updated_at=at)
        self.skip(tracking)

    def remove(self, user_id: UUID, tracking: Tracking) -> None:
        self.rows.pop(user_id, None)
        self.skip(tracking)

    def skip(self, tracking: Tracking) -> None:
        self.position = max(self.position, tracking.notification_id)

    def copy_into(self, view: UsersView, application_name: str) -> None:
        with view.datastore.transaction(commit=True) as curs:
            with curs.copy(
                "COPY users (id, phone, role, created_at, updated_at) FROM STDIN"
            ) as copy:
                for r in self.rows.values():
                    copy.write_row((r.id, r.phone, r.role.value, r.created_at, r.updated_at))
            if self.position:
                view._insert_tracking(curs, Tracking(application_name, self.position))
