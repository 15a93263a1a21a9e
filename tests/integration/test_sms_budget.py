"""SMS pumping defences on real PostgreSQL: the hourly budgets per client, per block of
numbers and in all, shared by every process; destinations outside the allowed countries;
and the client address as uvicorn's proxy handling gives it to the API."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql
from starlette.applications import Starlette

from domain.errors import CountryNotAllowedError, InvalidOtpError, RateLimitedError
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from infrastructure.server import server_config
from tests.conftest import FakeClock, RecordingSms
from tests.integration.conftest import MakeOvoz
from tests.integration.test_graphql_signin import SEND, VERIFY, event_count

ONLY_CLIENTS = {"SMS_MAX_PER_PREFIX_PER_HOUR": "0", "SMS_MAX_PER_HOUR": "0"}
ONLY_BLOCKS = {"SMS_MAX_PER_IP_PER_HOUR": "0", "SMS_MAX_PER_HOUR": "0"}
ONLY_TOTAL = {"SMS_MAX_PER_IP_PER_HOUR": "0", "SMS_MAX_PER_PREFIX_PER_HOUR": "0"}
CLIENT, OTHER_CLIENT = "198.51.100.20", "203.0.113.7"
NORTH_KOREA = "+8501921234567"
# The clock starts at 12:00:00 (tests/conftest.py FakeClock): the window ends at 13:00.
HOUR = 3600


def numbers(n: int, start: int = 0) -> list[str]:
    """``n`` valid Uzbek mobile numbers, each in a block of 10,000 of its own."""
    return [f"+99890{start + i:03d}4567" for i in range(n)]


def same_block(n: int) -> list[str]:
    """``n`` valid Uzbek mobile numbers in one block (+99890123….)."""
    return [f"+99890123{i:04d}" for i in range(n)]


def refused_after(ovoz: Ovoz, phone: str, client: str | None) -> int:
    with pytest.raises(RateLimitedError) as refused:
        ovoz.identity.send_code(phone, client)
    return refused.value.retry_after_seconds


def budget_rows(database_url: str, schema: str) -> list[dict[str, Any]]:
    with psycopg.connect(database_url, autocommit=True, row_factory=psycopg.rows.dict_row) as c:
        query = sql.SQL("SELECT * FROM {}.sms_budget ORDER BY counter, key").format(
            sql.Identifier(schema)
        )
        return list(c.execute(query).fetchall())


# -- per client ----------------------------------------------------------------------------


def test_one_client_gets_its_hourly_budget_whatever_numbers_it_picks(
    make_ovoz: MakeOvoz, sms: RecordingSms, clock: FakeClock
) -> None:
    ovoz = make_ovoz(SMS_MAX_PER_IP_PER_HOUR="3", **ONLY_CLIENTS)
    phones = numbers(5)
    for phone in phones[:3]:
        ovoz.identity.send_code(phone, CLIENT)
        clock.advance(600)
    # 12:30: the window frees at 13:00.
    assert refused_after(ovoz, phones[3], CLIENT) == HOUR - 1800
    ovoz.identity.send_code(phones[3], OTHER_CLIENT)  # another client has its own
    assert len(sms.sent) == 4


def test_the_window_rolls_over_on_the_hour(
    make_ovoz: MakeOvoz, sms: RecordingSms, clock: FakeClock
) -> None:
    ovoz = make_ovoz(SMS_MAX_PER_IP_PER_HOUR="2", **ONLY_CLIENTS)
    phones = numbers(5)
    ovoz.identity.send_code(phones[0], CLIENT)
    ovoz.identity.send_code(phones[1], CLIENT)
    clock.advance(HOUR - 1)
    assert refused_after(ovoz, phones[2], CLIENT) == 1
    clock.advance(1)
    ovoz.identity.send_code(phones[2], CLIENT)
    ovoz.identity.send_code(phones[3], CLIENT)
    assert refused_after(ovoz, phones[4], CLIENT) == HOUR
    assert len(sms.sent) == 4


def test_an_ipv6_client_counts_by_its_slash_64(make_ovoz: MakeOvoz) -> None:
    ovoz = make_ovoz(SMS_MAX_PER_IP_PER_HOUR="1", **ONLY_CLIENTS)
    phones = numbers(3)
    ovoz.identity.send_code(phones[0], "2001:db8:1:2::1")
    refused_after(ovoz, phones[1], "2001:db8:1:2:ffff:ffff:ffff:ffff")  # same /64
    ovoz.identity.send_code(phones[2], "2001:db8:1:3::1")  # the next /64


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("::ffff:192.0.2.9", "192.0.2.9"),  # an IPv4-mapped address is its IPv4
        (None, None),  # clients without an address share one budget
        ("", None),
        ("not an address", "not an address"),  # a test client, a socket path
        (" 192.0.2.9 ", "192.0.2.9"),
    ],
)
def test_odd_client_addresses_count_as_one_client_each(
    make_ovoz: MakeOvoz, first: str | None, second: str | None
) -> None:
    ovoz = make_ovoz(SMS_MAX_PER_IP_PER_HOUR="1", **ONLY_CLIENTS)
    phones = numbers(3)
    ovoz.identity.send_code(phones[0], first)
    refused_after(ovoz, phones[1], second)
    ovoz.identity.send_code(phones[2], "\x00\udcff garbage")  # still a client of its own


# -- per block and in all ------------------------------------------------------------------


def test_a_block_of_numbers_has_a_budget_whichever_clients_ask(
    make_ovoz: MakeOvoz, sms: RecordingSms
) -> None:
    ovoz = make_ovoz(SMS_MAX_PER_PREFIX_PER_HOUR="2", **ONLY_BLOCKS)
    block = same_block(3)
    ovoz.identity.send_code(block[0], "192.0.2.1")
    ovoz.identity.send_code(block[1], "192.0.2.2")
    assert refused_after(ovoz, block[2], "192.0.2.3") == HOUR
    ovoz.identity.send_code(numbers(1)[0], "192.0.2.3")  # another block
    assert len(sms.sent) == 3


def test_the_total_budget_warns_once_when_near_and_errs_once_when_spent(
    make_ovoz: MakeOvoz, sms: RecordingSms, caplog: pytest.LogCaptureFixture
) -> None:
    ovoz = make_ovoz(SMS_MAX_PER_HOUR="5", **ONLY_TOTAL)
    caplog.set_level(logging.WARNING, logger="ovoz.sms")
    phones = numbers(8)
    for i, phone in enumerate(phones[:3]):
        ovoz.identity.send_code(phone, f"192.0.2.{i}")
    assert [r for r in caplog.records if r.name == "ovoz.sms"] == []
    ovoz.identity.send_code(phones[3], "192.0.2.3")  # 4 of 5: 80 %
    ovoz.identity.send_code(phones[4], "192.0.2.4")
    for phone in phones[5:]:
        refused_after(ovoz, phone, "192.0.2.99")
    logged = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "ovoz.sms"]
    assert [level for level, _ in logged] == [logging.WARNING, logging.ERROR], logged
    assert "4 of SMS_MAX_PER_HOUR=5" in logged[0][1]
    assert len(sms.sent) == 5


def test_a_refusal_by_one_budget_counts_in_none(
    make_ovoz: MakeOvoz, database_url: str, schema: str
) -> None:
    ovoz = make_ovoz(
        SMS_MAX_PER_IP_PER_HOUR="5", SMS_MAX_PER_PREFIX_PER_HOUR="1", SMS_MAX_PER_HOUR="100"
    )
    block = same_block(4)
    ovoz.identity.send_code(block[0], CLIENT)
    for phone in block[1:]:
        refused_after(ovoz, phone, CLIENT)  # the block's budget refuses
    spent = {row["counter"]: row["spent"] for row in budget_rows(database_url, schema)}
    assert spent == {"client": 1, "block": 1, "total": 1}


def test_processes_share_the_budgets(make_ovoz: MakeOvoz, sms: RecordingSms) -> None:
    first = make_ovoz(SMS_MAX_PER_IP_PER_HOUR="2", **ONLY_CLIENTS)
    second = make_ovoz(SMS_MAX_PER_IP_PER_HOUR="2", **ONLY_CLIENTS)
    phones = numbers(3)
    first.identity.send_code(phones[0], CLIENT)
    second.identity.send_code(phones[1], CLIENT)
    refused_after(first, phones[2], CLIENT)
    refused_after(second, phones[2], CLIENT)
    assert len(sms.sent) == 2


def test_concurrent_requests_cannot_pass_a_budget_together(
    make_ovoz: MakeOvoz, sms: RecordingSms
) -> None:
    ovoz = make_ovoz(SMS_MAX_PER_HOUR="5", **ONLY_TOTAL)
    other = make_ovoz(SMS_MAX_PER_HOUR="5", **ONLY_TOTAL)

    async def burst() -> list[BaseException | None]:
        def one(i: int, phone: str) -> None:
            (ovoz if i % 2 else other).identity.send_code(phone, f"192.0.2.{i}")

        calls = [asyncio.to_thread(one, i, p) for i, p in enumerate(numbers(16))]
        return [e if isinstance(e, BaseException) else None
                for e in await asyncio.gather(*calls, return_exceptions=True)]  # fmt: skip

    outcomes = asyncio.run(burst())
    assert sum(o is None for o in outcomes) == 5
    assert all(o is None or isinstance(o, RateLimitedError) for o in outcomes), outcomes
    assert len(sms.sent) == 5


def test_zero_turns_every_budget_off(make_ovoz: MakeOvoz, sms: RecordingSms) -> None:
    ovoz = make_ovoz(
        SMS_MAX_PER_IP_PER_HOUR="0", SMS_MAX_PER_PREFIX_PER_HOUR="0", SMS_MAX_PER_HOUR="0"
    )
    for phone in same_block(30):
        ovoz.identity.send_code(phone, CLIENT)
    assert len(sms.sent) == 30


# -- what the counters keep ----------------------------------------------------------------


def test_counters_hold_no_number_and_no_address_and_forget_past_hours(
    make_ovoz: MakeOvoz, clock: FakeClock, database_url: str, schema: str
) -> None:
    ovoz = make_ovoz()
    phone = "+998901234567"
    ovoz.identity.send_code(phone, CLIENT)
    rows = budget_rows(database_url, schema)
    assert {row["counter"] for row in rows} == {"client", "block", "total"}
    stored = " ".join(f"{row['key']}" for row in rows)
    assert phone not in stored
    assert phone.removeprefix("+") not in stored
    assert CLIENT not in stored
    assert "+99890123" in stored  # a block of 10,000 numbers: nobody in particular
    client_key = next(row["key"] for row in rows if row["counter"] == "client")
    clock.advance(HOUR)
    ovoz.identity.send_code("+998911234567", CLIENT)
    later = budget_rows(database_url, schema)
    assert {row["window_start"] for row in later} == {clock.now().replace(minute=0)}
    # The same client is another key in another hour: hours cannot be linked.
    assert client_key not in {row["key"] for row in later}


# -- through GraphQL -------------------------------------------------------------------------


def post(app: Any, body: dict[str, Any], peer: str, headers: dict[str, str]) -> Any:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(peer, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.post("/graphql", json=body, headers=headers)

    response = asyncio.run(go())
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    return response.json()["data"]


def send_otp(app: Any, phone: str, peer: str = CLIENT, **headers: str) -> dict[str, Any]:
    result: dict[str, Any] = post(app, {"query": SEND, "variables": {"p": phone}}, peer, headers)[
        "sendOtp"
    ]
    return result


COUNTRY_FIELDS = """
mutation Send($p: String!) {
  sendOtp(phoneNumber: $p) {
    __typename
    ... on InvalidPhoneNumber { code message reason allowedCountries }
  }
}
"""


def test_sendotp_answers_rate_limited_with_the_seconds_until_the_window_frees(
    make_ovoz: MakeOvoz, clock: FakeClock
) -> None:
    ovoz = make_ovoz(SMS_MAX_PER_IP_PER_HOUR="1", **ONLY_CLIENTS)
    app = create_app(services_of(ovoz), production=False)
    assert send_otp(app, "+998901234567")["__typename"] == "OtpSent"
    clock.advance(1000)
    refused = send_otp(app, "+998911234567", **{"Accept-Language": "en"})
    assert refused["__typename"] == "RateLimited"
    assert refused["code"] == "RATE_LIMITED"
    assert refused["retryAfter"] == HOUR - 1000
    assert str(HOUR - 1000) in refused["message"]


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("uz", ["Oʻzbekiston (+998)", "Qozogʻiston (+7)"]),
        ("en", ["Uzbekistan (+998)", "Kazakhstan (+7)", "only"]),
        ("ru", ["Узбекистан (+998)", "Казахстан (+7)", "только"]),
    ],
)
def test_a_refused_country_is_told_where_codes_go_in_the_callers_language(
    make_ovoz: MakeOvoz,
    sms: RecordingSms,
    database_url: str,
    schema: str,
    language: str,
    words: list[str],
) -> None:
    ovoz = make_ovoz(SMS_ALLOWED_COUNTRIES="UZ,KZ")
    app = create_app(services_of(ovoz), production=True)
    before = event_count(database_url, schema)
    body = {"query": COUNTRY_FIELDS, "variables": {"p": NORTH_KOREA}}
    result = post(app, body, CLIENT, {"Accept-Language": language})["sendOtp"]
    assert result["__typename"] == "InvalidPhoneNumber"
    assert result["code"] == "INVALID_PHONE_NUMBER"
    assert result["reason"] == "COUNTRY_NOT_ALLOWED"
    assert result["allowedCountries"] == ["KZ", "UZ"]
    for word in words:
        assert word in result["message"], result["message"]
    assert event_count(database_url, schema) == before
    assert sms.sent == []
    assert budget_rows(database_url, schema) == []


def test_an_invalid_number_keeps_its_own_reason(make_ovoz: MakeOvoz) -> None:
    app = create_app(services_of(make_ovoz()), production=False)
    body = {"query": COUNTRY_FIELDS, "variables": {"p": "+998 71 123 45 67"}}  # a landline
    result = post(app, body, CLIENT, {})["sendOtp"]
    assert result["reason"] == "NOT_A_MOBILE_NUMBER"
    assert result["allowedCountries"] is None


def test_verifying_a_refused_countrys_number_is_invalid_otp(make_ovoz: MakeOvoz) -> None:
    ovoz = make_ovoz()
    with pytest.raises(CountryNotAllowedError):
        ovoz.identity.send_code(NORTH_KOREA, CLIENT)
    with pytest.raises(InvalidOtpError):
        ovoz.identity.verify_code(NORTH_KOREA, "123456", CLIENT)
    app = create_app(services_of(ovoz), production=False)
    body = {"query": VERIFY, "variables": {"p": NORTH_KOREA, "c": "123456"}}
    assert post(app, body, CLIENT, {})["verifyOtp"]["__typename"] == "InvalidOtp"


# -- the client address behind a proxy -------------------------------------------------------


def served(ovoz: Ovoz) -> Any:
    """The API as uvicorn serves it: its proxy-headers handling in front of the app."""
    app: Starlette = create_app(services_of(ovoz), production=False)
    config = server_config(app, ovoz.settings)
    config.load()
    return config.loaded_app


def test_a_trusted_proxys_forwarded_client_is_the_one_that_spends(make_ovoz: MakeOvoz) -> None:
    ovoz = make_ovoz(SMS_MAX_PER_IP_PER_HOUR="1", FORWARDED_ALLOW_IPS="10.0.0.0/8", **ONLY_CLIENTS)
    app = served(ovoz)
    phones = numbers(3)
    forwarded = {"X-Forwarded-For": "198.51.100.1"}
    assert send_otp(app, phones[0], "10.0.0.5", **forwarded)["__typename"] == "OtpSent"
    # The same client through another of the proxies: still that client.
    assert send_otp(app, phones[1], "10.9.9.9", **forwarded)["__typename"] == "RateLimited"
    other = {"X-Forwarded-For": "198.51.100.2"}
    assert send_otp(app, phones[2], "10.0.0.5", **other)["__typename"] == "OtpSent"


def test_anyone_else_cannot_spread_its_requests_with_forwarded_for(
    make_ovoz: MakeOvoz,
) -> None:
    ovoz = make_ovoz(SMS_MAX_PER_IP_PER_HOUR="1", FORWARDED_ALLOW_IPS="10.0.0.0/8", **ONLY_CLIENTS)
    app = served(ovoz)
    phones = numbers(3)
    first = send_otp(app, phones[0], "192.0.2.50", **{"X-Forwarded-For": "198.51.100.1"})
    assert first["__typename"] == "OtpSent"
    for i, phone in enumerate(phones[1:]):
        spoofed = {"X-Forwarded-For": f"198.51.100.{10 + i}"}
        assert send_otp(app, phone, "192.0.2.50", **spoofed)["__typename"] == "RateLimited"
