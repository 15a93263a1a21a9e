"""The ASGI application: /graphql (HTTP and WebSocket) and a health check."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from graphql_api.context import Context, Services
from graphql_api.messages import negotiate_locale
from graphql_api.schema import build_schema

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
_PREFLIGHT_HEADERS = (b"apollo-require-preflight", b"x-apollo-operation-name")


class OvozGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with our typed context."""

    def __init__(self, services: Services, *, production: bool, **kwargs: Any) -> None:
        super().__init__(build_schema(production=production), **kwargs)
        self.services = services

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        return Context(
            request=request,
            response=response,
            services=self.services,
            locale=negotiate_locale(request.headers.get("accept-language")),
            request_id=request.scope.get("state", {}).get("request_id", "-"),
            principal=self._principal(request.headers.get("authorization")),
        )

    def _principal(self, authorization: str | None) -> Any:
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.services.tokens.verify(token.strip())


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


async def _health(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _home(_: Request) -> Response:
    return RedirectResponse("/graphql")


def create_app(
    services: Services,
    *,
    production: bool,
    allowed_origins: Sequence[str] = (),
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
) -> Starlette:
    graphql = OvozGraphQL(
        services,
        production=production,
        graphql_ide=None if production else "graphiql",
        allow_queries_via_get=False,
        subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
        connection_init_wait_timeout=timedelta(seconds=10),
        multipart_uploads_enabled=True,
        max_subscriptions_per_connection=20,
        allowed_origins=allowed_origins,
    )
    app = Starlette(
        routes=[
            Route("/", _home),
            Route("/healthz", _health),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
        ],
        lifespan=lifespan,
    )
    app.add_middleware(MultipartPreflightMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app
