"""Identity: one-time codes sent to a phone, and the users they sign in.

``OtpChallenge`` holds the code policy for one phone number (rate limits, expiry,
failures); its id is derived from a keyed HMAC of the number, never the number itself.
``User`` is created the first time a code for a phone is verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidOtpError, RateLimitedError


class Role(StrEnum):
    USER = "USER"
    ADMIN = "ADMIN"


@dataclass(frozen=True)
class OtpRules:
    """The limits an OtpChallenge enforces (see infrastructure.config.OtpPolicy)."""

    code_ttl: timedelta = timedelta(minutes=5)
    max_failures: int = 5
    failure_window: timedelta = timedelta(hours=1)
    resend_cooldown: timedelta = timedelta(seconds=60)
    max_codes_per_hour: int = 5


_HOUR = timedelta(hours=1)


def _seconds_until(moment: datetime, now: datetime) -> int:
    return int((moment - now).total_seconds() + 0.999)


class OtpChallenge(Aggregate):
    """The one-time codes of one phone number and the rules that guard them."""

    @event("ChallengeOpened")
    def __init__(self, id: UUID) -> None:
        self.requested_at: list[datetime] = []
        self.failed_at: list[datetime] = []
        self.code_id: UUID | None = None
        self.code_hash: str | None = None
        self.code_expires_at: datetime | None = None
        self.code_failures = 0
        self.user_id: UUID | None = None

    # -- rules -------------------------------------------------------------------------

    def check_can_request(self, now: datetime, rules: OtpRules) -> None:
        """Raise RateLimitedError if a new code may not be sent now."""
        self._check_not_locked(now, rules)
        recent = [t for t in self.requested_at if now - t < _HOUR]
        if recent and now - recent[-1] < rules.resend_cooldown:
            raise RateLimitedError(_seconds_until(recent[-1] + rules.resend_cooldown, now))
        if len(recent) >= rules.max_codes_per_hour:
            oldest = recent[-rules.max_codes_per_hour]
            raise RateLimitedError(_seconds_until(oldest + _HOUR, now))

    def check_can_verify(self, now: datetime, rules: OtpRules) -> str:
        """Return the live code's hash, or raise why no code can be tried now."""
        self._check_not_locked(now, rules)
        if self.code_hash is None or self.code_expires_at is None or now >= self.code_expires_at:
            raise InvalidOtpError("no live code")
        return self.code_hash

    def _check_not_locked(self, now: datetime, rules: OtpRules) -> None:
        recent = [t for t in self.failed_at if now - t < rules.failure_window]
        if len(recent) >= rules.max_failures:
            oldest = recent[-rules.max_failures]
            raise RateLimitedError(_seconds_until(oldest + rules.failure_window, now))

    # -- events ------------------------------------------------------------------------

    @event("OtpRequested")
    def request_code(
        self, challenge_id: UUID, code_hash: str, expires_at: datetime, at: datetime
    ) -> None:
        self.requested_at = [*[t for t in self.requested_at if at - t < _HOUR], at]
        self.code_id = challenge_id
        self.code_hash = code_hash
        self.code_expires_at = expires_at
        self.code_failures = 0

    @event("OtpDeliveryFailed")
    def delivery_failed(self, challenge_id: UUID) -> None:
        if self.code_id == challenge_id:
            self._kill_code()

    @event("OtpAttemptFailed")
    def attempt_failed(self, challenge_id: UUID, at: datetime, max_failures: int) -> None:
        self.failed_at = [*self.failed_at[-(max_failures * 4) :], at]
        self.code_failures += 1
        if self.code_failures >= max_failures:
            self._kill_code()

    @event("OtpVerified")
    def verified(self, challenge_id: UUID, user_id: UUID, at: datetime) -> None:
        self.user_id = user_id
        self.failed_at = []
        self._kill_code()

    def _kill_code(self) -> None:
        self.code_hash = None
        self.code_expires_at = None


class User(Aggregate):
    """A person who has signed in at least once."""

    class UserRegistered(Aggregate.Created):
        phone: str
        role: str
        challenge_id: UUID

    class RoleChanged(Aggregate.Event):
        role: str
        reason: str

    class AccountDeleted(Aggregate.Event):
        actor_id: UUID

    @event(UserRegistered)
    def __init__(self, phone: str, role: str, challenge_id: UUID) -> None:
        self.phone = phone
        self.role = Role(role)
        self.challenge_id = challenge_id  # the OtpChallenge that signs this user in
        self.deleted = False

    def delete(self, actor_id: UUID) -> None:
        if not self.deleted:
            self._record_deletion(actor_id=actor_id)

    @event(AccountDeleted)
    def _record_deletion(self, actor_id: UUID) -> None:
        self.deleted = True

    @event(RoleChanged)
    def change_role(self, role: str, reason: str) -> None:
        self.role = Role(role)
