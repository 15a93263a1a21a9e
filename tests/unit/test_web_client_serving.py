"""The web client at ``/``: SPA fallback, caching rules and the Content-Security-Policy,
on a build directory shaped as Vite writes it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

from graphql_api.web import CSP, WebClient

INDEX = '<!doctype html><html><head><script type="module" src="/assets/app-1a2b.js"></script>'


async def _api(_: object) -> PlainTextResponse:
    return PlainTextResponse("api")


def _app(dist: Path) -> Starlette:
    return Starlette(routes=[Route("/graphql", _api), Mount("/", WebClient(dist))])


def _get(app: Starlette, path: str, method: str = "GET") -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.request(method, path)

    return asyncio.run(go())


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "app-1a2b.js").write_text("console.log('ovoz')")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    return tmp_path


def test_pages_get_index_html_uncached_with_the_policy(dist: Path) -> None:
    app = _app(dist)
    for path in ("/", "/audio/0b3c/history", "/account", "/signin?next=%2F"):
        page = _get(app, path)
        assert page.status_code == 200, path
        assert page.text == INDEX
        assert page.headers["cache-control"] == "no-cache"
        assert page.headers["content-security-policy"] == CSP
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
    assert "'unsafe-inline'" not in CSP
    assert "script-src 'self';" in CSP


def test_hashed_assets_are_cached_for_a_year_and_missing_ones_are_404(dist: Path) -> None:
    app = _app(dist)
    asset = _get(app, "/assets/app-1a2b.js")
    assert asset.status_code == 200
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert asset.headers["content-type"].startswith("text/javascript")
    for stale in ("/assets/app-old.js", "/old-chunk.js", "/audio/x/missing.css"):
        missing = _get(app, stale)  # a stale page asking for the last build's file
        assert missing.status_code == 404, stale
        assert "<html" not in missing.text
    assert _get(app, "/favicon.svg").text == "<svg/>"


def test_the_api_keeps_its_routes_and_nothing_escapes_the_build(dist: Path) -> None:
    app = _app(dist)
    assert _get(app, "/graphql").text == "api"
    assert _get(app, "/../../etc/passwd").text == INDEX
    assert _get(app, "/", method="POST").status_code == 405


def test_without_a_build_the_root_says_how_to_get_one(tmp_path: Path) -> None:
    app = _app(tmp_path / "missing")
    home = _get(app, "/")
    assert home.status_code == 200
    assert "Node.js 20.19" in home.text
    assert 'lang="uz"' in home.text  # Uzbek first, as the app
    assert "./dev serve" in home.text
    assert home.headers["content-security-policy"] == CSP
    assert _get(app, "/account").status_code == 404
