"""Where codes may be texted, and when an SMS is counted against the budgets, on the real
``Identity`` application (POPO recorder, real argon2id; fakes for the clock, the SMS
gateway and the budget store, whose PostgreSQL implementation has tests of its own in
tests/integration/test_sms_budget.py). No I/O."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime

import pytest

from domain.errors import (
    CountryNotAllowedError,
    InvalidOtpError,
    InvalidPhoneNumberError,
    RateLimitedError,
    SmsDeliveryFailedError,
)
from domain.phone import number_block, region_of
from domain.ports import SmsBudget, SpentSms
from domain.signin import Identity
from infrastructure.hashing import Argon2Hasher
from tests.conftest import FakeClock, RecordingSms
from tests.unit.test_otp_rules import (
    OWNER,
    PHONE,
    POPO_ENV,
    STRANGER,
    CountingHasher,
    SharedRecorderIdentity,
    position,
    services,
)

NORTH_KOREA = "+8501921234567"
IRAN = "+989123456789"
SATELLITE = "+881612345678"  # Iridium: non-geographic, premium-rate to reach
KAZAKHSTAN = "+77012345678"


class CountingBudget(SmsBudget):
    """An in-memory SmsBudget: counts what it is asked to spend and give back; refuses
    while ``refuse_for`` is set; ``during_spend`` runs inside a spend (a concurrent
    request arriving at that moment)."""

    def __init__(self) -> None:
        self.spent: list[tuple[str | None, str]] = []
        self.refunded: list[SpentSms] = []
        self.refuse_for: int | None = None
        self.during_spend: Callable[[], object] | None = None

    def spend(self, client: str | None, phone: str, now: datetime) -> SpentSms:
        if self.refuse_for is not None:
            raise RateLimitedError(self.refuse_for)
        self.spent.append((client, phone))
        if self.during_spend is not None:
            hook, self.during_spend = self.during_spend, None
            hook()
        return SpentSms(now, (("client", str(client)),))

    def refund(self, spent: SpentSms) -> None:
        self.refunded.append(spent)

    @property
    def net(self) -> int:
        return len(self.spent) - len(self.refunded)


@pytest.fixture
def budget() -> CountingBudget:
    return CountingBudget()


def make(
    clock: FakeClock,
    sms: RecordingSms,
    budget: SmsBudget | None,
    allowed: frozenset[str] | None = frozenset({"UZ"}),
    hasher: Argon2Hasher | None = None,
    test_codes: Mapping[str, str] | None = None,
) -> Identity:
    base = services(clock, sms, hasher=hasher, test_codes=test_codes)
    return Identity(
        replace(base, allowed_countries=allowed, sms_budget=budget),
        env=POPO_ENV,
    )


# -- the numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "region"),
    [(PHONE, "UZ"), (NORTH_KOREA, "KP"), (IRAN, "IR"), (KAZAKHSTAN, "KZ"), (SATELLITE, "001")],
)
def test_a_number_knows_its_region(phone: str, region: str) -> None:
    assert region_of(phone) == region


def test_a_block_is_the_number_less_its_last_four_digits() -> None:
    assert number_block("+998901234567") == "+99890123"
    assert number_block("+998901239999") == number_block("+998901230000")


# -- destinations ------------------------------------------------------------------------


@pytest.mark.parametrize("phone", [NORTH_KOREA, IRAN, SATELLITE, KAZAKHSTAN])
def test_a_number_outside_the_allowed_countries_is_refused_before_anything_happens(
    clock: FakeClock, sms: RecordingSms, budget: CountingBudget, phone: str
) -> None:
    hasher = CountingHasher(b"p" * 40)
    app = make(clock, sms, budget, hasher=hasher)
    hashes_before = hasher.hashes
    with pytest.raises(CountryNotAllowedError) as refused:
        app.send_code(phone, client=OWNER)
    assert isinstance(refused.value, InvalidPhoneNumberError)  # the same answer's family
    assert refused.value.allowed == ("UZ",)
    assert refused.value.region == region_of(phone)
    assert position(app) == 0  # no event
    assert sms.sent == []
    assert budget.spent == []
    assert hasher.hashes == hashes_before  # not even a code was made


def test_allowed_countries_are_texted(
    clock: FakeClock, sms: RecordingSms, budget: CountingBudget
) -> None:
    app = make(clock, sms, budget, allowed=frozenset({"UZ", "KZ"}))
    app.send_code(KAZAKHSTAN, client=OWNER)
    app.send_code(PHONE, client=OWNER)
    assert [m.to for m in sms.sent] == [KAZAKHSTAN, PHONE]
    with pytest.raises(CountryNotAllowedError) as refused:
        app.send_code(IRAN, client=OWNER)
    assert refused.value.allowed == ("KZ", "UZ")


def test_no_country_list_texts_anywhere(
    clock: FakeClock, sms: RecordingSms, budget: CountingBudget
) -> None:
    app = make(clock, sms, budget, allowed=None)
    app.send_code(SATELLITE, client=OWNER)
    assert [m.to for m in sms.sent] == [SATELLITE]


def test_verifying_a_refused_countrys_number_answers_like_an_unknown_number(
    clock: FakeClock, sms: RecordingSms, budget: CountingBudget
) -> None:
    # A code sent while the country was still allowed...
    hasher = CountingHasher(b"p" * 40)
    before = make(clock, sms, None, allowed=None, hasher=hasher)
    before.send_code(IRAN, client=OWNER)
    code = sms.last_code()
    # ...is no use once it is not: no lookup, the decoy check an unknown number costs.
    after = SharedRecorderIdentity(
        replace(services(clock, sms, hasher=hasher), allowed_countries=frozenset({"UZ"})),
        before.recorder,
    )
    verifies = hasher.verifies
    with pytest.raises(InvalidOtpError) as refused:
        after.verify_code(IRAN, code, client=OWNER)
    assert not isinstance(refused.value, CountryNotAllowedError)
    assert hasher.verifies == verifies + 1
    assert before.verify_code(IRAN, code, client=OWNER).phone == IRAN  # the code was right


def test_test_numbers_are_explicit_configuration_exempt_from_countries_and_budgets(
    clock: FakeClock, sms: RecordingSms, budget: CountingBudget
) -> None:
    budget.refuse_for = 100
    app = make(clock, sms, budget, test_codes={IRAN: "424242"})
    app.send_code(IRAN, client=OWNER)
    assert app.verify_code(IRAN, "424242", client=OWNER).phone == IRAN
    assert budget.spent == []


# -- when the budget is spent --------------------------------------------------------------


def test_every_sms_is_counted_with_its_client_and_number(
    clock: FakeClock, sms: RecordingSms, budget: CountingBudget
) -> None:
    app = make(clock, sms, budget)
    app.send_code(PHONE, client=OWNER)
    app.send_code("+998911112233", client=None)
    assert budget.spent == [(OWNER, PHONE), (None, "+998911112233")]


def test_a_spent_budget_refuses_with_its_wait_and_leaves_no_trace(
    clock: FakeClock, sms: RecordingSms, budget: CountingBudget
) -> None:
    app = make(clock, sms, budget)
    budget.refuse_for = 1234
    with pytest.raises(RateLimitedError) as refused:
        app.send_code(PHONE, client=OWNER)
    assert refused.value.retry_after_seconds == 1234
    assert position(app) == 0
    assert sms.sent == []
    # Nor does the refusal use up the number's cooldown: once budget frees, it is sent.
    budget.refuse_for = None
    app.send_code(PHONE, client=OWNER)
    assert len(sms.sent) == 1


def test_a_request_the_numbers_own_rules_refuse_spends_no_budget(
    clock: FakeClock, sms: RecordingSms, budget: CountingBudget
) -> None:
    app = make(clock, sms, budget)
    app.send_code(PHONE, client=OWNER)
    for client in (OWNER, STRANGER):  # within the resend cooldown
        with pytest.raises(RateLimitedError):
            app.send_code(PHONE, client=client)
    assert budget.net == 1


def test_an_sms_the_gateway_failed_stays_counted(
    clock: FakeClock, sms: RecordingSms, budget: CountingBudget
) -> None:
    app = make(clock, sms, budget)
    sms.fail_next = True
    with pytest.raises(SmsDeliveryFailedError):
        app.send_code(PHONE, client=OWNER)
    assert budget.net == 1  # a timed-out send may have gone out, and been billed


def test_a_code_that_lost_the_race_for_its_challenge_gives_its_sms_back(
    clock: FakeClock, sms: RecordingSms, budget: CountingBudget
) -> None:
    app = make(clock, sms, budget)
    rival = SharedRecorderIdentity(replace(app.services, sms_budget=None), app.recorder)
    # While this request spends its budget, another one records a code for the number.
    budget.during_spend = lambda: rival.send_code(PHONE, client=STRANGER)
    with pytest.raises(RateLimitedError):  # its second try meets the rival's cooldown
        app.send_code(PHONE, client=OWNER)
    assert budget.net == 0
    assert len(budget.refunded) == 1
    assert [m.to for m in sms.sent] == [PHONE]  # the rival's SMS only
