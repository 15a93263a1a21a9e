"""Sign-in through the real ASGI app (Starlette + Strawberry) on real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from psycopg import sql
from starlette.applications import Starlette

from domain.errors import InvalidOtpError
from domain.identity import Role
from graphql_api.app import create_app
from graphql_api.identity.pacing import SignInPacing
from infrastructure.bootstrap import Ovoz, services_of
from tests.conftest import FakeClock, RecordingSms
from tests.integration.conftest import MakeOvoz

PHONE = "+998901234567"

SEND = """
mutation Send($p: String!) {
  sendOtp(phoneNumber: $p) {
    __typename
    ... on OtpSent { phoneNumber expiresIn resendAfter }
    ... on Error { code message }
    ... on RateLimited { retryAfter }
  }
}
"""
VERIFY = """
mutation Verify($p: String!, $c: String!) {
  verifyOtp(phoneNumber: $p, otpCode: $c) {
    __typename
    ... on Token { accessToken tokenType expiresIn userId phoneNumber role }
    ... on Error { code message }
    ... on RateLimited { retryAfter }
  }
}
"""
ME = "{ me { id phoneNumber role } }"


# -- helpers -----------------------------------------------------------------------------


def request(app: Starlette, method: str, path: str = "/graphql", **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def gql(
    app: Starlette,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    response = request(
        app, "POST", json={"query": query, "variables": variables or {}}, headers=headers or {}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def send(app: Starlette, phone: str, **headers: str) -> dict[str, Any]:
    body = gql(app, SEND, {"p": phone}, headers)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["sendOtp"]
    return result


def verify(app: Starlette, phone: str, code: str, **headers: str) -> dict[str, Any]:
    body = gql(app, VERIFY, {"p": phone, "c": code}, headers)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["verifyOtp"]
    return result


def me(app: Starlette, authorization: str | None) -> dict[str, Any]:
    headers = {"Authorization": authorization} if authorization is not None else {}
    return gql(app, ME, headers=headers)


def event_count(database_url: str, schema: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.identity_events").format(sql.Identifier(schema))
        ).fetchone()
    assert row is not None
    return int(row[0])


def event_names(database_url: str, schema: str) -> list[str]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            sql.SQL("SELECT topic FROM {}.identity_events ORDER BY notification_id").format(
                sql.Identifier(schema)
            )
        ).fetchall()
    return [r[0].rsplit(".", 1)[-1] for r in rows]


def other_code(code: str, delta: int = 1) -> str:
    return f"{(int(code) + delta) % 10**6:06d}"


@pytest.fixture
def app(ovoz: Ovoz) -> Starlette:
    return create_app(services_of(ovoz), production=False)


@pytest.fixture
def prod_app(ovoz: Ovoz) -> Starlette:
    return create_app(services_of(ovoz), production=True)


@pytest.fixture
def count(database_url: str, schema: str) -> Any:
    return lambda: event_count(database_url, schema)


# -- the happy path ----------------------------------------------------------------------


def test_send_verify_me(app: Starlette, sms: RecordingSms, database_url: str, schema: str) -> None:
    sent = send(app, "90 123 45 67")
    assert sent == {
        "__typename": "OtpSent",
        "phoneNumber": PHONE,
        "expiresIn": 300,
        "resendAfter": 60,
    }
    assert sms.sent[-1].to == PHONE
    token = verify(app, "+998 90 123-45-67", sms.last_code())
    assert token["__typename"] == "Token"
    assert token["tokenType"] == "Bearer"
    assert token["expiresIn"] == 900  # 15 minutes: the refresh token keeps the session going
    assert token["phoneNumber"] == PHONE
    assert token["role"] == "USER"

    body = me(app, f"Bearer {token['accessToken']}")
    assert "errors" not in body, body
    assert body["data"]["me"] == {"id": token["userId"], "phoneNumber": PHONE, "role": "USER"}
    names = event_names(database_url, schema)
    assert names.count("OtpVerified") == 1
    assert names.count("UserRegistered") == 1


# -- bad input: typed answers, nothing changed ------------------------------------------


BAD_NUMBERS = [
    "",
    "abc",
    "+99890123",  # too short
    "+998 90 123 45 67 89",  # too long
    "+99890123456a",
    "x" * 200,
    "8 90 123 45 67",  # Soviet-era trunk prefix
    "+44 20 7946 0958",  # foreign landline
    "1-800-555-0199",  # toll-free, read as Uzbek
    "+998 71 123 45 67",  # Tashkent landline: not mobile
    "712345678",
]


def test_bad_numbers_get_invalid_phone_number(
    app: Starlette, sms: RecordingSms, count: Any
) -> None:
    before = count()
    for phone in BAD_NUMBERS:
        result = send(app, phone)
        assert result["__typename"] == "InvalidPhoneNumber", phone
        assert result["code"] == "INVALID_PHONE_NUMBER"
        assert result["message"]
    assert count() == before
    assert sms.sent == []


MALFORMED_CODES = ["", "12345", "1234567", "abcdef", "12345a", "١٢٣٤٥٦", "12 345", "-12345"]


def test_malformed_codes_get_invalid_otp_and_count_as_nothing(
    app: Starlette, sms: RecordingSms, count: Any
) -> None:
    send(app, PHONE)
    before = count()
    for code in MALFORMED_CODES:  # more than the failure limit: malformed codes are no attempt
        result = verify(app, PHONE, code)
        assert result["__typename"] == "InvalidOtp", code
        assert result["code"] == "INVALID_OTP"
    assert count() == before
    assert verify(app, PHONE, sms.last_code())["__typename"] == "Token"


def test_verify_with_a_bad_number_gets_invalid_otp(
    app: Starlette, sms: RecordingSms, count: Any
) -> None:
    send(app, PHONE)
    before = count()
    assert verify(app, "abc", sms.last_code())["__typename"] == "InvalidOtp"
    assert verify(app, "+998901234568", sms.last_code())["__typename"] == "InvalidOtp"
    assert count() == before


def test_wrong_code_records_only_a_failed_attempt(
    app: Starlette, sms: RecordingSms, database_url: str, schema: str
) -> None:
    send(app, PHONE)
    before = event_names(database_url, schema)
    assert verify(app, PHONE, other_code(sms.last_code()))["__typename"] == "InvalidOtp"
    assert event_names(database_url, schema) == [*before, "OtpAttemptFailed"]
    assert verify(app, PHONE, sms.last_code())["__typename"] == "Token"


def test_expired_code_gets_invalid_otp(
    app: Starlette, sms: RecordingSms, clock: FakeClock, count: Any
) -> None:
    send(app, PHONE)
    clock.advance(301)
    before = count()
    result = verify(app, PHONE, sms.last_code())
    assert result["__typename"] == "InvalidOtp"
    assert count() == before


def test_reused_code_gets_invalid_otp(app: Starlette, sms: RecordingSms, count: Any) -> None:
    send(app, PHONE)
    code = sms.last_code()
    assert verify(app, PHONE, code)["__typename"] == "Token"
    before = count()
    assert verify(app, PHONE, code)["__typename"] == "InvalidOtp"
    assert count() == before


def test_too_many_wrong_codes_get_rate_limited(
    app: Starlette, sms: RecordingSms, count: Any
) -> None:
    send(app, PHONE)
    code = sms.last_code()
    for delta in range(1, 6):
        assert verify(app, PHONE, other_code(code, delta))["__typename"] == "InvalidOtp"
    before = count()
    result = verify(app, PHONE, code)  # even the right code: the code is dead
    assert result["__typename"] == "RateLimited"
    assert result["code"] == "RATE_LIMITED"
    assert 0 < result["retryAfter"] <= 3600
    assert str(result["retryAfter"]) in result["message"]
    assert count() == before


def test_resend_within_cooldown_gets_rate_limited(
    app: Starlette, sms: RecordingSms, clock: FakeClock, count: Any
) -> None:
    send(app, PHONE)
    clock.advance(10)
    before, sent = count(), len(sms.sent)
    result = send(app, PHONE)
    assert result["__typename"] == "RateLimited"
    assert result["retryAfter"] == 50
    assert count() == before
    assert len(sms.sent) == sent
    clock.advance(50)
    assert send(app, PHONE)["__typename"] == "OtpSent"


def test_sms_failure_gets_sms_delivery_failed_and_no_usable_code(
    make_ovoz: MakeOvoz, sms: RecordingSms, database_url: str, schema: str
) -> None:
    ovoz = make_ovoz(OTP_TEST_NUMBERS=f"{PHONE}:424242")  # a known code, to try it
    app = create_app(services_of(ovoz), production=False)
    sms.fail_next = True
    result = send(app, PHONE)
    assert result["__typename"] == "SmsDeliveryFailed"
    assert result["code"] == "SMS_DELIVERY_FAILED"
    assert sms.sent == []
    assert verify(app, PHONE, "424242")["__typename"] == "InvalidOtp"
    names = event_names(database_url, schema)
    assert "OtpVerified" not in names
    assert "UserRegistered" not in names


# -- tokens ------------------------------------------------------------------------------


def _claims(ovoz: Ovoz, user_id: uuid.UUID, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": str(user_id),
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
        "iss": ovoz.settings.jwt_issuer,
        "aud": ovoz.settings.jwt_audience,
        "role": "ADMIN",
        "sid": str(uuid.uuid4()),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


BAD_TOKENS: dict[str, Callable[[Ovoz, uuid.UUID], str | None]] = {
    "missing": lambda o, u: None,
    "not bearer": lambda o, u: "Basic " + o.tokens.issue(u, Role.USER, uuid.uuid4()).token,
    "garbage": lambda o, u: "Bearer not.a.token",
    "expired": lambda o, u: (
        "Bearer " + o.tokens.issue(u, Role.USER, uuid.uuid4(), now=time.time() - 7200).token
    ),
    "forged": lambda o, u: (
        "Bearer " + jwt.encode(_claims(o, u), "x" * 64 + "forged", algorithm="HS256")
    ),
    "wrong audience": lambda o, u: (
        "Bearer "
        + jwt.encode(_claims(o, u, aud="someone-else"), o.settings.jwt_secret, algorithm="HS256")
    ),
    "wrong issuer": lambda o, u: (
        "Bearer " + jwt.encode(_claims(o, u, iss="evil"), o.settings.jwt_secret, algorithm="HS256")
    ),
    "no jti": lambda o, u: (
        "Bearer " + jwt.encode(_claims(o, u, jti=None), o.settings.jwt_secret, algorithm="HS256")
    ),
    "alg none": lambda o, u: (
        "Bearer " + jwt.encode(_claims(o, u), None, algorithm="none")  # type: ignore[arg-type]
    ),
    "unknown user": lambda o, u: (
        "Bearer " + o.tokens.issue(uuid.uuid4(), Role.USER, uuid.uuid4()).token
    ),
}


def test_me_refuses_bad_credentials(ovoz: Ovoz, app: Starlette, sms: RecordingSms) -> None:
    ovoz.identity.send_code(PHONE)
    signed_in = ovoz.identity.verify_code(PHONE, sms.last_code())
    assert ovoz.wait_for("identity", signed_in.position)
    good = me(
        app, "Bearer " + ovoz.tokens.issue(signed_in.user_id, signed_in.role, uuid.uuid4()).token
    )
    assert good["data"]["me"]["id"] == str(signed_in.user_id)

    for kind, make in BAD_TOKENS.items():
        body = me(app, make(ovoz, signed_in.user_id))
        assert body["data"] is None, kind
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", kind


# -- query limits ------------------------------------------------------------------------


def _nested(depth: int) -> str:
    """An introspection query ``depth`` levels deep (__schema/types/fields/type/ofType...)."""
    path = ["__schema", "types", "fields", "type"] + ["ofType"] * max(0, depth - 4)
    return "{ " + " { ".join(path[:depth]) + " { name }" + " }" * depth


def test_oversized_query_is_refused(app: Starlette) -> None:
    assert gql(app, "{ " + "__typename " * 100 + "}")["data"] == {"__typename": "Query"}
    body = gql(app, "{ " + "__typename " * 2100 + "}")
    assert body["data"] is None
    assert body["errors"]


def test_deeply_nested_query_is_refused(app: Starlette) -> None:
    assert "errors" not in gql(app, _nested(14))  # as deep as the standard introspection query
    body = gql(app, _nested(30))
    assert body.get("data") is None
    assert body["errors"]
    assert "depth" in body["errors"][0]["message"].lower()
    assert body["errors"][0]["extensions"]["code"] == "QUERY_TOO_DEEP"


def test_deeply_nested_query_is_refused_in_production(prod_app: Starlette) -> None:
    body = gql(prod_app, _nested(30))
    assert body.get("data") is None
    assert body["errors"]


def test_too_many_aliases_are_refused(app: Starlette) -> None:
    ok = "{ " + " ".join(f"a{i}: __typename" for i in range(10)) + " }"
    assert "errors" not in gql(app, ok)
    body = gql(app, "{ " + " ".join(f"a{i}: __typename" for i in range(40)) + " }")
    assert body.get("data") is None
    assert body["errors"]


# -- messages ----------------------------------------------------------------------------


def test_messages_follow_accept_language_with_uzbek_default(app: Starlette) -> None:
    def message(language: str | None) -> str:
        headers = {"Accept-Language": language} if language else {}
        result: str = send(app, "abc", **headers)["message"]
        return result

    uz, en, ru = message("uz"), message("en"), message("ru")
    assert len({uz, en, ru}) == 3
    assert message(None) == uz
    assert message("fr-FR, de;q=0.5") == uz
    assert message("ru-RU,ru;q=0.9,en;q=0.8") == ru
    assert message("uz;q=0.2, en;q=0.9") == en
    assert "valid" in en
    assert any("а" <= ch <= "я" for ch in ru)  # noqa: RUF001 - Cyrillic range


# -- masking, production hardening, CSRF -------------------------------------------------


def test_unexpected_errors_are_masked_with_the_request_id(
    ovoz: Ovoz, app: Starlette, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(_: str) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(ovoz.identity, "send_code", boom)
    for given in (None, "client-req-0001"):
        headers = {"X-Request-ID": given} if given else {}
        response = request(app, "POST", json={"query": SEND, "variables": {"p": PHONE}},
                           headers=headers)  # fmt: skip
        request_id = response.headers["x-request-id"]
        if given:
            assert request_id == given
        assert "secret detail" not in response.text
        assert "RuntimeError" not in response.text
        error = response.json()["errors"][0]
        assert request_id in error["message"]
        assert error["extensions"]["code"] == "INTERNAL"


def test_production_refuses_introspection(app: Starlette, prod_app: Starlette) -> None:
    query = "{ __schema { queryType { name } } }"
    assert gql(app, query)["data"]["__schema"]["queryType"]["name"] == "Query"
    body = gql(prod_app, query)
    assert body.get("data") is None
    assert body["errors"]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"INTROSPECTION_DISABLED"}


def test_production_gives_no_field_suggestions(app: Starlette, prod_app: Starlette) -> None:
    query = "{ mee { id } }"
    assert "Did you mean" in json.dumps(gql(app, query))
    body = gql(prod_app, query)
    assert body["errors"]
    assert "Did you mean" not in json.dumps(body)
    assert "'me'" not in json.dumps(body)


@pytest.mark.parametrize(
    ("query", "secret"),
    [
        ('mutation { verifyOtp(phoneNumber: "+998901234567") { __typename } }', "otpCode"),
        ("{ me }", "User"),
        (
            'mutation { sendOtp(phoneNumber: "1") { ... on Token { accessToken } } }',
            "SendOtpResult",
        ),
        ("query($x: Tokn) { me { id } }", "Tokn"),
        ('query { audios(status: "x") { total } }', "TranscriptionStatus"),
    ],
)
def test_production_errors_say_where_a_document_is_wrong_not_what_the_schema_has(
    app: Starlette, prod_app: Starlette, query: str, secret: str
) -> None:
    assert secret in json.dumps(gql(app, query))  # development explains
    body = gql(prod_app, query)
    assert body.get("data") is None
    assert secret not in json.dumps(body)
    assert {e["extensions"]["code"] for e in body["errors"]} == {"GRAPHQL_VALIDATION_FAILED"}
    assert all(e["locations"] for e in body["errors"])


def test_graphiql_only_in_development(app: Starlette, prod_app: Starlette) -> None:
    dev = request(app, "GET", headers={"Accept": "text/html"})
    assert dev.status_code == 200
    assert "text/html" in dev.headers["content-type"]
    assert "graphiql" in dev.text.lower()
    prod = request(prod_app, "GET", headers={"Accept": "text/html"})
    assert "graphiql" not in prod.text.lower()
    assert prod.status_code >= 400


def test_multipart_without_preflight_header_is_refused(app: Starlette) -> None:
    form = {"operations": json.dumps({"query": "{ __typename }", "variables": {}}), "map": "{}"}
    files = {"0": ("a.txt", b"hello", "text/plain")}
    refused = request(app, "POST", data=form, files=files)
    assert refused.status_code == 400
    allowed = request(
        app, "POST", data=form, files=files, headers={"Apollo-Require-Preflight": "true"}
    )
    assert allowed.status_code != 400, allowed.text


def test_an_oversized_json_body_is_refused_before_it_is_read(app: Starlette, count: Any) -> None:
    before = count()
    padding = "x" * (1024 * 1024 + 1)
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": padding}})
    refused = request(app, "POST", content=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == 413
    assert refused.json()["errors"][0]["extensions"]["code"] == "REQUEST_TOO_LARGE"
    small = request(
        app,
        "POST",
        content=json.dumps({"query": "{ __typename }"}),
        headers={"Content-Type": "application/json"},
    )
    assert small.json() == {"data": {"__typename": "Query"}}
    assert count() == before


# -- sign-in under attack: per-client failures, answers on time, threads of its own -----

OWNER_AT = ("198.51.100.20", 50123)
STRANGER_AT = ("203.0.113.7", 40321)


def gql_from(
    app: Starlette, client: tuple[str, int], query: str, variables: dict[str, Any]
) -> dict[str, Any]:
    """A GraphQL request from the network address ``client``."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            return await http.post("/graphql", json={"query": query, "variables": variables})

    response = asyncio.run(go())
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def verify_from(app: Starlette, client: tuple[str, int], phone: str, code: str) -> str:
    result = gql_from(app, client, VERIFY, {"p": phone, "c": code})["verifyOtp"]
    return str(result["__typename"])


