"""The sign-in use cases: send a one-time code to a phone, and verify it."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import Mapper, RecordConflictError, Transcoder

from domain.errors import (
    CountryNotAllowedError,
    InvalidOtpError,
    InvalidPhoneNumberError,
    RateLimitedError,
    SmsDeliveryFailedError,
    SubjectErasedError,
    UserNotFoundError,
)
from domain.identity import NoLiveCodeError, OtpChallenge, OtpRules, Role, User
from domain.phone import normalise_mobile, phone_subject_id, region_of
from domain.ports import (
    Clock,
    SecretHasher,
    SmsBudget,
    SmsDeliveryError,
    SmsMessage,
    SmsSender,
)
from domain.sessions import Session

_T = TypeVar("_T")
MapperFactory = Callable[[Transcoder], Mapper[UUID]]

_CODE_DIGITS = 6
_VERIFY_TRIES = 5
_SEND_TRIES = 3
_CLIENT_TAG_HEX = 16  # 64 bits: plenty to tell a number's clients apart, useless to reverse
_MAX_GENERATIONS = 1000  # erased accounts per phone; far beyond any real use
_SMS_TEXT = "ovoz: tasdiqlash kodi {code}. Hech kimga bermang. / Your ovoz code: {code}"


@dataclass(frozen=True)
class CodeSent:
    """A code is on its way. ``expires_in`` and ``resend_after`` are in seconds."""

    phone: str
    expires_in: int
    resend_after: int


@dataclass(frozen=True)
class SignedIn:
    """A verified sign-in. ``position`` is the log position read models must reach."""

    user_id: UUID
    phone: str
    role: Role
    position: int


@dataclass(frozen=True)
class IdentityServices:
    """What the identity use cases need from the outside world.

    ``allowed_countries``: the ISO 3166 regions codes are texted to (None: any);
    ``sms_budget``: the hourly budgets every SMS is counted against (None: none).
    Test numbers (``test_codes``) are explicit configuration, refused in production:
    they are exempt from both.
    """

    clock: Clock
    hasher: SecretHasher
    sms: SmsSender
    phone_hmac_key: bytes
    rules: OtpRules
    default_region: str = "UZ"
    test_codes: Mapping[str, str] | None = None
    admin_phones: Iterable[str] = ()
    allowed_countries: frozenset[str] | None = None
    sms_budget: SmsBudget | None = None


class Identity(Application[UUID]):
    """Use cases of signing in with a code sent by SMS."""

    name = "identity"
    # A session gains an event at every refresh (every 15 minutes of use, for up to 90
    # days): a snapshot every 50 keeps loading one as cheap as loading a new one.
    snapshotting_intervals = {Session: 50}

    def __init__(
        self,
        services: IdentityServices,
        env: Mapping[str, str] | None = None,
        mapper_factory: MapperFactory | None = None,
    ) -> None:
        self._mapper_factory = mapper_factory
        self.services = services
        region = services.default_region
        self._test_codes = {
            normalise_mobile(p, region): c for p, c in (services.test_codes or {}).items()
        }
        self._admins = frozenset(normalise_mobile(p, region) for p in services.admin_phones)
        # A real hash of a random code: verifying against it costs what a real check costs,
        # so unknown numbers answer in the same time as known ones.
        self._decoy_hash = services.hasher.hash(_new_code())
        super().__init__(env)

    def construct_mapper(self) -> Mapper[UUID]:
        if self._mapper_factory is None:
            return super().construct_mapper()
        return self._mapper_factory(self.construct_transcoder())

    # -- use cases -----------------------------------------------------------------------

    def send_code(self, raw_phone: str, client: str | None = None) -> CodeSent:
        """Send a fresh code to ``raw_phone``, within the rate limits.

        ``client`` is the caller's network address (None when unknown): codes count per
        number and client, so that one client asking for codes cannot use up another's.

        A number outside the allowed countries is refused before anything is read or
        written. The SMS budgets (see :meth:`_open_code`) are spent only by a request
        that the number's own rules let through, so a refusal by the cooldown costs the
        client nothing.
        """
        s = self.services
        phone = normalise_mobile(raw_phone, s.default_region)
        test_code = self._test_codes.get(phone)
        if test_code is None:
            self._check_destination(phone)
        code = test_code or _new_code()
        budget = None if test_code is not None else s.sms_budget
        try:
            code_id = _retry_on_conflict(
                lambda: self._open_code(phone, code, client, budget), _SEND_TRIES
            )
        except RecordConflictError:
            # Other requests and guesses kept writing this number's challenge between our
            # read and our write: a burst, refused like a burst of guesses.
            raise RateLimitedError(1) from None
        try:
            s.sms.send(SmsMessage(to=phone, text=_SMS_TEXT.format(code=code), code=code))
        except SmsDeliveryError as e:
            self._cancel_code(phone, code_id)
            raise SmsDeliveryFailedError(str(e)) from e
        return CodeSent(
            phone=phone,
            expires_in=int(s.rules.code_ttl.total_seconds()),
            resend_after=int(s.rules.resend_cooldown.total_seconds()),
        )

    def verify_code(self, raw_phone: str, code: str, client: str | None = None) -> SignedIn:
        """Check ``code`` for ``raw_phone``; register the user on first success.

        ``client`` is the caller's network address (None when unknown): failures count
        per number and client, so that one client's guesses cannot lock out another.
        """
        try:
            phone = normalise_mobile(raw_phone, self.services.default_region)
            if phone not in self._test_codes:
                # No code can have gone there: answered as a number that never asked.
                self._check_destination(phone)
        except InvalidPhoneNumberError:
            self._spend_decoy_check(code)
            raise InvalidOtpError("invalid phone number") from None
        if not (len(code) == _CODE_DIGITS and code.isascii() and code.isdigit()):
            # Malformed codes are refused before any lookup and count as no attempt.
            raise InvalidOtpError("malformed code")
        # Verifications of one phone race on its challenge's next version: the losers
        # start again from the new state, so every wrong guess is counted and a correct
        # one that lost finds its code used. Past a few tries the burst is refused
        # without judging the guess at all.
        try:
            return _retry_on_conflict(lambda: self._verify_code(phone, code, client), _VERIFY_TRIES)
        except RecordConflictError:
            raise RateLimitedError(1) from None

    def get_user(self, user_id: UUID) -> User:
        try:
            user: User = self.repository.get(user_id)
        except (AggregateNotFoundError, SubjectErasedError):
            raise UserNotFoundError(str(user_id)) from None
        if not isinstance(user, User) or user.deleted:
            raise UserNotFoundError(str(user_id))
        return user

    def set_vocabulary(self, user_id: UUID, terms: list[str]) -> tuple[list[str], int]:
        """Replace the user's vocabulary. Returns the terms as kept and the log position
        to wait for (0 when nothing changed). Raises InvalidVocabularyError. Two at once:
        the later save reads again and wins (the list is replaced, never merged)."""

        def replace() -> tuple[list[str], int]:
            user = self.get_user(user_id)
            user.set_vocabulary(terms)
            if not user.pending_events:
                return user.vocabulary, 0
            recordings = self.save(user)
            return user.vocabulary, max(r.notification.id for r in recordings)

        return _retry_on_conflict(replace, 5)

    def delete_account(self, user_id: UUID, actor_id: UUID) -> tuple[list[UUID], int]:
        """Record AccountDeleted. Returns the subjects whose keys must now be destroyed
        (the user and their OTP challenge) and the log position of the deletion."""
        user = self.get_user(user_id)
        user.delete(actor_id)
        recordings = self.save(user)
        position = max(r.notification.id for r in recordings)
        return [user.id, user.challenge_id], position

    # -- internals -----------------------------------------------------------------------

    def _check_destination(self, phone: str) -> None:
        allowed = self.services.allowed_countries
        if allowed is None:
            return
        region = region_of(phone)
        if region not in allowed:
            raise CountryNotAllowedError(region, tuple(sorted(allowed)))

    def _open_code(
        self, phone: str, code: str, client: str | None, budget: SmsBudget | None
    ) -> UUID:
        """Record a fresh code for ``phone``, its SMS counted against ``budget``.

        The number's rules judge first: a request they refuse (cooldown, the client's or
        the number's hourly codes) spends no budget, so nobody's IP or range budget is
        used up by asks that never become an SMS. The budget is spent before the code is
        saved, so a request it refuses leaves no trace in the log either; a code that is
        then not saved (a concurrent request won the challenge) gives its SMS back.
        An SMS the gateway fails to deliver is *not* given back: a timed-out send may
        still have gone out and been billed, and an outage must not let a flood through
        faster once it ends.
        """
        s = self.services
        now = s.clock.now()
        challenge = self._challenge_for(phone)
        tag = client_tag(s.phone_hmac_key, challenge.id, client)
        code_id = challenge.request_code(code, s.hasher, now, s.rules, tag)
        spent = budget.spend(client, phone, now) if budget is not None else None
        try:
            self.save(challenge)
        except Exception:
            if budget is not None and spent is not None:
                budget.refund(spent)
            raise
        return code_id

    def _cancel_code(self, phone: str, code_id: UUID) -> None:
        """The code was never delivered: make sure it can never be used. Should every try
        conflict, the code stays unusable in practice (nobody has it) until it expires."""

        def cancel() -> None:
            challenge = self._existing_challenge_for(phone)
            if challenge is not None:
                challenge.cancel_code(code_id)
                self.save(challenge)

        with contextlib.suppress(RecordConflictError):
            _retry_on_conflict(cancel, _VERIFY_TRIES)

    def _verify_code(self, phone: str, code: str, client: str | None) -> SignedIn:
        s = self.services
        now = s.clock.now()
        challenge = self._existing_challenge_for(phone)
        if challenge is None:
            self._spend_decoy_check(code)
            raise InvalidOtpError("no challenge")
        tag = client_tag(s.phone_hmac_key, challenge.id, client)
        try:
            code_id = challenge.judge(code, tag, now, s.rules, s.hasher)
        except NoLiveCodeError:
            self._spend_decoy_check(code)
            raise
        if code_id is None:
            self.save(challenge)  # a conflict: verify_code starts again and counts it
            raise InvalidOtpError("wrong code")
        user = self._user_for(challenge, phone)
        challenge.sign_in(code_id, user.id, tag, now)
        # One transaction: of two concurrent verifications of one code exactly one saves
        # version n+1 of the challenge; the other conflicts and, starting again, finds
        # the code used.
        recordings = self.save(challenge, user)
        position = max((r.notification.id for r in recordings), default=0)
        return SignedIn(user_id=user.id, phone=phone, role=user.role, position=position)

    def _user_for(self, challenge: OtpChallenge, phone: str) -> User:
        role = Role.ADMIN if phone in self._admins else Role.USER
        if challenge.user_id is None:
            return User(phone=phone, role=role.value, challenge_id=challenge.id)
        user = self.get_user(challenge.user_id)
        if user.role != role:
            user.change_role(role.value, reason="ADMIN_PHONE_NUMBERS changed")
        return user

    def _spend_decoy_check(self, code: str) -> None:
        self.services.hasher.verify(self._decoy_hash, code)

    def _challenge_for(self, phone: str) -> OtpChallenge:
        challenge = self._existing_challenge_for(phone)
        if challenge is not None:
            return challenge
        return OtpChallenge(id=self._free_challenge_id(phone))

    def _existing_challenge_for(self, phone: str) -> OtpChallenge | None:
        """The live challenge of ``phone``. After an account is erased its challenge can no
        longer be read, so the phone moves on to the next id in a derived sequence."""
        for generation in range(_MAX_GENERATIONS):
            challenge_id = self._challenge_id(phone, generation)
            try:
                challenge: OtpChallenge = self.repository.get(challenge_id)
            except AggregateNotFoundError:
                return None
            except SubjectErasedError:
                continue
            assert isinstance(challenge, OtpChallenge)
            return challenge
        raise RuntimeError("too many erased generations for one phone")

    def _free_challenge_id(self, phone: str) -> UUID:
        for generation in range(_MAX_GENERATIONS):
            challenge_id = self._challenge_id(phone, generation)
            try:
                self.repository.get(challenge_id)
            except AggregateNotFoundError:
                return challenge_id
            except SubjectErasedError:
                continue
        raise RuntimeError("too many erased generations for one phone")

    def _challenge_id(self, phone: str, generation: int) -> UUID:
        purpose = "otp" if generation == 0 else f"otp/{generation}"
        return phone_subject_id(self.services.phone_hmac_key, purpose, phone)


def client_tag(key: bytes, challenge_id: UUID, address: str | None) -> str | None:
    """The short keyed hash a challenge knows a client by; None for an unknown client.

    Keyed and salted with the challenge, so that stored events hold no address and the
    same address cannot be followed from one number to another. An IPv6 client counts
    by its /64 network: one subscriber is routinely given a whole /64.
    """
    if not address:
        return None
    digest = hmac.new(
        key, b"otp-client\x00" + challenge_id.bytes + client_network(address), hashlib.sha256
    )
    return digest.hexdigest()[:_CLIENT_TAG_HEX]


def client_network(address: str) -> bytes:
    """The network a client address counts as: IPv4 by address, IPv6 by /64 (an
    IPv4-mapped address as its IPv4), anything else (a test client, a socket path) by
    its text."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:  # not an IP: a test client, a socket path
        return b"name\x00" + address.encode("utf-8", "replace")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if isinstance(ip, ipaddress.IPv6Address):
        return b"ipv6\x00" + ip.packed[:8]
    return b"ipv4\x00" + ip.packed


def _new_code() -> str:
    return f"{secrets.randbelow(10**_CODE_DIGITS):0{_CODE_DIGITS}d}"


def _retry_on_conflict(action: Callable[[], _T], attempts: int = 3) -> _T:
    for attempt in range(attempts):
        try:
            return action()
        except RecordConflictError:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
