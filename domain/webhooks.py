"""Webhooks: a person's subscription to their recordings' events, signed with a secret.

A ``Webhook`` lives in the identity application's log, like the account that owns it;
its payloads (the URL and the signing secret) are encrypted under the webhook's own key,
so destroying that key erases them. The use cases are :class:`Webhooks`, which saves
through ``Identity`` without adding to it.
"""

from __future__ import annotations

import base64
import secrets
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event

from domain.access import Principal
from domain.errors import DomainError, SubjectErasedError
from domain.ports import SubjectKeys
from domain.signin import Identity

SECRET_PREFIX = "whsec_"  # noqa: S105 (a format, not a secret). Standard Webhooks: the secret is whsec_ + base64 of its bytes
_SECRET_BYTES = 32
MAX_URL_CHARS = 2048
MAX_WEBHOOKS_PER_OWNER = 10


class WebhookEvent(StrEnum):
    """What a webhook can be told of."""

    TRANSCRIPTION_COMPLETED = "TRANSCRIPTION_COMPLETED"
    TRANSCRIPTION_FAILED = "TRANSCRIPTION_FAILED"
    AUDIO_DELETED = "AUDIO_DELETED"

    @property
    def wire_type(self) -> str:
        """The ``type`` of the delivered JSON body, e.g. ``transcription.completed``."""
        return _WIRE_TYPES[self]


_WIRE_TYPES = {
    WebhookEvent.TRANSCRIPTION_COMPLETED: "transcription.completed",
    WebhookEvent.TRANSCRIPTION_FAILED: "transcription.failed",
    WebhookEvent.AUDIO_DELETED: "audio.deleted",
}


class InvalidWebhookUrlError(DomainError):
    """The URL cannot receive webhooks. ``reason`` is a stable code (see UrlReason)."""

    code = "INVALID_WEBHOOK_URL"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


class UrlReason(StrEnum):
    MALFORMED = "MALFORMED"
    TOO_LONG = "TOO_LONG"
    NOT_HTTPS = "NOT_HTTPS"
    CREDENTIALS_IN_URL = "CREDENTIALS_IN_URL"
    UNRESOLVABLE = "UNRESOLVABLE"
    ADDRESS_NOT_ALLOWED = "ADDRESS_NOT_ALLOWED"


class NoWebhookEventsError(DomainError):
    code = "NO_WEBHOOK_EVENTS"


class WebhookLimitError(DomainError):
    code = "WEBHOOK_LIMIT_REACHED"

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} webhooks")
        self.limit = limit


class WebhookNotFoundError(DomainError):
    """Absent, deleted, erased, malformed or someone else's: all look the same."""

    code = "NOT_FOUND"


class Webhook(Aggregate):
    """One subscription: where to POST which events of its owner's recordings."""

    class WebhookCreated(Aggregate.Created):
        owner_id: UUID
        url: str
        events: list[str]
        secret: str
        include_transcript: bool

    class WebhookDeleted(Aggregate.Event):
        owner_id: UUID  # in clear in the stored header, like every recording event's
        actor_id: UUID

    @event(WebhookCreated)
    def __init__(
        self,
        *,
        id: UUID,
        owner_id: UUID,
        url: str,
        events: list[str],
        secret: str,
        include_transcript: bool,
    ) -> None:
        self.owner_id = owner_id
        self.url = url
        self.events = events
        self.secret = secret
        self.include_transcript = include_transcript
        self.deleted = False

    def subscribes_to(self, kind: WebhookEvent) -> bool:
        return not self.deleted and kind.value in self.events

    def delete(self, actor_id: UUID) -> None:
        if self.deleted:
            raise WebhookNotFoundError(str(self.id))
        self._record_deletion(owner_id=self.owner_id, actor_id=actor_id)

    @event(WebhookDeleted)
    def _record_deletion(self, owner_id: UUID, actor_id: UUID) -> None:
        self.deleted = True


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks format."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    """The key bytes of a ``whsec_`` secret (what the HMAC is keyed with)."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