def test_a_strangers_guesses_lock_out_only_the_stranger(
    app: Starlette, sms: RecordingSms, clock: FakeClock
) -> None:
    assert gql_from(app, STRANGER_AT, SEND, {"p": PHONE})["sendOtp"]["__typename"] == "OtpSent"
    for delta in range(1, 6):
        assert verify_from(app, STRANGER_AT, PHONE, other_code(sms.last_code(), delta)) == (
            "InvalidOtp"
        )
    assert verify_from(app, STRANGER_AT, PHONE, sms.last_code()) == "RateLimited"
    # From another address the owner learns that the code is dead, not that they are locked
    # out; a fresh code signs them in.
    assert verify_from(app, OWNER_AT, PHONE, sms.last_code()) == "InvalidOtp"
    clock.advance(60)
    assert gql_from(app, OWNER_AT, SEND, {"p": PHONE})["sendOtp"]["__typename"] == "OtpSent"
    assert verify_from(app, OWNER_AT, PHONE, sms.last_code()) == "Token"
    # The stranger stays locked out of this number, fresh code or not.
    clock.advance(60)
    gql_from(app, STRANGER_AT, SEND, {"p": PHONE})
    assert verify_from(app, STRANGER_AT, PHONE, sms.last_code()) == "RateLimited"


