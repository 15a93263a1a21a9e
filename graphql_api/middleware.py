"""ASGI middleware around the whole app: request ids, the checks of a multipart upload
before its body is read (CSRF, authentication), and bounds on request bodies (size, rate)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.access import Principal
from graphql_api.messages import negotiate_locale
from graphql_api.refusals import (
    Refusal,
    preflight_required,
    request_timeout,
    request_too_large,
    unauthenticated,
    upload_too_large,
)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_PREFLIGHT_HEADERS = ("apollo-require-preflight", "x-apollo-operation-name")


class RequestIdMiddleware:
    """Gives every request an id (the client's X-Request-ID if sane), echoed back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", ())).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_id)


Authenticate = Callable[[str | None], Awaitable[Principal | None]]


class MultipartGateMiddleware:
    """Checks a multipart upload from its headers alone, before a byte of its body is
    read: refused without a preflight header (CSRF: a browser can send multipart/form-data
    cross-site without a CORS preflight, but not with a custom header, as Apollo Server
    rules), and refused without a valid bearer token (``authenticate``, the one check
    GraphQL uses), so that an anonymous client cannot make the server spool a large body."""

    def __init__(self, app: ASGIApp, authenticate: Authenticate) -> None:
        self.app = app
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            refusal = await self._refusal(Headers(scope=scope))
            if refusal is not None:
                locale = negotiate_locale(Headers(scope=scope).get("accept-language"))
                await refusal.response(locale)(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _refusal(self, headers: Headers) -> Refusal | None:
        if not headers.get("content-type", "").lower().startswith("multipart/"):
            return None
        if not any(headers.get(h) for h in _PREFLIGHT_HEADERS):
            return preflight_required()
        if await self.authenticate(headers.get("authorization")) is None:
            return unauthenticated()
        return None


class _BodyTooSlowError(Exception):
    pass


class BodyRateMiddleware:
    """Bounds how slowly a request body may arrive: at least ``min_rate`` bytes a second
    on average, after ``grace`` seconds (a body of n bytes has ``grace + n / min_rate``).
    A client trickling a byte every few seconds would otherwise hold a connection, a
    task and a spooled file for as long as it likes. Time counts only while the app
    waits for the body; a late body is answered 408 (if nothing was answered yet) and
    the connection closed."""

    def __init__(self, app: ASGIApp, grace: float, min_rate: float) -> None:
        self.app = app
        self.grace = grace
        self.min_rate = min_rate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        started_at = loop.time()
        received = 0
        complete = False

        async def timed_receive() -> Message:
            nonlocal received, complete
            if complete:  # after the body: a wait for the disconnect, not for data
                return await receive()
            deadline = started_at + self.grace + received / self.min_rate
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _BodyTooSlowError from None
            received += len(message.get("body", b""))
            complete = message["type"] != "http.request" or not message.get("more_body")
            return message

        send, responded = _tracking(send)
        try:
            await self.app(scope, timed_receive, send)
        except _BodyTooSlowError:
            if not responded():
                locale = negotiate_locale(Headers(scope=scope).get("accept-language"))
                await request_timeout().response(locale)(scope, receive, send)


def _tracking(send: Send) -> tuple[Send, Callable[[], bool]]:
    """``send`` passed through, and whether a response has started (after which a
    refusal can no longer be sent in its place)."""
    started = False

    async def tracking_send(message: Message) -> None:
        nonlocal started
        started = started or message["type"] == "http.response.start"
        await send(message)

    return tracking_send, lambda: started


class _BodyTooLargeError(Exception):
    pass


class UploadLimitMiddleware:
    """Refuses request bodies past ``max_body`` bytes while they stream in, before they
    are spooled to disk: at once when Content-Length says so, else when the count passes
    the limit. Bodies a little over the file limit (multipart overhead) get through, and
    uploadAudio answers those with its typed FileTooLarge. Anything but a multipart upload
    (a JSON query, which is read into memory) is held to ``max_other_body``."""

    def __init__(
        self,
        app: ASGIApp,
        max_body: int,
        max_other_body: int = 1024 * 1024,
        max_file: int | None = None,
    ) -> None:
        self.app = app
        self.max_upload_body = max_body
        self.max_other_body = max_other_body
        self.max_file = max_body if max_file is None else max_file  # named in the message

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        limit = self.max_upload_body if multipart else self.max_other_body
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit, multipart)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLargeError
            return message

        send, started = _tracking(send)
        try:
            await self.app(scope, counting_receive, send)
        except _BodyTooLargeError:
            if not started():
                await self._refuse(scope, receive, send, limit, multipart)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, limit: int, multipart: bool
    ) -> None:
        refusal = upload_too_large(limit, self.max_file) if multipart else request_too_large(limit)
        locale = negotiate_locale(Headers(scope=scope).get("accept-language"))
        await refusal.response(locale)(scope, receive, send)