class WebhookUrls(ABC):
    """Whether a URL may receive webhooks (SSRF rules; resolving names is I/O)."""

    @abstractmethod
    def check(self, url: str) -> str:
        """The URL as it will be stored, or raise :class:`InvalidWebhookUrlError`."""


class WebhookOwners(ABC):
    """What the use cases read of the webhooks read model."""

    @abstractmethod
    def live_count(self, owner_id: UUID) -> int:
        """How many webhooks ``owner_id`` has that are not deleted."""

    @abstractmethod
    def ids_of(self, owner_id: UUID) -> list[UUID]:
        """Every webhook ``owner_id`` ever created that is not erased yet (deleted ones
        too: their keys must go with the account). Up to date with the identity log."""


class DeliveryRecords(ABC):
    """The delivery queue and its attempts: what erasing an owner must remove."""

    @abstractmethod
    def forget_owner(self, owner_id: UUID) -> None:
        """Delete every message and attempt of ``owner_id``'s webhooks."""


@dataclass(frozen=True)
class NewWebhook:
    """A created webhook, its secret (shown once) and the identity log position."""

    webhook: Webhook
    secret: str
    position: int


class Webhooks:
    """The webhook use cases: create, delete, read one, erase an owner's."""

    def __init__(
        self,
        identity: Identity,
        keys: SubjectKeys,
        *,
        urls: WebhookUrls,
        owners: WebhookOwners,
        deliveries: DeliveryRecords,
        max_per_owner: int = MAX_WEBHOOKS_PER_OWNER,
    ) -> None:
        self.identity = identity
        self.keys = keys
        self.urls = urls
        self.owners = owners
        self.deliveries = deliveries
        self.max_per_owner = max_per_owner

    def create(
        self,
        principal: Principal,
        url: str,
        events: Iterable[WebhookEvent],
        *,
        include_transcript: bool = False,
    ) -> NewWebhook:
        """Subscribe ``url`` to ``events`` of the caller's recordings.

        The count is read from the read model, so two creations at the very same moment
        may pass the limit together by one; the limit bounds fan-out, not money."""
        kinds = list(dict.fromkeys(WebhookEvent(e) for e in events))
        if not kinds:
            raise NoWebhookEventsError("no events")
        if len(url) > MAX_URL_CHARS:
            raise InvalidWebhookUrlError(UrlReason.TOO_LONG)
        if self.owners.live_count(principal.user_id) >= self.max_per_owner:
            raise WebhookLimitError(self.max_per_owner)
        checked = self.urls.check(url)
        secret = new_secret()
        webhook = Webhook(
            id=uuid4(),
            owner_id=principal.user_id,
            url=checked,
            events=[k.value for k in kinds],
            secret=secret,
            include_transcript=include_transcript,
        )
        recordings = self.identity.save(webhook)
        return NewWebhook(webhook, secret, max(r.notification.id for r in recordings))

    def delete(self, principal: Principal, webhook_id: UUID) -> int:
        """Delete the caller's webhook; returns the identity log position."""
        webhook = self.get(principal, webhook_id)
        webhook.delete(principal.user_id)
        recordings = self.identity.save(webhook)
        return max(r.notification.id for r in recordings)

    def get(self, principal: Principal, webhook_id: UUID) -> Webhook:
        """The caller's live webhook (only its owner's: account data, not for admins)."""
        webhook = self.load(webhook_id)
        if webhook is None or webhook.deleted or webhook.owner_id != principal.user_id:
            raise WebhookNotFoundError(str(webhook_id))
        return webhook

    def load(self, webhook_id: UUID) -> Webhook | None:
        """The webhook, deleted or not, whoever owns it; None if absent or erased."""
        try:
            found: object = self.identity.repository.get(webhook_id)
        except (AggregateNotFoundError, SubjectErasedError):
            return None
        return found if isinstance(found, Webhook) else None

    def erase_owner(self, owner_id: UUID) -> None:
        """Erase every webhook of an account being deleted: their keys (URL, secret)
        and their queued messages and attempts."""
        self.keys.destroy(self.owners.ids_of(owner_id))
        self.deliveries.forget_owner(owner_id)
