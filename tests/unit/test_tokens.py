"""Access tokens: HS256 JWTs whose every claim is required and checked."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt
import pytest

from domain.identity import Role
from infrastructure.tokens import Tokens

SECRET = b"s" * 64
ISSUER = "ovoz"
AUDIENCE = "ovoz-api"
TTL = 3600
USER_ID = uuid.UUID("12345678-1234-4234-8234-123456789abc")
SESSION = uuid.UUID("87654321-4321-4321-8321-cba987654321")
REQUIRED = ["sub", "exp", "iat", "jti", "iss", "aud", "role"]


@pytest.fixture
def tokens() -> Tokens:
    return Tokens(SECRET, ISSUER, AUDIENCE, TTL)


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "sub": str(USER_ID),
        "iat": now,
        "exp": now + TTL,
        "jti": uuid.uuid4().hex,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "role": "USER",
        "sid": str(SESSION),
    }
    base.update(overrides)
    return base


def encode(payload: dict[str, Any], key: bytes = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(payload, key, algorithm=algorithm)


def b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


# -- the good path -----------------------------------------------------------------------


def test_issued_token_verifies_to_its_user_and_role(tokens: Tokens) -> None:
    issued = tokens.issue(USER_ID, Role.USER, SESSION)
    principal = tokens.verify(issued.token)
    assert principal is not None
    assert principal.user_id == USER_ID
    assert principal.role is Role.USER
    assert issued.expires_in == TTL


def test_admin_role_survives_the_round_trip(tokens: Tokens) -> None:
    principal = tokens.verify(tokens.issue(USER_ID, Role.ADMIN, SESSION).token)
    assert principal is not None
    assert principal.role is Role.ADMIN
    assert principal.is_admin


def test_issued_token_is_hs256_with_every_required_claim(tokens: Tokens) -> None:
    now = time.time()
    token = tokens.issue(USER_ID, Role.USER, SESSION, now=now).token
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    payload = jwt.decode(token, SECRET, algorithms=["HS256"], audience=AUDIENCE)
    assert set(REQUIRED) <= set(payload)
    assert payload["sub"] == str(USER_ID)
    assert payload["iss"] == ISSUER
    assert payload["aud"] == AUDIENCE
    assert payload["role"] == "USER"
    assert payload["iat"] == int(now)
    assert payload["exp"] == int(now) + TTL


def test_expiry_follows_the_configured_ttl() -> None:
    short = Tokens(SECRET, ISSUER, AUDIENCE, ttl_seconds=120)
    now = time.time()
    issued = short.issue(USER_ID, Role.USER, SESSION, now=now)
    assert issued.expires_in == 120
    principal = short.verify(issued.token)
    assert principal is not None
    assert principal.expires_at == float(int(now) + 120)


def test_each_token_has_its_own_jti(tokens: Tokens) -> None:
    first = jwt.decode(
        tokens.issue(USER_ID, Role.USER, SESSION).token, options={"verify_signature": False}
    )
    second = jwt.decode(
        tokens.issue(USER_ID, Role.USER, SESSION).token, options={"verify_signature": False}
    )
    assert first["jti"] != second["jti"]


def test_hand_made_token_with_all_claims_is_accepted(tokens: Tokens) -> None:
    # The control for the refusals below: the same construction, nothing missing.
    principal = tokens.verify(encode(claims()))
    assert principal is not None
    assert principal.user_id == USER_ID


# -- refusals ----------------------------------------------------------------------------


def test_expired_token_is_refused(tokens: Tokens) -> None:
    token = tokens.issue(USER_ID, Role.USER, SESSION, now=time.time() - TTL - 5).token
    assert tokens.verify(token) is None


def test_token_signed_with_another_secret_is_refused(tokens: Tokens) -> None:
    assert tokens.verify(encode(claims(), key=b"x" * 48)) is None


def test_token_with_tampered_payload_is_refused(tokens: Tokens) -> None:
    header, _, signature = tokens.issue(USER_ID, Role.USER, SESSION).token.split(".")
    forged = f"{header}.{b64(claims(role='ADMIN'))}.{signature}"
    assert tokens.verify(forged) is None


def test_token_with_stripped_signature_is_refused(tokens: Tokens) -> None:
    header, payload, _ = tokens.issue(USER_ID, Role.USER, SESSION).token.split(".")
    assert tokens.verify(f"{header}.{payload}.") is None


def test_token_for_another_audience_is_refused(tokens: Tokens) -> None:
    assert tokens.verify(encode(claims(aud="another-api"))) is None
    other = Tokens(SECRET, ISSUER, "another-api", TTL)
    assert tokens.verify(other.issue(USER_ID, Role.USER, SESSION).token) is None


def test_token_from_another_issuer_is_refused(tokens: Tokens) -> None:
    assert tokens.verify(encode(claims(iss="someone-else"))) is None
    other = Tokens(SECRET, "someone-else", AUDIENCE, TTL)
    assert tokens.verify(other.issue(USER_ID, Role.USER, SESSION).token) is None


@pytest.mark.parametrize("missing", REQUIRED)
def test_token_missing_a_required_claim_is_refused(tokens: Tokens, missing: str) -> None:
    payload = claims()
    del payload[missing]
    assert tokens.verify(encode(payload)) is None


def test_alg_none_token_is_refused(tokens: Tokens) -> None:
    unsigned = jwt.encode(claims(), None, algorithm="none")  # type: ignore[arg-type]
    assert jwt.get_unverified_header(unsigned)["alg"] == "none"
    assert tokens.verify(unsigned) is None


def test_hand_made_alg_none_token_with_trailing_signature_is_refused(tokens: Tokens) -> None:
    good_signature = tokens.issue(USER_ID, Role.USER, SESSION).token.split(".")[2]
    header = b64({"alg": "none", "typ": "JWT"})
    assert tokens.verify(f"{header}.{b64(claims())}.") is None
    assert tokens.verify(f"{header}.{b64(claims())}.{good_signature}") is None


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_token_with_another_algorithm_is_refused(tokens: Tokens, algorithm: str) -> None:
    assert tokens.verify(encode(claims(), algorithm=algorithm)) is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "abc",
        "a.b.c",
        "...",
        "Bearer x.y.z",
        "eyJhbGciOiJIUzI1NiJ9",
        "eyJhbGciOiJIUzI1NiJ9.e30",
        "\x00\x01\x02",
        "é.é.é",
        "x" * 10_000,
    ],
)
def test_garbage_is_refused(tokens: Tokens, garbage: str) -> None:
    assert tokens.verify(garbage) is None


@pytest.mark.parametrize(
    "overrides",
    [
        {"sub": "not-a-uuid"},
        {"sub": 12345},
        {"sub": {"id": str(USER_ID)}},
        {"role": "ROOT"},
        {"role": "admin"},
        {"role": None},
        {"role": ["ADMIN"]},
        {"jti": 7},
        {"exp": "tomorrow"},
        {"aud": ["another-api"]},
    ],
)
def test_token_with_ill_typed_claims_is_refused(tokens: Tokens, overrides: dict[str, Any]) -> None:
    assert tokens.verify(encode(claims(**overrides))) is None
