"""The webhooks read model (who subscribed where to what) and the delivery log's ports.

Here: the row types, the ports and the projection that follows the identity log. The
PostgreSQL view is ``infrastructure.views.webhooks.WebhooksView``; the delivery log is
``infrastructure.webhook_outbox.WebhookOutbox``. The signing secret is never in a row:
it stays in the (encrypted) event store.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from functools import singledispatchmethod
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from domain.erasure import ErasedEvent
from domain.identity import User
from domain.webhooks import Webhook, WebhookEvent
from projections.columns import JSON_LIST, Columns
from projections.projection import InMemoryTracking, TrackedWrites, ViewProjection

_WEBHOOK_TOPICS = frozenset(get_topic(c) for c in (Webhook.WebhookCreated, Webhook.WebhookDeleted))


@dataclass(frozen=True)
class WebhookRow:
    id: UUID
    owner_id: UUID
    url: str
    events: list[str]
    include_transcript: bool
    created_at: datetime
    deleted: bool

    @property
    def kinds(self) -> list[WebhookEvent]:
        return [WebhookEvent(e) for e in self.events]


WEBHOOK_COLUMNS = Columns(WebhookRow, {"events": JSON_LIST})


@dataclass(frozen=True)
class DeliveryRow:
    """One attempt to deliver one message."""

    message_id: str
    webhook_id: UUID
    event: WebhookEvent
    attempt: int
    attempted_at: datetime
    http_status: int | None
    error: str | None
    response_excerpt: str | None
    duration_ms: int


class WebhookWrites(TrackedWrites, Protocol):
    def add(self, row: WebhookRow, tracking: Tracking) -> None:
        """Add the row (a replayed creation whose row exists changes nothing)."""

    def mark_deleted(self, webhook_id: UUID, tracking: Tracking) -> None: ...

    def close_owner(self, owner_id: UUID, tracking: Tracking) -> None:
        """The owner's account is deleted: every webhook of theirs is deleted and its URL
        forgotten; the ids stay until the keys are destroyed (AccountErasure does that)."""

    def remove(self, webhook_id: UUID, tracking: Tracking) -> None: ...


class WebhookReads(Protocol):
    def of_owner(self, owner_id: UUID) -> list[WebhookRow]:
        """The owner's live webhooks, oldest first."""

    def get(self, webhook_id: UUID) -> WebhookRow | None: ...


class DeliveryReads(Protocol):
    def attempts(self, webhook_id: UUID, limit: int) -> list[DeliveryRow]:
        """The webhook's delivery attempts, newest first."""


class WebhooksProjection(ViewProjection[WebhookWrites]):
    """Builds ``webhooks`` from the identity log (every event: it serves reads)."""

    name = "webhooks"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.skip(tracking)

    @process_event.register
    def _(self, e: Webhook.WebhookCreated, tracking: Tracking) -> None:
        row = WebhookRow(
            id=e.originator_id,
            owner_id=e.owner_id,
            url=e.url,
            events=list(e.events),
            include_transcript=e.include_transcript,
            created_at=e.timestamp,
            deleted=False,
        )
        self.view.add(row, tracking)

    @process_event.register
    def _(self, e: Webhook.WebhookDeleted, tracking: Tracking) -> None:
        self.view.mark_deleted(e.originator_id, tracking)

    @process_event.register
    def _(self, e: User.AccountDeleted, tracking: Tracking) -> None:
        self.view.close_owner(e.originator_id, tracking)

    @process_event.register
    def _(self, e: ErasedEvent, tracking: Tracking) -> None:
        if e.topic in _WEBHOOK_TOPICS:  # an erased webhook leaves no row
            self.view.remove(e.originator_id, tracking)
        else:
            self.view.skip(tracking)


class WebhooksInMemory(InMemoryTracking):
    """The webhooks view's writes applied to a dict, for fast replays (see UsersInMemory)."""

    def __init__(self) -> None:
        self.rows: dict[UUID, WebhookRow] = {}
        super().__init__()

    def add(self, row: WebhookRow, tracking: Tracking) -> None:
        self.rows.setdefault(row.id, row)
        self.skip(tracking)

    def mark_deleted(self, webhook_id: UUID, tracking: Tracking) -> None:
        row = self.rows.get(webhook_id)
        if row is not None:
            self.rows[webhook_id] = replace(row, deleted=True)
        self.skip(tracking)

    def close_owner(self, owner_id: UUID, tracking: Tracking) -> None:
        for webhook_id, row in list(self.rows.items()):
            if row.owner_id == owner_id:
                self.rows[webhook_id] = replace(row, deleted=True, url="")
        self.skip(tracking)

    def remove(self, webhook_id: UUID, tracking: Tracking) -> None:
        self.rows.pop(webhook_id, None)
        self.skip(tracking)
