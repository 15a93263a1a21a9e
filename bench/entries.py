"""The benchmark entries: each an ovoz operation and its baseline twin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.load import Operation, OperationFailed

TEST_CODE = "246810"

_SEND = "mutation($p: String!) { sendOtp(phoneNumber: $p) { __typename ... on Error { code } } }"
_VERIFY = (
    "mutation($p: String!, $c: String!) { verifyOtp(phoneNumber: $p, otpCode: $c) {"
    " __typename ... on Token { accessToken userId } ... on Error { code } } }"
)
_ME = "{ me { id role } }"


def phones(start: int, count: int) -> list[str]:
    """Distinct valid Uzbek mobile numbers, one per sign-in (no rate limit is hit)."""
    return [f"+99890{n:07d}" for n in range(start, start + count)]


def _json(response: httpx.Response) -> Any:
    if response.status_code != 200:
        raise OperationFailed(f"HTTP {response.status_code}: {response.text[:200]}")
    return response.json()


async def _graphql(
    client: httpx.AsyncClient, query: str, variables: dict[str, Any], token: str | None = None
) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = _json(
        await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    )
    if body.get("errors"):
        raise OperationFailed(str(body["errors"])[:200])
    return body["data"]


@dataclass
class SignIn:
    """sendOtp then verifyOtp for a fresh phone: one round trip, two requests."""

    phones: Sequence[str]
    tokens: dict[str, str] = field(default_factory=dict)  # user id -> access token
    signed_in: list[str] = field(default_factory=list)  # phones ovoz signed in

    def ovoz(self) -> Operation:
        async def op(client: httpx.AsyncClient, i: int) -> None:
            phone = self.phones[i]
            sent = (await _graphql(client, _SEND, {"p": phone}))["sendOtp"]
            if sent["__typename"] != "OtpSent":
                raise OperationFailed(f"sendOtp: {sent}")
            token = (await _graphql(client, _VERIFY, {"p": phone, "c": TEST_CODE}))["verifyOtp"]
            if token["__typename"] != "Token":
                raise OperationFailed(f"verifyOtp: {token}")
            self.tokens[token["userId"]] = token["accessToken"]
            self.signed_in.append(phone)

        return op

    def baseline(self) -> Operation:
        """The same reads, for the phones ovoz signed in (their challenges exist)."""

        async def op(client: httpx.AsyncClient, i: int) -> None:
            phone = self.signed_in[i % len(self.signed_in)]
            for path in ("/otp/send", "/otp/verify"):
                body = _json(await client.post(path, json={"phone": phone, "code": TEST_CODE}))
                if body.get("phone") != phone:
                    raise OperationFailed(f"{path}: {body}")

        return op


@dataclass
class Me:
    """`{ me { id role } }` with a bearer token: one request."""

    tokens: Sequence[tuple[str, str]]  # (user id, token)

    def _pick(self, i: int) -> tuple[str, str]:
        return self.tokens[i % len(self.tokens)]

    def ovoz(self) -> Operation:
        async def op(client: httpx.AsyncClient, i: int) -> None:
            user_id, token = self._pick(i)
            me = (await _graphql(client, _ME, {}, token))["me"]
            if me["id"] != user_id:
                raise OperationFailed(f"me: {me}")

        return op

    def baseline(self) -> Operation:
        async def op(client: httpx.AsyncClient, i: int) -> None:
            user_id, token = self._pick(i)
            body = _json(await client.post("/me", headers={"Authorization": f"Bearer {token}"}))
            if body["data"]["me"]["id"] != user_id:
                raise OperationFailed(f"me: {body}")

        return op


async def ping(client: httpx.AsyncClient, _: int) -> None:
    """No database, no work: how fast the load generator itself can go."""
    _json(await client.get("/healthz"))
