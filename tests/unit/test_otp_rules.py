"""Every one-time-code rule of the sign-in, on the real ``Identity`` application.

Persistence is eventsourcing's in-memory (POPO) recorder; the hasher is the real argon2id
one; only the clock and the SMS gateway are fakes. No I/O.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from eventsourcing.persistence import ApplicationRecorder

from domain.errors import (
    InvalidOtpError,
    InvalidPhoneNumberError,
    RateLimitedError,
    SmsDeliveryFailedError,
)
from domain.identity import OtpChallenge, OtpRules, Role, User
from domain.ports import SmsMessage
from domain.signin import Identity, IdentityServices, client_tag
from infrastructure.hashing import Argon2Hasher
from tests.conftest import FakeClock, RecordingSms

PEPPER = b"unit-test-pepper-" + b"p" * 32
HMAC_KEY = b"unit-test-phone-hmac-key-" + b"k" * 32
PHONE = "+998901234567"
OTHER_PHONE = "+998911112233"
OWNER = "198.51.100.20"  # the caller's network addresses, as the API sees them
STRANGER = "203.0.113.7"
POPO_ENV = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class CountingHasher(Argon2Hasher):
    """The real argon2id hasher, counting how often it is used."""

    def __init__(self, pepper: bytes) -> None:
        super().__init__(pepper)
        self.hashes = 0
        self.verifies = 0

    def hash(self, secret: str) -> str:
        self.hashes += 1
        return super().hash(secret)

    def verify(self, encoded: str, secret: str) -> bool:
        self.verifies += 1
        return super().verify(encoded, secret)


class AttemptRecordingSms(RecordingSms):
    """Also keeps the messages it was asked to send but refused."""

    def __init__(self) -> None:
        super().__init__()
        self.attempted: list[SmsMessage] = []

    def send(self, message: SmsMessage) -> None:
        self.attempted.append(message)
        super().send(message)


class SharedRecorderIdentity(Identity):
    """An Identity that stores into a recorder it is given (a second process, same log)."""

    def __init__(self, services: IdentityServices, recorder: ApplicationRecorder) -> None:
        self._shared_recorder = recorder
        super().__init__(services, env=POPO_ENV)

    def construct_recorder(self) -> ApplicationRecorder:
        return self._shared_recorder


def services(
    clock: FakeClock,
    sms: RecordingSms,
    *,
    hasher: Argon2Hasher | None = None,
    rules: OtpRules | None = None,
    test_codes: Mapping[str, str] | None = None,
    admin_phones: Iterable[str] = (),
) -> IdentityServices:
    return IdentityServices(
        clock=clock,
        hasher=hasher or Argon2Hasher(PEPPER),
        sms=sms,
        phone_hmac_key=HMAC_KEY,
        rules=rules or OtpRules(),
        test_codes=test_codes,
        admin_phones=admin_phones,
    )


def make_identity(clock: FakeClock, sms: RecordingSms, **kwargs: Any) -> Identity:
    return Identity(services(clock, sms, **kwargs), env=POPO_ENV)


def wrong(code: str) -> str:
    """A well-formed code that is certainly not ``code``."""
    return f"{(int(code) + 1) % 10**6:06d}"


def guess_wrong(app: Identity, sms: RecordingSms, client: str, times: int) -> None:
    """``times`` wrong guesses at the last code sent, each refused as InvalidOtp."""
    for _ in range(times):
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, wrong(sms.last_code()), client=client)


def position(app: Identity) -> int:
    return app.recorder.max_notification_id() or 0


def stored_events(app: Identity) -> list[Any]:
    notifications = app.recorder.select_notifications(start=1, limit=10_000)
    return [app.mapper.to_domain_event(n) for n in notifications]


def stored_topics(app: Identity) -> list[str]:
    return [n.topic for n in app.recorder.select_notifications(start=1, limit=10_000)]


def challenge_of(app: Identity, phone: str) -> OtpChallenge:
    challenge = app._existing_challenge_for(phone)
    assert challenge is not None
    return challenge


@pytest.fixture
def app(clock: FakeClock, sms: RecordingSms) -> Identity:
    return make_identity(clock, sms)


# -- the codes ---------------------------------------------------------------------------


def test_code_is_six_ascii_digits_and_travels_in_the_sms_text(
    app: Identity, sms: RecordingSms
) -> None:
    sent = app.send_code(PHONE)
    assert sent.phone == PHONE
    assert sent.expires_in == 300
    assert sent.resend_after == 60
    [message] = sms.sent
    assert message.to == PHONE
    assert re.fullmatch(r"[0-9]{6}", message.code or "")
    assert message.code is not None
    assert message.code in message.text


def test_code_keeps_leading_zeros(
    app: Identity, sms: RecordingSms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("domain.signin.secrets.randbelow", lambda _n: 42)
    app.send_code(PHONE)
    assert sms.last_code() == "000042"
    assert app.verify_code(PHONE, "000042").phone == PHONE


def test_codes_for_different_sends_differ(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    codes = set()
    for _ in range(4):
        app.send_code(PHONE)
        codes.add(sms.last_code())
        clock.advance(61)
    # Four random 6-digit codes collide with probability ~6e-6.
    assert len(codes) == 4


def test_right_code_signs_in_and_registers_a_user(app: Identity, sms: RecordingSms) -> None:
    app.send_code(PHONE)
    signed_in = app.verify_code(PHONE, sms.last_code())
    assert signed_in.phone == PHONE
    assert signed_in.role is Role.USER
    assert signed_in.position == position(app)
    user = app.get_user(signed_in.user_id)
    assert isinstance(user, User)
    assert user.phone == PHONE
    assert any(t.endswith("UserRegistered") for t in stored_topics(app))


def test_second_sign_in_reuses_the_same_user(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    first = app.verify_code(PHONE, sms.last_code())
    clock.advance(61)
    app.send_code(PHONE)
    second = app.verify_code(PHONE, sms.last_code())
    assert second.user_id == first.user_id
    assert sum(t.endswith("UserRegistered") for t in stored_topics(app)) == 1


# -- expiry ------------------------------------------------------------------------------


def test_code_is_valid_until_just_before_five_minutes(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    clock.advance(299)
    assert app.verify_code(PHONE, sms.last_code()).phone == PHONE


def test_expired_code_is_refused(clock: FakeClock, app: Identity, sms: RecordingSms) -> None:
    app.send_code(PHONE)
    clock.advance(300)
    with pytest.raises(InvalidOtpError):
        app.verify_code(PHONE, sms.last_code())


def test_code_ttl_is_configurable(clock: FakeClock, sms: RecordingSms) -> None:
    app = make_identity(clock, sms, rules=OtpRules(code_ttl=timedelta(seconds=30)))
    app.send_code(PHONE)
    clock.advance(30)
    with pytest.raises(InvalidOtpError):
        app.verify_code(PHONE, sms.last_code())


# -- single use --------------------------------------------------------------------------


def test_code_cannot_be_used_twice(app: Identity, sms: RecordingSms) -> None:
    app.send_code(PHONE)
    code = sms.last_code()
    app.verify_code(PHONE, code)
    with pytest.raises(InvalidOtpError):
        app.verify_code(PHONE, code)


def test_new_code_replaces_the_previous_one(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    first = sms.last_code()
    clock.advance(60)
    app.send_code(PHONE)
    second = sms.last_code()
    if first != second:
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, first)
    assert app.verify_code(PHONE, second).phone == PHONE


# -- wrong tries -------------------------------------------------------------------------


def test_four_wrong_tries_then_right_code_still_works(app: Identity, sms: RecordingSms) -> None:
    app.send_code(PHONE)
    code = sms.last_code()
    for _ in range(4):
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, wrong(code))
    assert app.verify_code(PHONE, code).phone == PHONE


def test_each_wrong_try_is_recorded_as_otp_attempt_failed(app: Identity, sms: RecordingSms) -> None:
    app.send_code(PHONE)
    for _ in range(3):
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, wrong(sms.last_code()))
    assert sum(t.endswith("OtpAttemptFailed") for t in stored_topics(app)) == 3


def test_after_five_wrong_tries_even_the_right_code_is_refused(
    app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    code = sms.last_code()
    for _ in range(5):
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, wrong(code))
    with pytest.raises((InvalidOtpError, RateLimitedError)):
        app.verify_code(PHONE, code)


def test_code_dead_after_five_wrong_tries_stays_dead_when_lockout_lifts(
    clock: FakeClock, sms: RecordingSms
) -> None:
    # A short failure window separates the per-code rule from the per-phone lockout.
    rules = OtpRules(failure_window=timedelta(seconds=10))
    app = make_identity(clock, sms, rules=rules)
    app.send_code(PHONE)
    code = sms.last_code()
    for _ in range(5):
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, wrong(code))
    clock.advance(11)  # the lockout is over; the code's 5 minutes are not
    with pytest.raises(InvalidOtpError):
        app.verify_code(PHONE, code)


def test_five_wrong_tries_lock_that_client_out_of_the_number_with_retry_after(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    code = sms.last_code()
    for _ in range(5):
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, wrong(code), client=STRANGER)
    clock.advance(100)
    with pytest.raises(RateLimitedError) as locked:
        app.verify_code(PHONE, code, client=STRANGER)
    assert locked.value.retry_after_seconds == 3600 - 100
    # Asking for a code is limited on its own, not by anyone's failures...
    app.send_code(PHONE)
    # ...but the locked-out client cannot use it, even when it has it.
    with pytest.raises(RateLimitedError):
        app.verify_code(PHONE, sms.last_code(), client=STRANGER)


def test_a_fresh_code_does_not_reset_a_clients_failures(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    guess_wrong(app, sms, OWNER, 3)
    clock.advance(60)
    app.send_code(PHONE)
    second = sms.last_code()
    for _ in range(2):
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, wrong(second), client=OWNER)
    # Five failures of this client across two codes: even the right second code is refused
    # until the first of them leaves the window.
    clock.advance(60)
    with pytest.raises(RateLimitedError) as locked:
        app.verify_code(PHONE, second, client=OWNER)
    assert locked.value.retry_after_seconds == 3600 - 120
    clock.advance(3600 - 120)
    app.send_code(PHONE)
    assert app.verify_code(PHONE, sms.last_code(), client=OWNER).phone == PHONE


def test_successful_sign_in_clears_earlier_failures(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    for _ in range(4):
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, wrong(sms.last_code()))
    app.verify_code(PHONE, sms.last_code())
    clock.advance(60)
    app.send_code(PHONE)
    with pytest.raises(InvalidOtpError):  # one failure, not the fifth: no lockout
        app.verify_code(PHONE, wrong(sms.last_code()))
    assert app.verify_code(PHONE, sms.last_code()).phone == PHONE


def test_failures_on_one_phone_do_not_lock_another(app: Identity, sms: RecordingSms) -> None:
    app.send_code(PHONE)
    for _ in range(5):
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, wrong(sms.last_code()))
    app.send_code(OTHER_PHONE)
    assert app.verify_code(OTHER_PHONE, sms.last_code()).phone == OTHER_PHONE


# -- a stranger's guesses: no lock-out of the owner, no brute force ----------------------


def test_a_strangers_wrong_guesses_do_not_lock_the_owner_out(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)  # anyone may ask for a code to any number
    guess_wrong(app, sms, STRANGER, 5)
    with pytest.raises(RateLimitedError):
        app.verify_code(PHONE, sms.last_code(), client=STRANGER)
    # The stranger killed that code; the owner is told so, not locked out...
    with pytest.raises(InvalidOtpError) as dead:
        app.verify_code(PHONE, sms.last_code(), client=OWNER)
    assert not isinstance(dead.value, RateLimitedError)
    # ...asks for a fresh one (with a fresh budget of guesses) and signs in.
    clock.advance(60)
    app.send_code(PHONE)
    with pytest.raises(InvalidOtpError):
        app.verify_code(PHONE, wrong(sms.last_code()), client=OWNER)  # one typo
    assert app.verify_code(PHONE, sms.last_code(), client=OWNER).phone == PHONE


def test_a_client_gets_five_guesses_at_a_number_per_window_across_codes(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    guess_wrong(app, sms, STRANGER, 5)
    for _ in range(4):  # the stranger asks for fresh codes: they do not help it
        clock.advance(60)
        app.send_code(PHONE)
        before = position(app)
        with pytest.raises(RateLimitedError):
            app.verify_code(PHONE, sms.last_code(), client=STRANGER)
        assert position(app) == before  # refused unjudged: no attempt recorded
    assert sum(t.endswith("OtpAttemptFailed") for t in stored_topics(app)) == 5


def test_a_code_dies_after_five_wrong_guesses_from_any_clients(
    app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    code = sms.last_code()
    for n in range(5):
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, wrong(code), client=f"203.0.113.{n}")
    for n in range(5, 10):  # more clients: the code is dead, their guesses are not judged
        before = position(app)
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, code, client=f"203.0.113.{n}")
        assert position(app) == before
    assert sum(t.endswith("OtpAttemptFailed") for t in stored_topics(app)) == 5


def test_consecutive_failures_from_many_clients_lock_the_number(
    clock: FakeClock, sms: RecordingSms
) -> None:
    """The NIST ceiling, scaled down: with ceiling 15 three clients reach it (the default,
    100, takes at least 20)."""
    app = make_identity(clock, sms, rules=OtpRules(max_consecutive_failures=15))
    for n in range(3):
        app.send_code(PHONE)
        for _ in range(5):
            with pytest.raises(InvalidOtpError):
                app.verify_code(PHONE, wrong(sms.last_code()), client=f"203.0.113.{n}")
        clock.advance(100)
    # Now the number itself is locked, for every client, the owner too...
    with pytest.raises(RateLimitedError) as locked:
        app.verify_code(PHONE, "123456", client=OWNER)
    assert locked.value.retry_after_seconds == 3600 - 100
    with pytest.raises(RateLimitedError):  # ...and no code can be sent it: none could work
        app.send_code(PHONE)
    clock.advance(3600 - 100)
    app.send_code(PHONE)
    with pytest.raises(InvalidOtpError):  # the streak starts again: one failure locks nothing
        app.verify_code(PHONE, wrong(sms.last_code()), client="203.0.113.99")
    assert app.verify_code(PHONE, sms.last_code(), client=OWNER).phone == PHONE


def test_a_sign_in_ends_the_streak_of_consecutive_failures(
    clock: FakeClock, sms: RecordingSms
) -> None:
    app = make_identity(clock, sms, rules=OtpRules(max_consecutive_failures=6))
    app.send_code(PHONE)
    for n in range(5):
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, wrong(sms.last_code()), client=f"203.0.113.{n}")
    clock.advance(60)
    app.send_code(PHONE)
    app.verify_code(PHONE, sms.last_code(), client=OWNER)
    clock.advance(60)
    app.send_code(PHONE)
    for n in range(5, 10):  # five more, ten in all, but never six in a row
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, wrong(sms.last_code()), client=f"203.0.113.{n}")
    clock.advance(60)
    app.send_code(PHONE)
    assert app.verify_code(PHONE, sms.last_code(), client=OWNER).phone == PHONE


def test_the_owners_sign_in_does_not_forgive_a_strangers_failures(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    guess_wrong(app, sms, STRANGER, 5)
    clock.advance(60)
    app.send_code(PHONE)
    app.verify_code(PHONE, sms.last_code(), client=OWNER)
    clock.advance(60)
    app.send_code(PHONE)
    with pytest.raises(RateLimitedError):
        app.verify_code(PHONE, sms.last_code(), client=STRANGER)


def test_a_locked_out_client_may_still_guess_at_other_numbers(
    app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    guess_wrong(app, sms, STRANGER, 5)
    app.send_code(OTHER_PHONE)
    assert app.verify_code(OTHER_PHONE, sms.last_code(), client=STRANGER).phone == OTHER_PHONE


def test_an_ipv6_client_counts_by_its_64_network(app: Identity, sms: RecordingSms) -> None:
    """One subscriber is handed a whole /64: new addresses in it are the same client."""
    app.send_code(PHONE)
    for n in range(5):
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, wrong(sms.last_code()), client=f"2001:db8:1:2::{n + 1:x}")
    with pytest.raises(RateLimitedError):
        app.verify_code(PHONE, sms.last_code(), client="2001:db8:1:2:ffff::9")
    with pytest.raises(InvalidOtpError):  # another /64 is another client (the code is dead)
        app.verify_code(PHONE, sms.last_code(), client="2001:db8:1:3::1")


def test_client_tags_are_keyed_short_and_per_number() -> None:
    one, two = uuid.uuid4(), uuid.uuid4()
    tag = client_tag(HMAC_KEY, one, STRANGER)
    assert tag is not None
    assert re.fullmatch(r"[0-9a-f]{16}", tag)
    assert tag != client_tag(HMAC_KEY, two, STRANGER)  # not followable across numbers
    assert tag != client_tag(b"another-key-" + b"k" * 32, one, STRANGER)
    assert tag != client_tag(HMAC_KEY, one, OWNER)
    assert client_tag(HMAC_KEY, one, f"::ffff:{STRANGER}") == tag  # IPv4-mapped is IPv4
    assert client_tag(HMAC_KEY, one, "2001:db8::1") == client_tag(HMAC_KEY, one, "2001:db8::2")
    assert client_tag(HMAC_KEY, one, None) is None


def test_failed_attempts_store_a_client_tag_never_the_address(
    app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    with pytest.raises(InvalidOtpError):
        app.verify_code(PHONE, wrong(sms.last_code()), client=STRANGER)
    notifications = app.recorder.select_notifications(start=1, limit=100)
    [failed] = [n for n in notifications if n.topic.endswith("OtpAttemptFailed")]
    assert STRANGER.encode() not in failed.state
    assert bytes(ipaddress.ip_address(STRANGER).packed).hex().encode() not in failed.state
    event: Any = app.mapper.to_domain_event(failed)  # OtpAttemptFailed, made by @event
    assert event.client == client_tag(HMAC_KEY, challenge_of(app, PHONE).id, STRANGER)


def test_failures_stored_before_clients_were_counted_still_load_as_one_unknown_client(
    app: Identity, sms: RecordingSms
) -> None:
    """OtpAttemptFailed events stored before ``client`` existed have no such field."""
    app.send_code(PHONE)
    challenge = challenge_of(app, PHONE)
    assert challenge.code_id is not None
    for _ in range(5):
        challenge._record_failure(
            challenge_id=challenge.code_id, at=app.services.clock.now(), max_failures=5
        )
    old_shape = []
    for domain_event in challenge.collect_events():
        stored = app.mapper.to_stored_event(domain_event)
        state = app.mapper.transcoder.decode(stored.state)
        state.pop("client")
        old_shape.append(replace(stored, state=app.mapper.transcoder.encode(state)))
    app.recorder.insert_events(old_shape)

    reloaded = challenge_of(app, PHONE)
    assert reloaded.failures[-1][1] is None
    assert reloaded.code_hash is None  # five failures killed the code, as they always did
    clock_now = app.services.clock.now()
    assert reloaded.failure_streak == 5
    with pytest.raises(RateLimitedError):  # the unknown client had five failures...
        reloaded.judge("123456", None, clock_now, app.services.rules, app.services.hasher)
    with pytest.raises(InvalidOtpError):  # ...a known one has none (and the code is dead)
        app.verify_code(PHONE, sms.last_code(), client=OWNER)


# -- resend cooldown and hourly limit ----------------------------------------------------


def test_resend_within_cooldown_is_rate_limited_with_remaining_seconds(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    clock.advance(30)
    with pytest.raises(RateLimitedError) as limited:
        app.send_code(PHONE)
    assert limited.value.retry_after_seconds == 30
    assert len(sms.sent) == 1


def test_resend_cooldown_rounds_remaining_time_up(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    clock.advance(59.5)
    with pytest.raises(RateLimitedError) as limited:
        app.send_code(PHONE)
    assert limited.value.retry_after_seconds == 1


def test_resend_allowed_once_cooldown_has_passed(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    clock.advance(60)
    app.send_code(PHONE)
    assert len(sms.sent) == 2


def test_rate_limited_resend_keeps_the_live_code_usable(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    clock.advance(10)
    with pytest.raises(RateLimitedError):
        app.send_code(PHONE)
    assert app.verify_code(PHONE, sms.last_code()).phone == PHONE


def test_resend_cooldown_is_configurable(clock: FakeClock, sms: RecordingSms) -> None:
    app = make_identity(clock, sms, rules=OtpRules(resend_cooldown=timedelta(seconds=120)))
    app.send_code(PHONE)
    clock.advance(90)
    with pytest.raises(RateLimitedError) as limited:
        app.send_code(PHONE)
    assert limited.value.retry_after_seconds == 30


def test_at_most_five_codes_per_phone_per_hour(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    for _ in range(5):
        app.send_code(PHONE)
        clock.advance(60)
    # now = start + 300 s; the oldest of the five was sent at start.
    with pytest.raises(RateLimitedError) as limited:
        app.send_code(PHONE)
    assert limited.value.retry_after_seconds == 3600 - 300
    assert len(sms.sent) == 5
    app.send_code(OTHER_PHONE)  # the limit is per phone
    clock.advance(3600 - 300)
    app.send_code(PHONE)
    assert sms.sent[-1].to == PHONE


def test_hourly_code_limit_is_configurable(clock: FakeClock, sms: RecordingSms) -> None:
    app = make_identity(clock, sms, rules=OtpRules(max_codes_per_hour=2))
    app.send_code(PHONE)
    clock.advance(60)
    app.send_code(PHONE)
    clock.advance(60)
    with pytest.raises(RateLimitedError):
        app.send_code(PHONE)


def _stranger_burns_the_hours_codes(app: Identity, clock: FakeClock, sms: RecordingSms) -> None:
    """The reviewer's attack: one address asks for its 5 codes of the hour at the owner's
    number and kills the last one with 5 wrong guesses."""
    for _ in range(5):
        app.send_code(PHONE, client=STRANGER)
        clock.advance(60)
    for delta in range(1, 6):
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, f"{(int(sms.last_code()) + delta) % 10**6:06d}", STRANGER)


def test_a_stranger_who_spends_its_codes_and_kills_the_last_leaves_the_owner_a_fresh_one(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    _stranger_burns_the_hours_codes(app, clock, sms)
    with pytest.raises(RateLimitedError):  # the stranger has spent its hour at this number
        app.send_code(PHONE, client=STRANGER)
    app.send_code(PHONE, client=OWNER)
    assert app.verify_code(PHONE, sms.last_code(), client=OWNER).phone == PHONE


def test_one_client_gets_five_codes_an_hour_at_a_number_with_retry_after(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    for _ in range(5):
        app.send_code(PHONE, client=STRANGER)
        clock.advance(60)
    with pytest.raises(RateLimitedError) as limited:
        app.send_code(PHONE, client=STRANGER)
    assert limited.value.retry_after_seconds == 3600 - 300
    with pytest.raises(RateLimitedError):  # another address in the same /32 is the same client
        app.send_code(PHONE, client=f"::ffff:{STRANGER}")
    app.send_code(OTHER_PHONE, client=STRANGER)  # the budget is per number
    clock.advance(3600 - 300)
    app.send_code(PHONE, client=STRANGER)
    assert len([m for m in sms.sent if m.to == PHONE]) == 6


def test_a_number_receives_at_most_its_ceiling_of_codes_an_hour_from_all_clients(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    for n in range(20):  # four addresses' budgets, or twenty addresses' single codes
        app.send_code(PHONE, client=f"203.0.113.{n}")
        clock.advance(60)
    # now = start + 1200 s; the oldest of the twenty was sent at start.
    with pytest.raises(RateLimitedError) as limited:
        app.send_code(PHONE, client=OWNER)
    assert limited.value.retry_after_seconds == 3600 - 1200
    assert len(sms.sent) == 20
    clock.advance(3600 - 1200)
    app.send_code(PHONE, client=OWNER)
    assert app.verify_code(PHONE, sms.last_code(), client=OWNER).phone == PHONE


def test_the_number_ceiling_is_configurable(clock: FakeClock, sms: RecordingSms) -> None:
    rules = OtpRules(max_codes_per_hour=1, max_codes_per_number_per_hour=2)
    app = make_identity(clock, sms, rules=rules)
    app.send_code(PHONE, client=STRANGER)
    clock.advance(60)
    with pytest.raises(RateLimitedError):
        app.send_code(PHONE, client=STRANGER)
    app.send_code(PHONE, client=OWNER)
    clock.advance(60)
    with pytest.raises(RateLimitedError):
        app.send_code(PHONE, client="192.0.2.1")


def test_the_resend_cooldown_is_per_number_and_the_strangers_code_reaches_the_owner(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    """The cooldown bounds the SMS rate for everyone; it costs the owner nothing, since the
    code a stranger asked for went to the owner's phone."""
    app.send_code(PHONE, client=STRANGER)
    clock.advance(10)
    with pytest.raises(RateLimitedError) as limited:
        app.send_code(PHONE, client=OWNER)
    assert limited.value.retry_after_seconds == 50
    [message] = sms.sent
    assert message.to == PHONE
    assert app.verify_code(PHONE, sms.last_code(), client=OWNER).phone == PHONE