def test_a_stranger_who_spends_its_codes_cannot_keep_the_owner_from_a_fresh_one(
    app: Starlette, sms: RecordingSms, clock: FakeClock
) -> None:
    """The reviewer's attack: the hour's codes asked for from one address, the last one
    killed with five wrong guesses. Codes count per (number, client), so the owner, from
    another address, still gets a fresh code and signs in."""
    for _ in range(5):
        sent = gql_from(app, STRANGER_AT, SEND, {"p": PHONE})["sendOtp"]
        assert sent["__typename"] == "OtpSent"
        clock.advance(60)
    for delta in range(1, 6):
        assert verify_from(app, STRANGER_AT, PHONE, other_code(sms.last_code(), delta)) == (
            "InvalidOtp"
        )
    refused = gql_from(app, STRANGER_AT, SEND, {"p": PHONE})["sendOtp"]
    assert refused["__typename"] == "RateLimited"
    assert refused["retryAfter"] == 3600 - 300
    assert gql_from(app, OWNER_AT, SEND, {"p": PHONE})["sendOtp"]["__typename"] == "OtpSent"
    assert verify_from(app, OWNER_AT, PHONE, sms.last_code()) == "Token"


def test_every_failed_verify_answers_no_sooner_than_the_floor(
    make_ovoz: MakeOvoz, sms: RecordingSms, clock: FakeClock
) -> None:
    """Unknown number, expired code, wrong code at a live code (argon2 + an event written),
    locked-out client, malformed code, bad number: one answer time, which tells nobody
    who has a live code."""
    ovoz = make_ovoz(OTP_VERIFY_FLOOR_SECONDS="0.4")
    app = create_app(services_of(ovoz), production=False)
    expired, locked, live = "+998901111111", "+998902222222", "+998903333333"
    ovoz.identity.send_code(expired)
    ovoz.identity.send_code(locked)
    for delta in range(1, 6):
        with pytest.raises(InvalidOtpError):
            ovoz.identity.verify_code(locked, other_code(sms.last_code(), delta), STRANGER_AT[0])
    clock.advance(301)  # the codes so far have expired
    ovoz.identity.send_code(live)
    attempts = {
        "unknown number": ("+998904444444", "123456", "InvalidOtp"),
        "expired code": (expired, "123456", "InvalidOtp"),
        "wrong code at a live code": (live, other_code(sms.last_code()), "InvalidOtp"),
        "locked-out client": (locked, "123456", "RateLimited"),
        "malformed code": (live, "12ab", "InvalidOtp"),
        "bad number": ("not a phone", "123456", "InvalidOtp"),
    }
    for path, (phone, code, answer) in attempts.items():
        started = time.monotonic()
        assert verify_from(app, STRANGER_AT, phone, code) == answer, path
        assert time.monotonic() - started >= 0.4, path


