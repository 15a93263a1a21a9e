"""Authentication: the one path from an ``Authorization`` header to a current Principal,
for GraphQL over HTTP, each WebSocket subscription and the file endpoints."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket

from domain.access import Principal, Scope
from domain.api_keys import API_KEY_PREFIX
from graphql_api.context import Context, Services
from graphql_api.permissions import NotAuthenticatedError, allowed


def bearer_token(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def authenticate(services: Services, authorization: str | None) -> Principal | None:
    """The caller a valid token names, as they are now (account alive, current role)."""
    token = bearer_token(authorization)
    if token and token.startswith(API_KEY_PREFIX):
        return await _api_key(services, token)
    claimed = services.tokens.verify(token) if token else None
    if claimed is None:
        return None
    known, current = services.callers.peek(claimed)
    if known:
        return current
    return await run_in_threadpool(services.callers.check, claimed)


async def _api_key(services: Services, token: str) -> Principal | None:
    keys = services.api_keys
    if keys is None:
        return None
    known, principal = keys.peek(token)
    return principal if known else await run_in_threadpool(keys.check, token)


async def current_principal(context: Context, scope: Scope | None = None) -> Principal:
    """The caller of this operation. An HTTP request was authenticated when it arrived;
    a WebSocket was authenticated when it connected, possibly long ago, so each
    subscription (and each event it sends) checks again."""
    if isinstance(context.request, WebSocket) and context.principal is not None:
        context.principal = await authenticate(context.services, context.authorization)
    if context.principal is None:
        raise NotAuthenticatedError(context.locale)
    return allowed(context.principal, scope, context.locale)