def test_code_requests_store_a_client_tag_never_the_address(
    app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE, client=STRANGER)
    notifications = app.recorder.select_notifications(start=1, limit=100)
    [requested] = [n for n in notifications if n.topic.endswith("OtpRequested")]
    assert STRANGER.encode() not in requested.state
    event: Any = app.mapper.to_domain_event(requested)  # OtpRequested, made by @event
    assert event.client == client_tag(HMAC_KEY, challenge_of(app, PHONE).id, STRANGER)


def test_code_requests_stored_before_clients_were_counted_still_load_as_one_unknown_client(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    """OtpRequested events stored before ``client`` existed have no such field."""
    challenge = app._challenge_for(PHONE)
    for _ in range(5):
        challenge.request_code("123456", app.services.hasher, clock.now(), app.services.rules)
        clock.advance(60)
    old_shape = []
    for domain_event in challenge.collect_events():
        stored = app.mapper.to_stored_event(domain_event)
        state = app.mapper.transcoder.decode(stored.state)
        state.pop("client", None)  # the ChallengeOpened event has none to drop
        old_shape.append(replace(stored, state=app.mapper.transcoder.encode(state)))
    app.recorder.insert_events(old_shape)

    reloaded = challenge_of(app, PHONE)
    assert [c for _, c in reloaded.requests] == [None] * 5
    assert app.verify_code(PHONE, "123456", client=OWNER).phone == PHONE  # the code is live
    clock.advance(60)
    with pytest.raises(RateLimitedError):  # the unknown client has had its five...
        app.send_code(PHONE)
    app.send_code(PHONE, client=OWNER)  # ...a known one has had none


# -- SMS delivery failure ----------------------------------------------------------------


def test_failed_sms_raises_and_leaves_no_usable_code(clock: FakeClock) -> None:
    sms = AttemptRecordingSms()
    app = make_identity(clock, sms)
    sms.fail_next = True
    with pytest.raises(SmsDeliveryFailedError):
        app.send_code(PHONE)
    assert sms.sent == []
    [refused] = sms.attempted
    assert refused.code is not None
    with pytest.raises(InvalidOtpError):
        app.verify_code(PHONE, refused.code)
    assert any(t.endswith("OtpDeliveryFailed") for t in stored_topics(app))


def test_failed_sms_kills_code_even_if_it_was_reused_later(clock: FakeClock) -> None:
    """The undelivered code stays dead after a later successful send."""
    sms = AttemptRecordingSms()
    app = make_identity(clock, sms)
    sms.fail_next = True
    with pytest.raises(SmsDeliveryFailedError):
        app.send_code(PHONE)
    refused = sms.attempted[0].code
    assert refused is not None
    clock.advance(60)
    app.send_code(PHONE)
    delivered = sms.last_code()
    if delivered != refused:
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, refused)
    assert app.verify_code(PHONE, delivered).phone == PHONE


