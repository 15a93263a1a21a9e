"""Ports: the small interfaces through which the domain reaches the outside world.

Infrastructure provides the real adapters; tests use fakes only for true external
boundaries (the SMS provider, the clock).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class SmsMessage:
    """One text message. ``code`` is the one-time code it carries, if any.

    The code travels beside the text only so that the development outbox can show it;
    real gateways send ``text`` alone.
    """

    to: str  # E.164, e.g. "+998901234567"
    text: str
    code: str | None = None


class SmsDeliveryError(Exception):
    """The gateway did not accept the message (network error, refusal, bad credentials)."""


class SmsSender(ABC):
    """Sends text messages. Implementations block; callers run them off the event loop."""

    @abstractmethod
    def send(self, message: SmsMessage) -> None:
        """Deliver ``message`` or raise :class:`SmsDeliveryError`."""


class Clock(ABC):
    """The time source, injected so that expiry and rate rules can be tested."""

    @abstractmethod
    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""


class SecretHasher(ABC):
    """Slow, salted hashing of short secrets (one-time codes)."""

    @abstractmethod
    def hash(self, secret: str) -> str:
        """Return an encoded hash of ``secret``."""

    @abstractmethod
    def verify(self, encoded: str, secret: str) -> bool:
        """True if ``secret`` matches ``encoded``; never raises for a mismatch."""


class BlobStore(ABC):
    """Where the bytes of recordings live (events carry only the key and the SHA-256)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the blob; removing an absent blob is not an error."""


class SubjectKeys(ABC):
    """The per-subject data keys that event payloads are encrypted under."""

    @abstractmethod
    def destroy(self, subject_ids: list[UUID]) -> None:
        """Destroy the keys for good: those subjects' payloads become unreadable."""

    @abstractmethod
    def is_destroyed(self, subject_id: UUID) -> bool:
        """True once the subject's key was destroyed."""
