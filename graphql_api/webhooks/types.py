"""GraphQL types of webhooks."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry

from domain.webhooks import Webhook as WebhookAggregate
from graphql_api.errors import Error
from graphql_api.recordings.types import NotFound
from projections.webhooks import DeliveryRow, WebhookRow


@strawberry.enum
class WebhookEvent(Enum):
    TRANSCRIPTION_COMPLETED = "TRANSCRIPTION_COMPLETED"
    TRANSCRIPTION_FAILED = "TRANSCRIPTION_FAILED"
    AUDIO_DELETED = "AUDIO_DELETED"


@strawberry.type(description="Where the caller's recording events are POSTed, signed.")
class Webhook:
    id: strawberry.ID
    url: str
    events: list[WebhookEvent]
    include_transcript: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: WebhookRow) -> Webhook:
        return cls(
            id=strawberry.ID(str(row.id)),
            url=row.url,
            events=[WebhookEvent(e) for e in row.events],
            include_transcript=row.include_transcript,
            created_at=row.created_at,
        )

    @classmethod
    def from_aggregate(cls, webhook: WebhookAggregate) -> Webhook:
        return cls(
            id=strawberry.ID(str(webhook.id)),
            url=webhook.url,
            events=[WebhookEvent(e) for e in webhook.events],
            include_transcript=webhook.include_transcript,
            created_at=webhook.created_on,
        )


@strawberry.type(description="A new webhook and its signing secret, shown only this once.")
class NewWebhook:
    secret: str = strawberry.field(
        description="whsec_… (Standard Webhooks): verify each delivery's webhook-signature."
    )
    webhook: Webhook


@strawberry.type(description="The webhook is deleted: nothing more is sent to it.")
class DeletedWebhook:
    id: strawberry.ID


@strawberry.type
class InvalidWebhookUrl(Error):
    reason: str = strawberry.field(
        description="MALFORMED, TOO_LONG, NOT_HTTPS, CREDENTIALS_IN_URL, UNRESOLVABLE or "
        "ADDRESS_NOT_ALLOWED"
    )


@strawberry.type
class NoWebhookEvents(Error):
    pass


@strawberry.type
class WebhookLimitReached(Error):
    limit: int


@strawberry.type(description="One attempt to deliver one event to a webhook.")
class WebhookDelivery:
    message_id: strawberry.ID = strawberry.field(description="The webhook-id header.")
    event: WebhookEvent
    attempt: int
    attempted_at: datetime
    http_status: int | None
    error: str | None
    response_excerpt: str | None = strawberry.field(
        description="The start of the receiver's answer (at most 200 characters)."
    )
    duration_ms: int

    @classmethod
    def from_row(cls, row: DeliveryRow) -> WebhookDelivery:
        return cls(
            message_id=strawberry.ID(row.message_id),
            event=WebhookEvent(row.event.value),
            attempt=row.attempt,
            attempted_at=row.attempted_at,
            http_status=row.http_status,
            error=row.error,
            response_excerpt=row.response_excerpt,
            duration_ms=row.duration_ms,
        )


CreateWebhookResult = Annotated[
    NewWebhook | InvalidWebhookUrl | NoWebhookEvents | WebhookLimitReached,
    strawberry.union("CreateWebhookResult"),
]
DeleteWebhookResult = Annotated[DeletedWebhook | NotFound, strawberry.union("DeleteWebhookResult")]