# -- what is stored ----------------------------------------------------------------------


def test_only_an_argon2id_hash_of_the_code_is_stored(app: Identity, sms: RecordingSms) -> None:
    app.send_code(PHONE)
    code = sms.last_code()
    notifications = app.recorder.select_notifications(start=1, limit=100)
    requested = [n for n in notifications if n.topic.endswith("OtpRequested")]
    assert len(requested) == 1
    standalone_code = re.compile(rb"(?<![0-9A-Za-z.])" + code.encode() + rb"(?![0-9A-Za-z])")
    for notification in notifications:
        assert not standalone_code.search(notification.state), notification.topic
    event: Any = app.mapper.to_domain_event(requested[0])  # OtpRequested, made by @event
    assert event.code_hash.startswith("$argon2id$")
    assert app.services.hasher.verify(event.code_hash, code)
    for name, value in vars(event).items():
        assert value != code, name
    challenge = challenge_of(app, PHONE)
    assert challenge.code_hash == event.code_hash
    for name, value in vars(challenge).items():
        assert value != code, name
        assert not (isinstance(value, str) and standalone_code.search(value.encode())), name


def test_hash_is_peppered(app: Identity, sms: RecordingSms) -> None:
    app.send_code(PHONE)
    code_hash = challenge_of(app, PHONE).code_hash
    assert code_hash is not None
    assert app.services.hasher.verify(code_hash, sms.last_code())
    assert not Argon2Hasher(b"another-pepper-" + b"x" * 32).verify(code_hash, sms.last_code())


