"""The ASGI application: /graphql (HTTP and WebSocket) and a health check."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import timedelta
from pathlib import Path
from typing import Any

from cross_web import AsyncHTTPRequestAdapter, HTTPException
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.http import GraphQLRequestData
from strawberry.http.base import BaseRequestProtocol
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from domain.access import Principal
from graphql_api import bounded_json, request_body
from graphql_api.auth import authenticate
from graphql_api.cache import ResponseCache, serve_cached
from graphql_api.context import Context, Services
from graphql_api.files import audio_file_endpoint, transcript_endpoint
from graphql_api.identity.sessions import SESSION_PATH
from graphql_api.messages import negotiate_locale
from graphql_api.middleware import (
    BodyRateMiddleware,
    MultipartGateMiddleware,
    RequestIdMiddleware,
    UploadLimitMiddleware,
)
from graphql_api.refusals import (
    Refusal,
    bad_request,
    persisted_query_not_supported,
    refusal_of,
)
from graphql_api.schema import build_schema
from graphql_api.web import PAGE_HEADERS, WebClient

_MULTIPART_SLACK = 1024 * 1024  # room for the operations and map parts around the file


class OvozGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI view with our typed context."""

    def __init__(
        self,
        services: Services,
        *,
        production: bool,
        web_dir: Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(build_schema(production=production), **kwargs)
        self.services = services
        self.cache = ResponseCache()
        self.web_dir = web_dir

    async def render_graphql_ide(self, request: Request) -> Response:
        """GraphiQL as the web client's build serves it (web/graphiql.html: every script
        and style from this origin, under the same policy as the app); Strawberry's page,
        which loads GraphiQL from a CDN, only where no client was built."""
        page = self.web_dir / "graphiql.html" if self.web_dir is not None else None
        if page is not None and await run_in_threadpool(page.is_file):
            html = await run_in_threadpool(page.read_text, "utf-8")
            return HTMLResponse(html, headers={**PAGE_HEADERS, "Cache-Control": "no-cache"})
        return await super().render_graphql_ide(request)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("method") == "POST":
            await self._with_cache(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        finally:
            expiry = scope.get("state", {}).pop("expiry_timer", None)
            if expiry is not None:  # the socket is gone: drop its token-expiry timer
                expiry.cancel()

    async def _with_cache(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer recordings-only queries from the exact cache (see graphql_api.cache)."""
        await serve_cached(
            self.cache,
            scope,
            receive,
            send,
            view=super().__call__,
            authenticate=self._principal,
            freshness=self.services.audios.freshness,
            in_flight=self.services.queue.in_flight if self.services.queue else None,
        )

    async def run(  # type: ignore[override]
        self,
        request: Request | WebSocket,
        context: Context | UnsetType = UNSET,
        root_value: UnsetType | None = UNSET,
    ) -> Response | WebSocket:
        """Strawberry's request handling, with every refusal in the GraphQL error shape
        (Strawberry answers its own in plain text)."""
        try:
            return await super().run(request, context, root_value)  # type: ignore[arg-type]
        except Refusal as refused:
            refusal = refused
        except HTTPException as refused:
            refusal = refusal_of(refused, request.scope.get("method", ""))
        return refusal.response(negotiate_locale(request.headers.get("accept-language")))

    async def parse_http_body(
        self, request: AsyncHTTPRequestAdapter
    ) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        # Apollo's automatic persisted queries: told they are unsupported, its link sends
        # the full query instead (with or without one here, the hash is not honoured).
        if isinstance(data, GraphQLRequestData) and "persistedQuery" in (data.extensions or {}):
            raise persisted_query_not_supported()
        return data

    def decode_json(self, data: str | bytes) -> object:
        return bounded_json.loads(data)

    def parse_json(self, data: str | bytes) -> dict[str, Any] | list[Any]:
        # Every JSON document a request carries is an object (or a batch): see request_body.
        return request_body.json_container(super().parse_json(data))

    async def parse_multipart(self, request: AsyncHTTPRequestAdapter) -> dict[str, Any]:
        """Strawberry's, with every unreadable form a 400 in our shape: Starlette refuses
        a bad form (a 5,000-character filename, a field over 1 MiB) with its own plain-text
        ``HTTPException``, and Strawberry trusts the map's shape (see request_body)."""
        try:
            form = (await request.get_form_data()).form
        except (ValueError, StarletteHTTPException) as error:
            detail = getattr(error, "detail", None) or "the multipart body cannot be parsed"
            raise bad_request(str(detail).rstrip(".")) from error
        operations = form.get("operations", "{}")
        paths = form.get("map", "{}")
        if isinstance(operations, bytes | str):
            operations = self.parse_json(operations)
        if isinstance(paths, bytes | str):
            paths = self.parse_json(paths)
        return request_body.with_files(operations, request_body.files_map(paths), form)

    def should_render_graphql_ide(self, request: BaseRequestProtocol) -> bool:
        # A GET with GraphQL parameters (Apollo's hashed queries) is an API call, whatever
        # its Accept header says; it gets the JSON answer, not the GraphiQL page.
        params = request.query_params
        return "extensions" not in params and super().should_render_graphql_ide(request)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket | None = None
    ) -> Context:
        return Context(
            request=request,
            response=response,
            services=self.services,
            locale=negotiate_locale(request.headers.get("accept-language")),
            request_id=request.scope.get("state", {}).get("request_id", "-"),
            principal=await self._principal(request.headers.get("authorization")),
            authorization=request.headers.get("authorization"),
        )

    async def on_ws_connect(self, context: Context) -> dict[str, object] | None:
        """Authenticate a WebSocket from its connection_init payload; close it when the
        token expires (nothing re-checks a token on a live socket otherwise)."""
        params = context.connection_params if isinstance(context.connection_params, dict) else {}
        authorization = next(
            (str(v) for k, v in params.items() if str(k).lower() == "authorization"), None
        )
        principal = await self._principal(authorization)
        if principal is None:
            raise ConnectionRejectionError({"code": "UNAUTHENTICATED"})
        context.principal = principal
        context.authorization = authorization
        websocket = context.request
        if isinstance(websocket, WebSocket):
            delay = max(0.0, principal.expires_at - time.time())
            loop = asyncio.get_running_loop()
            timer = loop.call_later(delay, _close_expired, websocket)
            websocket.scope.setdefault("state", {})["expiry_timer"] = timer
        return None

    async def _principal(self, authorization: str | None) -> Principal | None:
        return await authenticate(self.services, authorization)


def _close_expired(websocket: WebSocket) -> None:
    if websocket.application_state == WebSocketState.CONNECTED:
        asyncio.ensure_future(websocket.close(code=4403, reason="token expired"))  # noqa: RUF006


async def _health(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _home(_: Request) -> Response:
    return RedirectResponse("/graphql")


def create_app(
    services: Services,
    *,
    production: bool,
    max_upload_bytes: int = 500 * 1024 * 1024,
    allowed_origins: Sequence[str] = (),
    request_timeout: float = 10.0,
    min_body_rate: float = 1024.0,
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
    web_dir: Path | None = None,
) -> Starlette:
    """The whole HTTP surface. ``web_dir``: the built web client, served at ``/`` (None:
    ``/`` leads to GraphiQL, as for tests that need no client)."""
    graphql = OvozGraphQL(
        services,
        production=production,
        web_dir=web_dir,
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
            Route("/healthz", _health),
            Route("/graphql", graphql),  # every method: the view answers the ones it refuses
            WebSocketRoute("/graphql", graphql),
            # The same API where the browser sends its refresh cookie (and only there).
            Route(SESSION_PATH, graphql),
            Route("/audio/{audio_id}/file", audio_file_endpoint(services), methods=["GET", "HEAD"]),
            Route("/audio/{audio_id}/transcript.{fmt}", transcript_endpoint(services)),
            # Last: every other path is the web client's (its pages and assets).
            Mount("/", WebClient(web_dir)) if web_dir is not None else Route("/", _home),
        ],
        lifespan=lifespan,
    )
    app.state.graphql = graphql
    app.add_middleware(
        UploadLimitMiddleware,
        max_body=max_upload_bytes + _MULTIPART_SLACK,
        max_file=max_upload_bytes,
    )
    app.add_middleware(BodyRateMiddleware, grace=request_timeout, min_rate=min_body_rate)
    app.add_middleware(MultipartGateMiddleware, authenticate=graphql._principal)
    app.add_middleware(RequestIdMiddleware)
    return app
