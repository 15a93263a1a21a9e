"""createWebhook, deleteWebhook, webhooks and webhookDeliveries: thin resolvers.

Webhooks are account operations (``require_principal`` with no scope): API keys may not
see or change them. Another user's webhook id, like a malformed or unknown one, is
NotFound for deleteWebhook and an empty list for webhookDeliveries (its type is a list).
"""

from __future__ import annotations

from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from domain.webhooks import (
    InvalidWebhookUrlError,
    NoWebhookEventsError,
    WebhookLimitError,
    WebhookNotFoundError,
)
from domain.webhooks import WebhookEvent as DomainWebhookEvent
from graphql_api.context import Info, WebhookServices
from graphql_api.messages import message
from graphql_api.permissions import require_principal
from graphql_api.recordings.types import NotFound
from graphql_api.webhooks.types import (
    CreateWebhookResult,
    DeletedWebhook,
    DeleteWebhookResult,
    InvalidWebhookUrl,
    NewWebhook,
    NoWebhookEvents,
    Webhook,
    WebhookDelivery,
    WebhookEvent,
    WebhookLimitReached,
)

MAX_DELIVERIES = 200


def _services(info: Info) -> WebhookServices:
    webhooks = info.context.services.webhooks
    if webhooks is None:
        raise RuntimeError("webhooks are not wired into this API's services")
    return webhooks


def _parse(raw: str) -> UUID | None:
    try:
        return UUID(raw)
    except ValueError:
        return None


@strawberry.type
class WebhookQuery:
    @strawberry.field(description="The caller's webhooks, oldest first.")
    async def webhooks(self, info: Info) -> list[Webhook]:
        principal = require_principal(info.context)
        rows = await run_in_threadpool(_services(info).views.of_owner, principal.user_id)
        return [Webhook.from_row(r) for r in rows]

    @strawberry.field(
        description="Delivery attempts of one of the caller's webhooks, newest first "
        "(empty for a webhook that is not the caller's)."
    )
    async def webhook_deliveries(
        self, info: Info, webhook_id: strawberry.ID, limit: int = 50
    ) -> list[WebhookDelivery]:
        principal = require_principal(info.context)
        services = _services(info)
        found = _parse(webhook_id)
        limit = min(limit, MAX_DELIVERIES)
        if found is None or limit < 1:
            return []
        row = await run_in_threadpool(services.views.get, found)
        if row is None or row.deleted or row.owner_id != principal.user_id:
            return []
        attempts = await run_in_threadpool(services.deliveries.attempts, found, limit)
        return [WebhookDelivery.from_row(a) for a in attempts]


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(
        description="POST signed events of the caller's recordings to `url` (Standard "
        "Webhooks). The secret is shown only in this answer."
    )
    async def create_webhook(
        self,
        info: Info,
        url: str,
        events: list[WebhookEvent],
        include_transcript: bool = False,
    ) -> CreateWebhookResult:
        principal = require_principal(info.context)
        locale = info.context.locale
        services = info.context.services
        kinds = [DomainWebhookEvent(e.value) for e in events]
        try:
            new = await run_in_threadpool(
                lambda: _services(info).use_cases.create(
                    principal, url, kinds, include_transcript=include_transcript
                )
            )
        except InvalidWebhookUrlError as e:
            code = "INVALID_WEBHOOK_URL"
            text = message(code, locale, reason=e.reason)
            return InvalidWebhookUrl(code=code, message=text, reason=e.reason)
        except NoWebhookEventsError:
            code = "NO_WEBHOOK_EVENTS"
            return NoWebhookEvents(code=code, message=message(code, locale))
        except WebhookLimitError as e:
            code = "WEBHOOK_LIMIT_REACHED"
            text = message(code, locale, limit=e.limit)
            return WebhookLimitReached(code=code, message=text, limit=e.limit)
        await run_in_threadpool(services.wait_for, services.identity.name, new.position)
        return NewWebhook(secret=new.secret, webhook=Webhook.from_aggregate(new.webhook))

    @strawberry.mutation(description="Stop sending events to one of the caller's webhooks.")
    async def delete_webhook(self, info: Info, id: strawberry.ID) -> DeleteWebhookResult:
        principal = require_principal(info.context)
        services = info.context.services
        webhook_id = _parse(id)
        not_found = NotFound(
            code="NOT_FOUND", message=message("WEBHOOK_NOT_FOUND", info.context.locale)
        )
        if webhook_id is None:
            return not_found
        try:
            position = await run_in_threadpool(
                _services(info).use_cases.delete, principal, webhook_id
            )
        except WebhookNotFoundError:
            return not_found
        await run_in_threadpool(services.wait_for, services.identity.name, position)
        return DeletedWebhook(id=strawberry.ID(str(webhook_id)))