def test_stored_events_and_ids_do_not_contain_the_phone_number(
    app: Identity, sms: RecordingSms
) -> None:
    app.send_code(PHONE)
    app.verify_code(PHONE, sms.last_code())
    digits = PHONE.lstrip("+")
    for notification in app.recorder.select_notifications(start=1, limit=100):
        assert digits not in notification.topic
        assert digits not in str(notification.originator_id)
        assert digits not in uuid.UUID(str(notification.originator_id)).hex
        if not notification.topic.endswith("UserRegistered"):
            assert digits.encode() not in notification.state, notification.topic


# -- phone numbers -----------------------------------------------------------------------


def test_local_and_international_forms_reach_the_same_challenge(
    clock: FakeClock, app: Identity, sms: RecordingSms
) -> None:
    app.send_code("901234567")
    assert sms.sent[-1].to == PHONE
    with pytest.raises(RateLimitedError):
        app.send_code("+998 90 123 45 67")
    assert app.verify_code("+998 90 123 45 67", sms.last_code()).phone == PHONE


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "+99890123456",  # one digit short
        "+998712345678",  # Tashkent landline, not a mobile
        "+998 55 123 45 67",  # unassigned range
        "+998 90 123 45 67 " * 3,  # too long
    ],
)
def test_invalid_number_is_refused_on_send_and_changes_nothing(
    app: Identity, sms: RecordingSms, raw: str
) -> None:
    before = position(app)
    with pytest.raises(InvalidPhoneNumberError):
        app.send_code(raw)
    assert position(app) == before
    assert sms.sent == []


