"""Requests refused before any operation runs, answered in the GraphQL-over-HTTP shape.

Every refusal is ``{"errors": [{"message": …, "extensions": {"code": …}}]}`` with a 4xx
status, so a GraphQL client shows the reason instead of "Bad Request", and a program can act
on the code. Strawberry signals its own refusals as ``HTTPException``s with plain-text
reasons; ``refusal_of`` gives each of those a code too.
"""

from __future__ import annotations

from collections.abc import Mapping

from cross_web import HTTPException
from starlette.responses import JSONResponse
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from graphql_api.bounded_json import MAX_JSON_DEPTH, JsonTooDeepError
from graphql_api.messages import message

# Apollo's persisted-query link falls back to sending the full query when it reads this
# message or code (apollo-client src/link/persisted-queries); Apollo Server answers it
# with 200 and no caching, and so do we. The message is protocol, not prose.
PERSISTED_QUERY_NOT_SUPPORTED = "PersistedQueryNotSupported"

# Strawberry's reason when a JSON array (a batch) arrives and batching is off; it raises
# this with no cause to tell it apart, so the reason is matched (a test pins it).
_STRAWBERRY_BATCHING_OFF = "Batching is not enabled"


class Refusal(Exception):
    """A request refused with ``status`` and a stable ``code``; its message comes from
    graphql_api.messages in the caller's language unless ``literal`` fixes it."""

    def __init__(
        self,
        status: int,
        code: str,
        *,
        params: Mapping[str, object] | None = None,
        extensions: Mapping[str, object] | None = None,
        headers: Mapping[str, str] | None = None,
        literal: str | None = None,
    ) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.params = dict(params or {})
        self.extensions = dict(extensions or {})
        self.headers = dict(headers or {})
        self.literal = literal

    def response(self, locale: str) -> JSONResponse:
        text = self.literal or message(self.code, locale, **self.params)
        error = {"message": text, "extensions": {"code": self.code, **self.extensions}}
        return JSONResponse({"errors": [error]}, status_code=self.status, headers=self.headers)


def bad_request(detail: str, **extensions: object) -> Refusal:
    return Refusal(400, "BAD_REQUEST", params={"detail": detail}, extensions=extensions)


def method_not_allowed() -> Refusal:
    return Refusal(405, "METHOD_NOT_ALLOWED", headers={"Allow": "POST"})


def subscription_over_http() -> Refusal:
    return Refusal(400, "OPERATION_NOT_SUPPORTED")


def batching_not_supported() -> Refusal:
    return Refusal(400, "BATCHING_NOT_SUPPORTED")


def persisted_query_not_supported() -> Refusal:
    return Refusal(
        200,
        "PERSISTED_QUERY_NOT_SUPPORTED",
        headers={"Cache-Control": "private, no-cache, must-revalidate"},
        literal=PERSISTED_QUERY_NOT_SUPPORTED,
    )


def preflight_required() -> Refusal:
    return Refusal(400, "PREFLIGHT_REQUIRED")


def unauthenticated() -> Refusal:
    # Connection: close, because this is answered before the body is read: uvicorn would
    # otherwise read (and drop) the whole upload to keep the connection alive.
    return Refusal(
        401,
        "UNAUTHENTICATED",
        headers={"WWW-Authenticate": "Bearer", "Connection": "close"},
    )


def request_timeout() -> Refusal:
    return Refusal(408, "REQUEST_TIMEOUT", headers={"Connection": "close"})


def request_too_large(limit: int) -> Refusal:
    """A JSON request (read into memory) past ``limit`` bytes."""
    return Refusal(
        413,
        "REQUEST_TOO_LARGE",
        params={"max_kb": max(1, limit // 1024)},
        extensions={"maxBytes": limit},
        headers={"Connection": "close"},  # rather than read (and drop) the rest of the body
    )


def upload_too_large(limit: int, max_file: int) -> Refusal:
    """A multipart body past ``limit`` bytes: its file is past ``max_file``, the limit
    uploadAudio answers with FILE_TOO_LARGE too."""
    return Refusal(
        413,
        "FILE_TOO_LARGE",
        params={"max_mb": max_file // (1024 * 1024)},
        extensions={"maxBytes": limit},
        headers={"Connection": "close"},
    )


def refusal_of(error: HTTPException, method: str) -> Refusal:
    """The coded refusal for one of Strawberry's plain-text ``HTTPException``s."""
    cause = error.__cause__
    if isinstance(cause, InvalidOperationTypeError) and (
        cause.operation_type is OperationType.SUBSCRIPTION
    ):
        return subscription_over_http()
    if method != "POST" or error.status_code in {404, 405}:
        return method_not_allowed()  # GET serves GraphiQL in development, nothing else
    if isinstance(cause, JsonTooDeepError):
        return bad_request(cause.msg, maxDepth=MAX_JSON_DEPTH)
    if error.reason == _STRAWBERRY_BATCHING_OFF:
        return batching_not_supported()
    return bad_request(error.reason.rstrip("."))
