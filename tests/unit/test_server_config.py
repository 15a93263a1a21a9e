"""How uvicorn is configured to serve the API: proxies believed, limits passed through."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send

from infrastructure.config import Settings
from infrastructure.server import server_config


def settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"OVOZ_VAR_DIR": str(tmp_path), **env})


def client_seen(config_settings: Settings, peer: str, forwarded_for: str) -> Any:
    """The ``client`` the app sees for a request from ``peer`` with X-Forwarded-For."""
    seen: list[Any] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["client"])

    config = server_config(app, config_settings)  # type: ignore[arg-type]
    config.load()
    scope = {
        "type": "http",
        "client": (peer, 40000),
        "headers": [(b"x-forwarded-for", forwarded_for.encode())],
    }

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(_: Message) -> None:
        return None

    asyncio.run(config.loaded_app(scope, receive, send))
    return seen[0]


def test_a_proxy_on_this_host_is_believed_by_default(tmp_path: Path) -> None:
    default = settings(tmp_path)
    assert client_seen(default, "127.0.0.1", "203.0.113.7")[0] == "203.0.113.7"
    assert client_seen(default, "::1", "203.0.113.7")[0] == "203.0.113.7"


def test_anyone_else_claiming_a_forwarded_address_is_not(tmp_path: Path) -> None:
    assert client_seen(settings(tmp_path), "198.51.100.9", "203.0.113.7")[0] == "198.51.100.9"


def test_configured_proxies_are_believed_and_only_their_own_hop_is_skipped(
    tmp_path: Path,
) -> None:
    behind = settings(tmp_path, FORWARDED_ALLOW_IPS="10.0.0.0/8")
    assert client_seen(behind, "10.1.2.3", "203.0.113.7")[0] == "203.0.113.7"
    # A client that writes its own X-Forwarded-For cannot hide behind it: the proxy
    # appends the address it saw, and that (the last untrusted one) is the client.
    assert client_seen(behind, "10.1.2.3", "1.2.3.4, 203.0.113.7")[0] == "203.0.113.7"
    assert client_seen(behind, "127.0.0.1", "203.0.113.7")[0] == "127.0.0.1"


def test_an_empty_list_believes_no_proxy(tmp_path: Path) -> None:
    direct = settings(tmp_path, FORWARDED_ALLOW_IPS="")
    assert client_seen(direct, "127.0.0.1", "203.0.113.7")[0] == "127.0.0.1"


def test_the_request_timeout_and_connection_limit_reach_uvicorn(tmp_path: Path) -> None:
    config = server_config(
        Starlette(), settings(tmp_path, REQUEST_TIMEOUT="3.5", MAX_CONNECTIONS="50")
    )
    assert config.limit_concurrency == 50
    assert config.http.header_timeout == 3.5  # type: ignore[union-attr]
