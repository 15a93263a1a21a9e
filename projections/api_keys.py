"""The api_keys read model: each user's keys, for listing them and for checking a key.

Here: the row type, the ports, the projection and the in-memory view a rebuild replays
into. The PostgreSQL view is ``infrastructure.views.api_keys.ApiKeysView``; it also tells
every API process of each key that stops working (NOTIFY on ``API_KEYS_CHANNEL``), so that
a revoked key is refused at once everywhere.

``last_used_at`` is not in the log: a use is no domain event (a script may call many
times a second). The API writes the column itself, at most once a minute per key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking

from domain.access import Scope
from domain.api_keys import ApiKey
from domain.erasure import ErasedEvent
from domain.identity import User
from projections.columns import Columns, Conversion
from projections.projection import InMemoryTracking, TrackedWrites, ViewProjection

API_KEYS_CHANNEL = "ovoz_api_keys_revoked"


@dataclass(frozen=True)
class ApiKeyRow:
    id: UUID
    owner_id: UUID
    name: str
    public_id: str
    key_hash: str
    scopes: tuple[Scope, ...]
    created_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


_SCOPES = Conversion(
    store=lambda scopes: [s.value for s in scopes],  # a text[] column
    load=lambda values: tuple(Scope(v) for v in values or ()),
)
API_KEY_COLUMNS = Columns(ApiKeyRow, {"scopes": _SCOPES})


class ApiKeyWrites(TrackedWrites, Protocol):
    """What the api_keys projection writes through: each write records its tracking."""

    def add(self, row: ApiKeyRow, tracking: Tracking) -> None:
        """Add the row (a replayed creation whose row exists changes nothing)."""

    def revoke(self, key_id: UUID, at: datetime, tracking: Tracking) -> None: ...

    def remove(self, subject_id: UUID, tracking: Tracking) -> None:
        """Drop the key ``subject_id``, or every key of the user ``subject_id``."""


class ApiKeyReads(Protocol):
    """What the API reads from the api_keys view."""

    def by_public_id(self, public_id: str) -> ApiKeyRow | None: ...

    def live_of(self, owner_id: UUID) -> list[ApiKeyRow]:
        """The owner's keys that are not revoked, newest first."""

    def ids_of(self, owner_id: UUID) -> list[UUID]:
        """Every key of the owner, revoked ones too."""

    def touch(self, key_id: UUID, at: datetime) -> None:
        """Record a use (no-op when the column already says within the last minute)."""


class ApiKeysProjection(ViewProjection[ApiKeyWrites]):
    """Builds ``api_keys`` from the identity log."""

    # No topic filter: every event of the identity log advances this view, so that a
    # read-your-writes wait for any identity position completes (see UsersProjection).
    name = "api_keys"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.skip(tracking)

    @process_event.register
    def _(self, domain_event: ApiKey.ApiKeyCreated, tracking: Tracking) -> None:
        row = ApiKeyRow(
            id=domain_event.originator_id,
            owner_id=domain_event.owner_id,
            name=domain_event.name,
            public_id=domain_event.public_id,
            key_hash=domain_event.key_hash,
            scopes=tuple(Scope(s) for s in domain_event.scopes),
            created_at=domain_event.timestamp,
        )
        self.view.add(row, tracking)

    @process_event.register
    def _(self, domain_event: ApiKey.ApiKeyRevoked, tracking: Tracking) -> None:
        self.view.revoke(domain_event.originator_id, domain_event.timestamp, tracking)

    @process_event.register
    def _(self, domain_event: User.AccountDeleted, tracking: Tracking) -> None:
        self.view.remove(domain_event.originator_id, tracking)

    @process_event.register
    def _(self, domain_event: ErasedEvent, tracking: Tracking) -> None:
        # An erased key (or user) leaves no row; for other subjects this deletes nothing.
        self.view.remove(domain_event.originator_id, tracking)


class ApiKeysInMemory(InMemoryTracking):
    """The api_keys view's writes applied to a dict, for fast replays."""

    def __init__(self) -> None:
        self.rows: dict[UUID, ApiKeyRow] = {}
        self._of_owner: dict[UUID, set[UUID]] = {}
        super().__init__()

    def add(self, row: ApiKeyRow, tracking: Tracking) -> None:
        if row.id not in self.rows:
            self.rows[row.id] = row
            self._of_owner.setdefault(row.owner_id, set()).add(row.id)
        self.skip(tracking)

    def revoke(self, key_id: UUID, at: datetime, tracking: Tracking) -> None:
        row = self.rows.get(key_id)
        if row is not None and row.revoked_at is None:
            self.rows[key_id] = replace(row, revoked_at=at)
        self.skip(tracking)

    def remove(self, subject_id: UUID, tracking: Tracking) -> None:
        for key_id in {subject_id} | self._of_owner.pop(subject_id, set()):
            row = self.rows.pop(key_id, None)
            if row is not None:
                self._of_owner.get(row.owner_id, set()).discard(key_id)
        self.skip(tracking)
