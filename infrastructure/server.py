"""Running ovoz: the API under uvicorn, and the background roles."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import STARTUP_FAILURE

from graphql_api.app import create_app
from graphql_api.web import default_web_dir
from infrastructure.bootstrap import Ovoz, bootstrap, services_of
from infrastructure.config import Settings
from infrastructure.http_protocol import header_deadline_protocol

log = logging.getLogger("ovoz")

API, PROJECTOR, WORKER = "api", "projector", "worker"
_WS_MAX_MESSAGE_BYTES = 1024 * 1024  # like a JSON request body; graphql-ws messages are small


def _lifespan(ovoz: Ovoz) -> Callable[[Starlette], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await ovoz.live.stop()

    return lifespan


def run_api(settings: Settings, roles: Collection[str]) -> None:
    """Serve the API (plus any background roles) until SIGINT or SIGTERM."""
    ovoz = bootstrap(settings)
    try:
        if PROJECTOR in roles:
            ovoz.start_projections()
        if WORKER in roles:
            ovoz.start_workers()
        app = create_app(
            services_of(ovoz),
            production=settings.is_production,
            max_upload_bytes=settings.max_upload_bytes,
            allowed_origins=settings.allowed_origins,
            request_timeout=settings.request_timeout,
            min_body_rate=settings.request_body_min_rate,
            lifespan=_lifespan(ovoz),
            web_dir=settings.web_root or default_web_dir(),
        )
        log.info(
            "ovoz (%s) on http://%s:%s/ (the API at /graphql)",
            "+".join(sorted(roles)),
            settings.host,
            settings.port,
        )
        # uvicorn re-raises the signal that stopped it after its graceful shutdown; with
        # the default SIGTERM handler that would kill us before `finally` closes ovoz
        # (and stops the embedded PostgreSQL).
        signal.signal(signal.SIGTERM, lambda *_: None)
        _serve(uvicorn.Server(server_config(app, settings)))
    finally:
        ovoz.close()


def _serve(server: uvicorn.Server) -> None:
    """What uvicorn.run does for one process: Ctrl-C is a normal stop, and a server that
    never started (the port taken, say) exits with uvicorn's start-up failure status."""
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def server_config(app: Starlette, settings: Settings) -> uvicorn.Config:
    """How uvicorn serves the API: hardened against clients that hold connections open
    (header deadline, connection limit) and aware of trusted reverse proxies."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        http=header_deadline_protocol(settings.request_timeout),
        ws="websockets-sansio",
        ws_max_size=_WS_MAX_MESSAGE_BYTES,
        server_header=False,
        timeout_graceful_shutdown=10,
        limit_concurrency=settings.max_connections,
        # request.client is then the address the trusted proxies forwarded for, not theirs
        proxy_headers=True,
        forwarded_allow_ips=list(settings.forwarded_allow_ips),
    )


def run_background(settings: Settings, roles: Collection[str]) -> None:
    """Run projector and/or worker roles until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    ovoz = bootstrap(settings)
    try:
        if PROJECTOR in roles:
            ovoz.start_projections()
        if WORKER in roles:
            ovoz.start_workers()
        log.info("ovoz %s running; Ctrl-C stops it", "+".join(sorted(roles)))
        stop.wait()
    finally:
        ovoz.close()
