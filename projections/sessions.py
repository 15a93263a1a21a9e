"""The sessions read model: each user's sessions, for listing and for revocation.

Here: the row type, the ports, the projection and the in-memory view a rebuild replays
into. The PostgreSQL view is ``infrastructure.views.sessions.SessionsView``; it also tells
every API process of each ended session (NOTIFY), so that the session's access tokens stop
working at once everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking

from domain.erasure import ErasedEvent
from domain.identity import User
from domain.sessions import ClientType, Session
from projections.columns import Columns, enum_value
from projections.projection import InMemoryTracking, TrackedWrites, ViewProjection


@dataclass(frozen=True)
class SessionRow:
    id: UUID
    user_id: UUID
    client_type: ClientType
    device: str
    address: str | None
    created_at: datetime
    last_used_at: datetime
    idle_expires_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None

    def is_live(self, now: datetime) -> bool:
        return self.ended_at is None and now < self.idle_expires_at and now < self.expires_at


SESSION_COLUMNS = Columns(SessionRow, {"client_type": enum_value(ClientType)})


class SessionWrites(TrackedWrites, Protocol):
    def start(self, row: SessionRow, tracking: Tracking) -> None:
        """Add the row (a replayed start whose row exists changes nothing)."""

    def used(
        self,
        session_id: UUID,
        at: datetime,
        idle_expires_at: datetime,
        address: str | None,
        tracking: Tracking,
    ) -> None: ...

    def end(self, session_id: UUID, at: datetime, reason: str, tracking: Tracking) -> None: ...

    def remove(self, subject_id: UUID, tracking: Tracking) -> None:
        """Drop the session ``subject_id``, or every session of the user ``subject_id``."""


class SessionReads(Protocol):
    def of_user(self, user_id: UUID) -> list[SessionRow]:
        """The user's sessions, most recently used first."""

    def ended_since(self, moment: datetime) -> list[UUID]:
        """Sessions ended at or after ``moment`` (their access tokens may still be out)."""


class SessionsProjection(ViewProjection[SessionWrites]):
    """Builds ``sessions`` from the identity log."""

    # No topic filter: every event of the identity log advances this view, so that a
    # read-your-writes wait for any identity position completes (see UsersProjection).
    name = "sessions"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.skip(tracking)

    @process_event.register
    def _(self, e: Session.SessionStarted, tracking: Tracking) -> None:
        row = SessionRow(
            id=e.originator_id,
            user_id=e.user_id,
            client_type=ClientType(e.client_type),
            device=e.device,
            address=e.address,
            created_at=e.at,
            last_used_at=e.at,
            idle_expires_at=e.idle_expires_at,
            expires_at=e.expires_at,
        )
        self.view.start(row, tracking)

    @process_event.register
    def _(self, e: Session.SessionRefreshed, tracking: Tracking) -> None:
        self.view.used(e.originator_id, e.at, e.idle_expires_at, e.address, tracking)

    @process_event.register
    def _(self, e: Session.SessionRevoked, tracking: Tracking) -> None:
        self.view.end(e.originator_id, e.at, e.reason, tracking)

    @process_event.register
    def _(self, e: User.AccountDeleted, tracking: Tracking) -> None:
        self.view.remove(e.originator_id, tracking)

    @process_event.register
    def _(self, e: ErasedEvent, tracking: Tracking) -> None:
        # An erased session (or user) leaves no row; for other subjects this deletes nothing.
        self.view.remove(e.originator_id, tracking)


class SessionsInMemory(InMemoryTracking):
    """The sessions view's writes applied to a dict, for fast replays."""

    def __init__(self) -> None:
        self.rows: dict[UUID, SessionRow] = {}
        super().__init__()

    def start(self, row: SessionRow, tracking: Tracking) -> None:
        self.rows.setdefault(row.id, row)
        self.skip(tracking)

    def used(
        self,
        session_id: UUID,
        at: datetime,
        idle_expires_at: datetime,
        address: str | None,
        tracking: Tracking,
    ) -> None:
        row = self.rows.get(session_id)
        if row is not None:
            self.rows[session_id] = replace(
                row, last_used_at=at, idle_expires_at=idle_expires_at, address=address
            )
        self.skip(tracking)

    def end(self, session_id: UUID, at: datetime, reason: str, tracking: Tracking) -> None:
        row = self.rows.get(session_id)
        if row is not None and row.ended_at is None:
            self.rows[session_id] = replace(row, ended_at=at, end_reason=reason)
        self.skip(tracking)

    def remove(self, subject_id: UUID, tracking: Tracking) -> None:
        for session_id in [r.id for r in self.rows.values() if subject_id in (r.id, r.user_id)]:
            del self.rows[session_id]
        self.skip(tracking)