def test_a_successful_verify_does_not_wait_for_the_floor(
    make_ovoz: MakeOvoz, sms: RecordingSms
) -> None:
    ovoz = make_ovoz(OTP_VERIFY_FLOOR_SECONDS="10")
    app = create_app(services_of(ovoz), production=False)
    send(app, PHONE)
    started = time.monotonic()
    assert verify(app, PHONE, sms.last_code())["__typename"] == "Token"
    assert time.monotonic() - started < 10


def test_a_verify_flood_leaves_threads_for_reads(
    ovoz: Ovoz, sms: RecordingSms, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More stuck sign-ins than anyio's default thread limiter has tokens (40): they queue
    for the two sign-in threads, and `me` still gets a thread at once."""
    token = (
        "Bearer "
        + ovoz.tokens.issue(
            ovoz.identity.verify_code(PHONE, _sent_code(ovoz, sms)).user_id, Role.USER, uuid.uuid4()
        ).token
    )
    assert ovoz.wait_for("identity", ovoz.identity.recorder.max_notification_id() or 0)
    release = threading.Event()
    running, most = [0], [0]
    lock = threading.Lock()

    def stuck_verify(*_: object) -> None:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        release.wait(30)
        with lock:
            running[0] -= 1
        raise InvalidOtpError("wrong code")

    monkeypatch.setattr(ovoz.identity, "verify_code", stuck_verify)
    services = replace(services_of(ovoz), signin=SignInPacing(threads=2, failure_floor=0))
    app = create_app(services, production=False)

    async def scenario() -> tuple[float, list[httpx.Response]]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            flood = [
                asyncio.create_task(
                    http.post(
                        "/graphql", json={"query": VERIFY, "variables": {"p": PHONE, "c": "123456"}}
                    )
                )
                for _ in range(45)
            ]
            await asyncio.sleep(0.5)  # every flood request is in, waiting for a thread
            started = time.monotonic()
            answer = await asyncio.wait_for(
                http.post("/graphql", json={"query": ME}, headers={"Authorization": token}), 10
            )
            took = time.monotonic() - started
            assert answer.json()["data"]["me"]["phoneNumber"] == PHONE
            release.set()
            return took, list(await asyncio.gather(*flood))

    took, flooded = asyncio.run(scenario())
    assert took < 5
    assert most[0] == 2
    assert all(r.json()["data"]["verifyOtp"]["__typename"] == "InvalidOtp" for r in flooded)


def _sent_code(ovoz: Ovoz, sms: RecordingSms) -> str:
    ovoz.identity.send_code(PHONE)
    return sms.last_code()
