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


@dataclass(frozen=True)
class SpentSms:
    """One SMS counted by an :class:`SmsBudget`: the hourly window it was counted in and
    the counters it took (opaque to the domain; :meth:`SmsBudget.refund` reads them)."""

    window: datetime
    counters: tuple[tuple[str, str], ...]


class SmsBudget(ABC):
    """Hourly SMS budgets shared by every API process: per client network, per block of
    numbers and for the whole service. They bound what one client (or one botnet aiming
    at one range, or everybody together) can make ovoz text, whichever numbers it picks;
    the per-number rules of :class:`~domain.identity.OtpChallenge` cannot, since a pump
    never asks twice for the same number."""

    @abstractmethod
    def spend(self, client: str | None, phone: str, now: datetime) -> SpentSms:
        """Count one SMS to ``phone`` (E.164) asked for by ``client`` (its network
        address; None when unknown) in the window of ``now``. Raises
        :class:`~domain.errors.RateLimitedError` (with the seconds until the window
        frees) and counts nothing when any budget is spent; all or nothing."""

    @abstractmethod
    def refund(self, spent: SpentSms) -> None:
        """Give back an SMS that was counted but will not be sent (best effort)."""


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
