"""ASGI middleware around the whole app: request ids, the CSRF rule for multipart
uploads, and body-size limits."""

from __future__ import annotations

import re
import uuid

from starlette.responses import JSONResponse, PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_PREFLIGHT_HEADERS = (b"apollo-require-preflight", b"x-apollo-operation-name")


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


class MultipartPreflightMiddleware:
    """Refuse multipart GraphQL requests without a preflight header (CSRF), as Apollo
    Server does: a browser can send multipart/form-data cross-site without a CORS
    preflight, but not with a custom header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            headers = dict(scope.get("headers", ()))
            content_type = headers.get(b"content-type", b"").lower()
            if content_type.startswith(b"multipart/") and not any(
                headers.get(h) for h in _PREFLIGHT_HEADERS
            ):
                response = PlainTextResponse(
                    "Multipart requests need an Apollo-Require-Preflight or "
                    "X-Apollo-Operation-Name header (CSRF protection).",
                    status_code=400,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class _BodyTooLargeError(Exception):
    pass


class UploadLimitMiddleware:
    """Refuses request bodies past ``max_body`` bytes while they stream in, before they
    are spooled to disk: at once when Content-Length says so, else when the count passes
    the limit. Bodies a little over the file limit (multipart overhead) get through, and
    uploadAudio answers those with its typed FileTooLarge. Anything but a multipart upload
    (a JSON query, which is read into memory) is held to ``max_other_body``."""

    def __init__(self, app: ASGIApp, max_body: int, max_other_body: int = 1024 * 1024) -> None:
        self.app = app
        self.max_upload_body = max_body
        self.max_other_body = max_other_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        multipart = headers.get(b"content-type", b"").lower().startswith(b"multipart/")
        limit = self.max_upload_body if multipart else self.max_other_body
        declared = headers.get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLargeError
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _BodyTooLargeError:
            if not started:
                await self._refuse(scope, receive, send, limit)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = JSONResponse(
            {
                "errors": [
                    {
                        "message": "Request body too large.",
                        "extensions": {"code": "FILE_TOO_LARGE", "maxBytes": limit},
                    }
                ]
            },
            status_code=413,
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
