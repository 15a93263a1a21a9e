"""End to end: ``ovoz serve`` as a real process, signed in to over real HTTP.

The first tests use the embedded PostgreSQL (no ``DATABASE_URL``): the suite's run of
the zero-setup path. The code is read where the console SMS backend puts it.
"""

from __future__ import annotations

import os
import re
import signal
import time
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from tests.e2e.conftest import OvozServer, embedded_postgres_pid

pytestmark = pytest.mark.e2e

PHONE = "+998901234567"
SEND_OTP = """
mutation Send($phone: String!) {
  sendOtp(phoneNumber: $phone) {
    __typename
    ... on OtpSent { phoneNumber expiresIn resendAfter }
    ... on Error { code message }
  }
}
"""
VERIFY_OTP = """
mutation Verify($phone: String!, $code: String!) {
  verifyOtp(phoneNumber: $phone, otpCode: $code) {
    __typename
    ... on Token { accessToken tokenType expiresIn userId phoneNumber role }
    ... on Error { code message }
  }
}
"""
ME = "query { me { id phoneNumber role } }"


def _data(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def _send_code(server: OvozServer, raw_phone: str) -> str:
    """Ask for a code and read it from the outbox."""
    before = server.outbox_codes(PHONE)
    sent = _data(server.graphql(SEND_OTP, {"phone": raw_phone}))["sendOtp"]
    assert sent == {
        "__typename": "OtpSent",
        "phoneNumber": PHONE,
        "expiresIn": 300,
        "resendAfter": 1,
    }
    codes = server.outbox_codes(PHONE)
    assert len(codes) == len(before) + 1, "exactly one SMS per sendOtp"
    assert re.fullmatch(r"\d{6}", codes[-1])
    return codes[-1]


def _verify(server: OvozServer, code: str, raw_phone: str = PHONE) -> dict[str, Any]:
    result: dict[str, Any] = _data(server.graphql(VERIFY_OTP, {"phone": raw_phone, "code": code}))[
        "verifyOtp"
    ]
    return result


def _me(server: OvozServer, token: str) -> dict[str, Any]:
    me: dict[str, Any] = _data(server.graphql(ME, token=token))["me"]
    return me


def _embedded_server(make_server: Any) -> OvozServer:
    # A short resend cooldown lets the second run ask for a new code at once.
    server: OvozServer = make_server(OTP_RESEND_COOLDOWN_SECONDS="1")
    return server


def test_sign_in_over_http_and_the_account_survives_a_restart(make_server: Any) -> None:
    server = _embedded_server(make_server)
    server.serve()
    assert embedded_postgres_pid(server.var_dir) is not None, "the embedded PostgreSQL runs"

    # A local spelling of the number: normalised to E.164 on the way in.
    code = _send_code(server, "90 123 45 67")
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    assert _verify(server, wrong)["code"] == "INVALID_OTP"

    token = _verify(server, code)
    assert token["__typename"] == "Token"
    assert token["tokenType"] == "Bearer"
    assert token["expiresIn"] == 900  # 15 min; refreshSession keeps the session going
    assert token["phoneNumber"] == PHONE
    assert token["role"] == "USER"
    user_id = token["userId"]
    uuid.UUID(user_id)

    assert _me(server, token["accessToken"]) == {
        "id": user_id,
        "phoneNumber": PHONE,
        "role": "USER",
    }
    assert _verify(server, code)["code"] == "INVALID_OTP", "a code is single use"

    # Exits within the stop timeout (whether it exits *cleanly* is the SIGTERM test's job).
    assert server.stop(signal.SIGTERM) is not None, f"ovoz ignored SIGTERM:\n{server.log()}"

    # Same var dir: same database and same secrets.
    server.serve()
    assert _me(server, token["accessToken"])["id"] == user_id, "tokens outlive a restart"
    again = _verify(server, _send_code(server, PHONE))
    assert again["__typename"] == "Token"
    assert again["userId"] == user_id, "the same phone is the same user after a restart"
    assert _me(server, again["accessToken"])["id"] == user_id


def test_me_without_or_with_a_bad_token_is_unauthenticated(make_server: Any) -> None:
    server = _embedded_server(make_server)
    server.serve()
    for token in (None, "not-a-jwt"):
        body = server.graphql(ME, token=token).json()
        assert body.get("data") is None, body
        assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


def test_request_ids_are_echoed_or_generated(make_server: Any) -> None:
    server = _embedded_server(make_server)
    server.serve()
    given = "e2e-request-0001"
    response = server.graphql(ME, headers={"X-Request-ID": given})
    assert response.headers["x-request-id"] == given
    generated = server.graphql(ME).headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    # An id that could forge log lines is replaced, not echoed.
    hostile = server.graphql(ME, headers={"X-Request-ID": "evil id\tinjected"})
    assert hostile.headers["x-request-id"] != "evil id\tinjected"
    assert re.fullmatch(r"[0-9a-f]{32}", hostile.headers["x-request-id"])


def test_sigterm_exits_cleanly_and_stops_the_embedded_postgres(make_server: Any) -> None:
    _stops_cleanly(make_server, signal.SIGTERM)


def test_ctrl_c_exits_cleanly_and_stops_the_embedded_postgres(make_server: Any) -> None:
    _stops_cleanly(make_server, signal.SIGINT)


def test_embedded_postgres_is_stopped_again_after_a_crashed_run(make_server: Any) -> None:
    server = _embedded_server(make_server)
    server.serve()
    server.stop(signal.SIGKILL)  # a crash: nothing of ovoz runs, PostgreSQL stays up
    server.serve()
    assert server.stop(signal.SIGINT) == 0, server.log()
    assert embedded_postgres_pid(server.var_dir) is None, "embedded PostgreSQL still running"


def _stops_cleanly(make_server: Any, sig: signal.Signals) -> None:
    server = _embedded_server(make_server)
    server.serve()
    postgres = embedded_postgres_pid(server.var_dir)
    assert postgres is not None
    rc = server.stop(sig)
    log = server.log()
    assert rc == 0, f"exit code {rc} after {sig.name}:\n{log}"
    assert "Traceback" not in log, log
    assert embedded_postgres_pid(server.var_dir) is None, "embedded PostgreSQL still running"
    assert not (server.var_dir / "postgres" / "postmaster.pid").exists()


@pytest.mark.parametrize(
    ("settings", "named", "not_named"),
    [
        pytest.param(
            {},
            ["JWT_SECRET", "OTP_PEPPER", "PHONE_HMAC_KEY", "MASTER_KEY"],
            [],
            id="no-secrets",
        ),
        pytest.param(
            {
                "JWT_SECRET": "short",
                "OTP_PEPPER": "p" * 48,
                "PHONE_HMAC_KEY": "h" * 48,
                "MASTER_KEY": "m" * 48,
            },
            ["JWT_SECRET"],
            ["OTP_PEPPER", "PHONE_HMAC_KEY", "MASTER_KEY"],
            id="weak-jwt-secret",
        ),
        pytest.param(
            {
                "JWT_SECRET": "j" * 48,
                "OTP_PEPPER": "p" * 48,
                "PHONE_HMAC_KEY": "h" * 48,
                "MASTER_KEY": "m" * 48,
                "SMS_BACKEND": "eskiz",
                "ESKIZ_EMAIL": "ops@example.uz",
                "ESKIZ_PASSWORD": "secret",
                "OTP_TEST_NUMBERS": "+998901234567:123456",
            },
            ["OTP_TEST_NUMBERS"],
            [],
            id="test-numbers",
        ),
    ],
)
def test_production_refuses_unsafe_settings_before_starting(
    make_server: Any, settings: dict[str, str], named: list[str], not_named: list[str]
) -> None:
    server: OvozServer = make_server(ENV="production", **settings)
    started = time.monotonic()
    server.start("serve")
    rc = server.wait_exit(15)
    log = server.log()
    assert rc is not None, f"ovoz started in production with unsafe settings:\n{log}"
    assert rc != 0
    assert time.monotonic() - started < 15
    assert "configuration error" in log
    for name in named:
        assert name in log, log
    for name in not_named:
        assert name not in log, log
    assert "Traceback" not in log, log
    assert not (server.var_dir / "postgres").exists(), "no database was started"
    assert not (server.var_dir / "secrets.json").exists(), "production never writes secrets"


@pytest.fixture
def external_database() -> Any:
    url = os.environ.get("OVOZ_TEST_DATABASE_URL")
    if not url:
        pytest.skip("OVOZ_TEST_DATABASE_URL is not set")
    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    yield url, schema
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def test_sign_in_against_an_external_database_in_its_own_schema(
    make_server: Any, external_database: tuple[str, str]
) -> None:
    url, schema = external_database
    server = make_server(DATABASE_URL=url, DATABASE_SCHEMA=schema, OTP_RESEND_COOLDOWN_SECONDS="1")
    server.serve()
    token = _verify(server, _send_code(server, PHONE))
    assert token["__typename"] == "Token"
    assert _me(server, token["accessToken"])["id"] == token["userId"]
    assert server.stop(signal.SIGINT) == 0, server.log()

    assert not (server.var_dir / "postgres").exists(), "no embedded PostgreSQL was started"
    with psycopg.connect(url, autocommit=True) as conn:
        assert "identity_events" in _tables(conn, schema)
        events = conn.execute(f"SELECT count(*) FROM {schema}.identity_events").fetchone()
        assert events is not None
        assert events[0] >= 3  # OtpRequested, OtpVerified, UserRegistered
        # Personal data is only in (encrypted) payloads: never readable in the log.
        in_clear = conn.execute(
            f"SELECT count(*) FROM {schema}.identity_events WHERE position(%s::bytea in state) > 0",
            (PHONE.encode(),),
        ).fetchone()
        assert in_clear == (0,)


def test_read_models_live_in_the_configured_schema(
    make_server: Any, external_database: tuple[str, str]
) -> None:
    url, schema = external_database
    server = make_server(DATABASE_URL=url, DATABASE_SCHEMA=schema, OTP_RESEND_COOLDOWN_SECONDS="1")
    server.serve()
    token = _verify(server, _send_code(server, PHONE))
    assert token["__typename"] == "Token"
    server.stop(signal.SIGINT)
    with psycopg.connect(url, autocommit=True) as conn:
        assert {"users", "users_tracking"} <= _tables(conn, schema)
        row = conn.execute(
            f"SELECT phone FROM {schema}.users WHERE id = %s", (token["userId"],)
        ).fetchone()
        assert row == (PHONE,)


def _tables(conn: psycopg.Connection[Any], schema: str) -> set[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
    )
    return {r[0] for r in rows}