def test_invalid_number_on_verify_is_invalid_otp(app: Identity) -> None:
    before = position(app)
    with pytest.raises(InvalidOtpError):
        app.verify_code("+998712345678", "123456")
    assert position(app) == before


# -- malformed codes and unknown numbers -------------------------------------------------


@pytest.mark.parametrize(
    "bad_code",
    [
        "",
        "12345",
        "1234567",
        "12345a",
        " 12345",
        "١٢٣٤٥٦",  # Arabic-Indic digits
        "１２３４５６",  # full-width digits  # noqa: RUF001
        "12345\n",
        "1" * 10_000,
    ],
)
def test_malformed_code_is_refused_and_changes_nothing(
    app: Identity, sms: RecordingSms, bad_code: str
) -> None:
    app.send_code(PHONE)
    before = position(app)
    for _ in range(6):  # more than the failure limit: none of these may count
        with pytest.raises(InvalidOtpError):
            app.verify_code(PHONE, bad_code)
    assert position(app) == before
    assert app.verify_code(PHONE, sms.last_code()).phone == PHONE


def test_unicode_digits_equal_to_the_code_are_refused(
    app: Identity, sms: RecordingSms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("domain.signin.secrets.randbelow", lambda _n: 123456)
    app.send_code(PHONE)
    assert sms.last_code() == "123456"
    with pytest.raises(InvalidOtpError):
        app.verify_code(PHONE, "١٢٣٤٥٦")


def test_unknown_number_verify_is_invalid_otp_and_records_nothing(app: Identity) -> None:
    before = position(app)
    with pytest.raises(InvalidOtpError):
        app.verify_code(PHONE, "123456")
    assert position(app) == before


def test_known_and_unknown_numbers_get_the_same_answer(app: Identity, sms: RecordingSms) -> None:
    app.send_code(PHONE)
    with pytest.raises(InvalidOtpError) as known:
        app.verify_code(PHONE, wrong(sms.last_code()))
    with pytest.raises(InvalidOtpError) as unknown:
        app.verify_code(OTHER_PHONE, wrong(sms.last_code()))
    assert type(known.value) is type(unknown.value)
    assert known.value.code == unknown.value.code == "INVALID_OTP"


# -- timing: one hasher call on every verify path ----------------------------------------


@pytest.fixture
def counting() -> CountingHasher:
    return CountingHasher(PEPPER)


@pytest.fixture
def counted_app(clock: FakeClock, sms: RecordingSms, counting: CountingHasher) -> Identity:
    return make_identity(clock, sms, hasher=counting)


def _hasher_calls(counting: CountingHasher) -> tuple[int, int]:
    return counting.hashes, counting.verifies


def test_wrong_code_for_known_number_costs_one_hash_check(
    counted_app: Identity, sms: RecordingSms, counting: CountingHasher
) -> None:
    counted_app.send_code(PHONE)
    hashes, verifies = _hasher_calls(counting)
    with pytest.raises(InvalidOtpError):
        counted_app.verify_code(PHONE, wrong(sms.last_code()))
    assert _hasher_calls(counting) == (hashes, verifies + 1)


def test_unknown_number_costs_one_hash_check(
    counted_app: Identity, counting: CountingHasher
) -> None:
    hashes, verifies = _hasher_calls(counting)
    with pytest.raises(InvalidOtpError):
        counted_app.verify_code(PHONE, "123456")
    assert _hasher_calls(counting) == (hashes, verifies + 1)


def test_expired_code_costs_one_hash_check(
    clock: FakeClock, counted_app: Identity, sms: RecordingSms, counting: CountingHasher
) -> None:
    counted_app.send_code(PHONE)
    clock.advance(301)
    hashes, verifies = _hasher_calls(counting)
    with pytest.raises(InvalidOtpError):
        counted_app.verify_code(PHONE, sms.last_code())
    assert _hasher_calls(counting) == (hashes, verifies + 1)


def test_invalid_number_on_verify_costs_one_hash_check(
    counted_app: Identity, counting: CountingHasher
) -> None:
    hashes, verifies = _hasher_calls(counting)
    with pytest.raises(InvalidOtpError):
        counted_app.verify_code("not a phone", "123456")
    assert _hasher_calls(counting) == (hashes, verifies + 1)


def test_right_code_costs_one_hash_check(
    counted_app: Identity, sms: RecordingSms, counting: CountingHasher
) -> None:
    counted_app.send_code(PHONE)
    hashes, verifies = _hasher_calls(counting)
    counted_app.verify_code(PHONE, sms.last_code())
    assert _hasher_calls(counting) == (hashes, verifies + 1)


def test_a_refused_guess_costs_no_hash_check(
    counted_app: Identity, sms: RecordingSms, counting: CountingHasher
) -> None:
    """A locked-out client's flood of guesses must not buy it CPU time."""
    counted_app.send_code(PHONE)
    for _ in range(5):
        with pytest.raises(InvalidOtpError):
            counted_app.verify_code(PHONE, wrong(sms.last_code()), client=STRANGER)
    hashes, verifies = _hasher_calls(counting)
    with pytest.raises(RateLimitedError):
        counted_app.verify_code(PHONE, sms.last_code(), client=STRANGER)
    assert _hasher_calls(counting) == (hashes, verifies)


def test_send_hashes_the_code_once(counted_app: Identity, counting: CountingHasher) -> None:
    hashes, verifies = _hasher_calls(counting)
    counted_app.send_code(PHONE)
    assert _hasher_calls(counting) == (hashes + 1, verifies)


# -- test numbers ------------------------------------------------------------------------


def test_test_number_gets_its_fixed_code(clock: FakeClock, sms: RecordingSms) -> None:
    app = make_identity(clock, sms, test_codes={"90 111 22 33": "424242"})
    app.send_code("+998901112233")
    assert sms.last_code() == "424242"
    assert app.verify_code("+998901112233", "424242").phone == "+998901112233"
    clock.advance(60)
    app.send_code("901112233")
    assert sms.last_code() == "424242"


def test_test_numbers_do_not_change_codes_for_other_numbers(
    clock: FakeClock, sms: RecordingSms, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("domain.signin.secrets.randbelow", lambda _n: 777)
    app = make_identity(clock, sms, test_codes={"+998901112233": "424242"})
    app.send_code(PHONE)
    assert sms.last_code() == "000777"


def test_test_number_code_still_obeys_the_rules(clock: FakeClock, sms: RecordingSms) -> None:
    app = make_identity(clock, sms, test_codes={"+998901112233": "424242"})
    app.send_code("+998901112233")
    app.verify_code("+998901112233", "424242")
    with pytest.raises(InvalidOtpError):  # single use
        app.verify_code("+998901112233", "424242")


# -- roles -------------------------------------------------------------------------------


def test_admin_phone_signs_in_as_admin(clock: FakeClock, sms: RecordingSms) -> None:
    app = make_identity(clock, sms, admin_phones=["90 123 45 67"])
    app.send_code(PHONE)
    admin = app.verify_code(PHONE, sms.last_code())
    assert admin.role is Role.ADMIN
    assert app.get_user(admin.user_id).role is Role.ADMIN
    app.send_code(OTHER_PHONE)
    user = app.verify_code(OTHER_PHONE, sms.last_code())
    assert user.role is Role.USER


def test_admin_list_change_records_role_changed(clock: FakeClock, sms: RecordingSms) -> None:
    first = make_identity(clock, sms)
    first.send_code(PHONE)
    before = first.verify_code(PHONE, sms.last_code())
    assert before.role is Role.USER

    # A restart with PHONE added to ADMIN_PHONE_NUMBERS, on the same event log.
    clock.advance(60)
    second = SharedRecorderIdentity(services(clock, sms, admin_phones=[PHONE]), first.recorder)
    second.send_code(PHONE)
    promoted = second.verify_code(PHONE, sms.last_code())
    assert promoted.user_id == before.user_id
    assert promoted.role is Role.ADMIN
    changes = [e for e in stored_events(second) if isinstance(e, User.RoleChanged)]
    assert [(e.originator_id, e.role) for e in changes] == [(before.user_id, "ADMIN")]

    # And back, when PHONE leaves the list.
    clock.advance(60)
    third = SharedRecorderIdentity(services(clock, sms), first.recorder)
    third.send_code(PHONE)
    demoted = third.verify_code(PHONE, sms.last_code())
    assert demoted.role is Role.USER
    assert third.get_user(before.user_id).role is Role.USER
    roles = [e.role for e in stored_events(third) if isinstance(e, User.RoleChanged)]
    assert roles == ["ADMIN", "USER"]


def test_unchanged_admin_list_records_no_role_change(clock: FakeClock, sms: RecordingSms) -> None:
    app = make_identity(clock, sms, admin_phones=[PHONE])
    app.send_code(PHONE)
    app.verify_code(PHONE, sms.last_code())
    clock.advance(60)
    app.send_code(PHONE)
    assert app.verify_code(PHONE, sms.last_code()).role is Role.ADMIN
    assert not any(t.endswith("RoleChanged") for t in stored_topics(app))


def test_number_with_letters_is_refused_on_send(app: Identity, sms: RecordingSms) -> None:
    with pytest.raises(InvalidPhoneNumberError):
        app.send_code("+998 90 123 ABCD")
    assert sms.sent == []
