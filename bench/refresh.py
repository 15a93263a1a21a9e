"""refreshSession round trips vs a bare endpoint doing the same one-row read and write.

Each lane is one session, used by one request at a time (a refresh token presented twice
would be reuse, and end the session): an operation takes a free lane, rotates its token,
and gives the lane back with the new token.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import uuid
from typing import Any

import httpx
import psycopg

from bench.entries import TEST_CODE, _graphql, _json, phones
from bench.load import Operation, OperationFailed

# Fixed-code test phones whose sessions the lanes are (bench servers know their code).
REFRESHERS = phones(8_000_001, 16)

_SEND = "mutation($p: String!) { sendOtp(phoneNumber: $p) { __typename } }"
_VERIFY = (
    "mutation($p: String!, $c: String!) { verifyOtp(phoneNumber: $p, otpCode: $c) {"
    " __typename ... on Token { refreshToken } ... on Error { code } } }"
)
_REFRESH = (
    "mutation($r: String!) { refreshSession(refreshToken: $r) {"
    " __typename ... on Token { accessToken refreshToken } ... on Error { code } } }"
)
# The baseline's one row per session: the hash of its current refresh token.
SESSIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_sessions (id uuid PRIMARY KEY, user_id uuid NOT NULL,"
    " refresh_hash text NOT NULL, last_used_at timestamptz NOT NULL DEFAULT now())"
)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Lanes:
    """Sessions, each in use by at most one request at a time."""

    def __init__(self, tokens: list[Any]) -> None:
        self.tokens = tokens
        self._free: asyncio.Queue[int] | None = None

    async def take(self) -> int:
        if self._free is None:  # made on the measuring loop
            self._free = asyncio.Queue()
            for lane in range(len(self.tokens)):
                self._free.put_nowait(lane)
        return await self._free.get()

    def give_back(self, lane: int) -> None:
        assert self._free is not None
        self._free.put_nowait(lane)


def ovoz_lanes(url: str, count: int) -> Lanes:
    """Sign in ``count`` test phones: one session each."""
    tokens = []
    with httpx.Client(base_url=url, timeout=60.0) as client:
        for phone in REFRESHERS[:count]:
            _json(client.post("/graphql", json={"query": _SEND, "variables": {"p": phone}}))
            body = _json(
                client.post(
                    "/graphql",
                    json={"query": _VERIFY, "variables": {"p": phone, "c": TEST_CODE}},
                )
            )
            token = body["data"]["verifyOtp"]
            if token.get("__typename") != "Token":
                raise OperationFailed(f"verifyOtp: {token}")
            tokens.append(token["refreshToken"])
    return Lanes(tokens)


def baseline_lanes(database_url: str, schema: str, count: int) -> Lanes:
    """``count`` rows in the baseline's sessions table: (session id, token) per lane."""
    lanes = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"SET search_path TO {schema}")
        conn.execute(SESSIONS_TABLE)
        for _ in range(count):
            sid, token = uuid.uuid4(), secrets.token_urlsafe(32)
            conn.execute(
                "INSERT INTO bench_sessions (id, user_id, refresh_hash) VALUES (%s, %s, %s)",
                (sid, uuid.uuid4(), token_hash(token)),
            )
            lanes.append((str(sid), token))
    return Lanes(lanes)


def refresh_ovoz(lanes: Lanes) -> Operation:
    async def op(client: httpx.AsyncClient, _: int) -> None:
        lane = await lanes.take()
        try:
            data = await _graphql(client, _REFRESH, {"r": lanes.tokens[lane]})
            result = data["refreshSession"]
            if result.get("__typename") != "Token":
                raise OperationFailed(f"refreshSession: {result}")
            lanes.tokens[lane] = result["refreshToken"]
        finally:
            lanes.give_back(lane)

    return op


def refresh_baseline(lanes: Lanes) -> Operation:
    async def op(client: httpx.AsyncClient, _: int) -> None:
        lane = await lanes.take()
        try:
            sid, token = lanes.tokens[lane]
            body = _json(await client.post("/refresh", json={"id": sid, "token": token}))
            if "refreshToken" not in body:
                raise OperationFailed(f"refresh: {body}")
            lanes.tokens[lane] = (sid, body["refreshToken"])
        finally:
            lanes.give_back(lane)

    return op
