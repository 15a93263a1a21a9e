"""The users read model: who is signed up, with which phone and role.

Here: the row type, the ports, the projection and the in-memory view a rebuild replays
into. The PostgreSQL view is ``infrastructure.views.users.UsersView``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking

from domain.erasure import ErasedEvent
from domain.identity import Role, User
from projections.columns import JSON_LIST, Columns, enum_value
from projections.projection import InMemoryTracking, TrackedWrites, ViewProjection


@dataclass(frozen=True)
class UserRow:
    id: UUID
    phone: str
    role: Role
    created_at: datetime
    updated_at: datetime
    vocabulary: list[str] = field(default_factory=list)


USER_COLUMNS = Columns(UserRow, {"role": enum_value(Role), "vocabulary": JSON_LIST})


class UserWrites(TrackedWrites, Protocol):
    """What the users projection writes through: each write records its tracking."""

    def register(self, row: UserRow, tracking: Tracking) -> None:
        """Add the row (a replayed registration whose row exists changes nothing)."""

    def change_role(self, user_id: UUID, role: Role, at: datetime, tracking: Tracking) -> None: ...

    def set_vocabulary(
        self, user_id: UUID, terms: list[str], at: datetime, tracking: Tracking
    ) -> None: ...

    def remove(self, user_id: UUID, tracking: Tracking) -> None: ...


class UserReads(Protocol):
    """What the API reads from the users view."""

    def get(self, user_id: UUID) -> UserRow | None: ...


class VocabularyReads(Protocol):
    """What a worker reads: the terms that steer a user's transcriptions."""

    def vocabulary_of(self, user_id: UUID) -> list[str]:
        """The owner's terms ([] for a user with none, or one who is gone)."""


class UsersProjection(ViewProjection[UserWrites]):
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
    def _(self, domain_event: User.VocabularySet, tracking: Tracking) -> None:
        self.view.set_vocabulary(
            domain_event.originator_id, list(domain_event.terms), domain_event.timestamp, tracking
        )

    @process_event.register
    def _(self, domain_event: User.AccountDeleted, tracking: Tracking) -> None:
        self.view.remove(domain_event.originator_id, tracking)

    @process_event.register
    def _(self, domain_event: ErasedEvent, tracking: Tracking) -> None:
        # An erased user leaves no row; for other subjects this deletes nothing.
        self.view.remove(domain_event.originator_id, tracking)


class UsersInMemory(InMemoryTracking):
    """The users view's writes applied to a dict, for fast replays (see AudiosInMemory)."""

    def __init__(self) -> None:
        self.rows: dict[UUID, UserRow] = {}
        super().__init__()

    def register(self, row: UserRow, tracking: Tracking) -> None:
        self.rows.setdefault(row.id, row)
        self.skip(tracking)

    def change_role(self, user_id: UUID, role: Role, at: datetime, tracking: Tracking) -> None:
        row = self.rows.get(user_id)
        if row is not None:
            self.rows[user_id] = replace(row, role=role, updated_at=at)
        self.skip(tracking)

    def set_vocabulary(
        self, user_id: UUID, terms: list[str], at: datetime, tracking: Tracking
    ) -> None:
        row = self.rows.get(user_id)
        if row is not None:
            self.rows[user_id] = replace(row, vocabulary=terms, updated_at=at)
        self.skip(tracking)

    def remove(self, user_id: UUID, tracking: Tracking) -> None:
        self.rows.pop(user_id, None)
        self.skip(tracking)
