"""What the API-key tests share: the documents, making a key through GraphQL, and asking
with one."""

from __future__ import annotations

import json
from typing import Any

import httpx
from starlette.applications import Starlette

from tests.integration.helpers import asgi, gql

CREATE_M = """mutation($name: String!, $scopes: [ApiScope!]!) {
  createApiKey(name: $name, scopes: $scopes) {
    __typename
    ... on NewApiKey { key apiKey { id name prefix scopes createdAt lastUsedAt } }
    ... on Error { code message }
    ... on InvalidApiKeyInput { argument }
    ... on ApiKeyLimitReached { limit }
  }
}"""
KEYS_Q = "{ apiKeys { id name prefix scopes createdAt lastUsedAt } }"
REVOKE_M = """mutation($id: ID!) {
  revokeApiKey(id: $id) { __typename ... on RevokedApiKey { id } ... on Error { code message } }
}"""
AUDIOS_Q = "{ audios { total items { id } } }"


def create_key(app: Starlette, token: str, *scopes: str, name: str = "script") -> dict[str, Any]:
    """A new key (``key`` and ``apiKey``) made by the holder of ``token``."""
    made: dict[str, Any] = gql(app, token, CREATE_M, name=name, scopes=list(scopes))["createApiKey"]
    assert made["__typename"] == "NewApiKey", made
    return made


def post(app: Starlette, credential: str, query: str, **variables: Any) -> dict[str, Any]:
    """The whole GraphQL response (data and errors) to a request with ``credential``."""
    # json.dumps escapes lone surrogates (\\ud800), as a hostile client's JSON would.
    response = asgi(
        app,
        "POST",
        content=json.dumps({"query": query, "variables": variables}),
        headers={"Authorization": f"Bearer {credential}", "Content-Type": "application/json"},
    )
    body: dict[str, Any] = response.json()
    return body


def error_codes(body: dict[str, Any]) -> list[str | None]:
    return [(e.get("extensions") or {}).get("code") for e in body.get("errors", [])]


def download(app: Starlette, credential: str, path: str) -> httpx.Response:
    return asgi(app, "GET", path, headers={"Authorization": f"Bearer {credential}"})
