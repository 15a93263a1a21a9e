"""Identity: one-time codes sent to a phone, and the users they sign in.

``OtpChallenge`` holds the code policy for one phone number (rate limits, expiry,
failures); its id is derived from a keyed HMAC of the number, never the number itself.
``User`` is created the first time a code for a phone is verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidOtpError, RateLimitedError
from domain.ports import SecretHasher
from domain.vocabulary import clean_vocabulary


class Role(StrEnum):
    USER = "USER"
    ADMIN = "ADMIN"


class NoLiveCodeError(InvalidOtpError):
    """There is no code to guess: none was sent, or it expired, was used or was killed."""


@dataclass(frozen=True)
class OtpRules:
    """The limits an OtpChallenge enforces (see infrastructure.config.OtpPolicy).

    ``max_failures`` is two limits: wrong guesses a code survives (from any clients),
    and wrong guesses one client may make at one number per ``failure_window``.
    ``max_consecutive_failures`` is the ceiling for the number, from all clients
    together: that many in a row without a sign-in lock it for a window. NIST SP
    800-63B allows up to 100; 30 keeps a guesser to 30 tries an hour while a third
    party still needs 6 addresses to lock an owner out.

    ``max_codes_per_hour`` is what one client may ask for at one number in an hour, and
    ``max_codes_per_number_per_hour`` what the number receives from all clients together
    (the SMS bill). ``resend_cooldown`` stays per number: it bounds the SMS rate, and a
    code a stranger asks for goes to the owner's phone, where the owner can use it.
    """

    code_ttl: timedelta = timedelta(minutes=5)
    max_failures: int = 5
    failure_window: timedelta = timedelta(hours=1)
    resend_cooldown: timedelta = timedelta(seconds=60)
    max_codes_per_hour: int = 5
    max_consecutive_failures: int = 30
    max_codes_per_number_per_hour: int = 20


_HOUR = timedelta(hours=1)
# Failed guesses a challenge remembers for the per-client limit. The per-code limit and
# the number's hourly code ceiling hold a number to max_codes_per_number_per_hour x
# max_failures failures an hour (100 by default), so this covers any failure window up
# to 10 hours; past the memory the per-code limit and the consecutive ceiling still hold.
_FAILURE_MEMORY = 1000


def _seconds_until(moment: datetime, now: datetime) -> int:
    return int((moment - now).total_seconds() + 0.999)


class OtpChallenge(Aggregate):
    """The one-time codes of one phone number and the rules that guard them.

    Failed guesses count against the code (it dies after ``max_failures``), against the
    client that made them (locked out of this number for a window after
    ``max_failures``), and towards the number's ceiling of consecutive failures. A
    stranger's guesses therefore never lock the owner out: the owner, from another
    client, asks for a fresh code, which starts a fresh per-code budget.
    ``client`` is an opaque tag of the caller (a keyed hash, never an address); None
    stands for "unknown", one client like any other.
    """

    @event("ChallengeOpened")
    def __init__(self, id: UUID) -> None:
        self.requests: list[tuple[datetime, str | None]] = []  # last hour: (when, client)
        self.failures: list[tuple[datetime, str | None]] = []  # recent: (when, client)
        self.failure_streak = 0  # failures since the last sign-in, from any client
        self.code_id: UUID | None = None
        self.code_hash: str | None = None
        self.code_expires_at: datetime | None = None
        self.code_failures = 0
        self.user_id: UUID | None = None

    # -- commands ----------------------------------------------------------------------

    def request_code(
        self,
        code: str,
        hasher: SecretHasher,
        now: datetime,
        rules: OtpRules,
        client: str | None = None,
    ) -> UUID:
        """Open a fresh code that replaces any live one; returns its id.

        Refused within the number's resend cooldown, past this client's hourly budget
        for the number, past the number's hourly ceiling and while the whole number is
        locked, but never because some client guessed wrong: a fresh code is how the
        owner gets past a stranger's guesses. Budgets are per client so that a stranger
        who spends its own cannot spend the owner's. (A client locked out of guessing
        may still ask: the code goes to the owner's phone, and asking is limited on
        its own.)
        """
        self._check_can_request(client, now, rules)
        code_id = uuid4()
        self._record_request(
            challenge_id=code_id,
            code_hash=hasher.hash(code),
            expires_at=now + rules.code_ttl,
            at=now,
            client=client,
        )
        return code_id

    def judge(
        self, code: str, client: str | None, now: datetime, rules: OtpRules, hasher: SecretHasher
    ) -> UUID | None:
        """Judge one guess at the live code.

        Returns the code's id when the guess is right (spend it with :meth:`sign_in`);
        records the failure and returns None when it is wrong. Raises RateLimitedError
        when this client, or the whole number, may not guess now, and NoLiveCodeError
        when there is no code to guess.
        """
        self._check_number_unlocked(now, rules)
        self._check_client_unlocked(client, now, rules)
        if self.code_id is None or self.code_hash is None or self.code_expires_at is None:
            raise NoLiveCodeError("no live code")
        if now >= self.code_expires_at:
            raise NoLiveCodeError("code expired")
        if hasher.verify(self.code_hash, code):
            return self.code_id
        self._record_failure(
            challenge_id=self.code_id, at=now, max_failures=rules.max_failures, client=client
        )
        return None

    def sign_in(self, code_id: UUID, user_id: UUID, client: str | None, now: datetime) -> None:
        """Spend the code that :meth:`judge` found right. The streak of failures ends,
        and the client that signed in is forgiven its own earlier mistakes."""
        if code_id != self.code_id or self.code_hash is None:
            raise NoLiveCodeError("code already spent")
        self._record_sign_in(challenge_id=code_id, user_id=user_id, at=now, client=client)

    def cancel_code(self, code_id: UUID) -> None:
        """The SMS carrying this code was not delivered: make sure it never works."""
        if code_id == self.code_id and self.code_hash is not None:
            self._record_delivery_failure(challenge_id=code_id)

    # -- rules -------------------------------------------------------------------------

    def _check_can_request(self, client: str | None, now: datetime, rules: OtpRules) -> None:
        self._check_number_unlocked(now, rules)
        recent = [t for t, _ in self.requests if now - t < _HOUR]
        mine = [t for t, c in self.requests if c == client and now - t < _HOUR]
        # Every limit that refuses counts: the answer names the wait that lets it through.
        waits = []
        if recent and now - recent[-1] < rules.resend_cooldown:
            waits.append(_seconds_until(recent[-1] + rules.resend_cooldown, now))
        if len(mine) >= rules.max_codes_per_hour:
            waits.append(_seconds_until(mine[-rules.max_codes_per_hour] + _HOUR, now))
        ceiling = rules.max_codes_per_number_per_hour
        if len(recent) >= ceiling:
            waits.append(_seconds_until(recent[-ceiling] + _HOUR, now))
        if waits:
            raise RateLimitedError(max(waits))

    def _check_client_unlocked(self, client: str | None, now: datetime, rules: OtpRules) -> None:
        mine = [t for t, c in self.failures if c == client and now - t < rules.failure_window]
        if len(mine) >= rules.max_failures:
            oldest = mine[-rules.max_failures]
            raise RateLimitedError(_seconds_until(oldest + rules.failure_window, now))

    def _check_number_unlocked(self, now: datetime, rules: OtpRules) -> None:
        # Each max_consecutive_failures-th failure in a row locks the number for a window
        # from that failure. No guess is judged while it is locked, so the streak then
        # needs that many more failures to lock it again: keeping a number locked costs
        # an attacker a fresh ceiling's worth of guesses (and clients) every window.
        streak, ceiling = self.failure_streak, rules.max_consecutive_failures
        if streak == 0 or streak % ceiling != 0 or not self.failures:
            return
        last_failure = self.failures[-1][0]
        if now - last_failure < rules.failure_window:
            raise RateLimitedError(_seconds_until(last_failure + rules.failure_window, now))

    # -- events (names and fields are a contract: old events must still load) ----------

    # ``client`` came later: events stored before it have none, and count as one
    # unknown client.
    @event("OtpRequested")
    def _record_request(
        self,
        challenge_id: UUID,
        code_hash: str,
        expires_at: datetime,
        at: datetime,
        client: str | None = None,
    ) -> None:
        self.requests = [*[(t, c) for t, c in self.requests if at - t < _HOUR], (at, client)]
        self.code_id = challenge_id
        self.code_hash = code_hash
        self.code_expires_at = expires_at
        self.code_failures = 0

    @event("OtpDeliveryFailed")
    def _record_delivery_failure(self, challenge_id: UUID) -> None:
        if self.code_id == challenge_id:
            self._kill_code()

    # ``client`` came later: events stored before it have none, and count as one
    # unknown client.
    @event("OtpAttemptFailed")
    def _record_failure(
        self, challenge_id: UUID, at: datetime, max_failures: int, client: str | None = None
    ) -> None:
        self.failures = [*self.failures[-(_FAILURE_MEMORY - 1) :], (at, client)]
        self.failure_streak += 1
        if challenge_id == self.code_id:
            self.code_failures += 1
            if self.code_failures >= max_failures:
                self._kill_code()

    @event("OtpVerified")
    def _record_sign_in(
        self, challenge_id: UUID, user_id: UUID, at: datetime, client: str | None = None
    ) -> None:
        self.user_id = user_id
        self.failure_streak = 0
        self.failures = [(t, c) for t, c in self.failures if c != client]
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

    class VocabularySet(Aggregate.Event):
        terms: list[str]

    @event(UserRegistered)
    def __init__(self, phone: str, role: str, challenge_id: UUID) -> None:
        self.phone = phone
        self.role = Role(role)
        self.challenge_id = challenge_id  # the OtpChallenge that signs this user in
        self.deleted = False
        self.vocabulary: list[str] = []

    def set_vocabulary(self, terms: list[str]) -> None:
        """Replace the terms every transcription of this user's recordings is steered by
        (see domain.vocabulary). Setting the same list again records nothing."""
        cleaned = clean_vocabulary(terms)
        if cleaned != self.vocabulary:
            self._record_vocabulary(terms=cleaned)

    @event(VocabularySet)
    def _record_vocabulary(self, terms: list[str]) -> None:
        self.vocabulary = list(terms)

    def delete(self, actor_id: UUID) -> None:
        if not self.deleted:
            self._record_deletion(actor_id=actor_id)

    @event(AccountDeleted)
    def _record_deletion(self, actor_id: UUID) -> None:
        self.deleted = True

    @event(RoleChanged)
    def change_role(self, role: str, reason: str) -> None:
        self.role = Role(role)
