"""Query limits and document checking through the real ASGI app: other clients are
answered while a document is parsed or validated, and the standard introspection query
works over HTTP wherever introspection is on."""

from __future__ import annotations

import asyncio
import threading
import uuid
from typing import Any

import httpx
import pytest
from graphql import get_introspection_query
from starlette.applications import Starlette

from graphql_api import cache, documents
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from tests.integration.helpers import asgi
from tests.unit.test_query_limits import ALL_INTROSPECTION_OPTIONS, fragment_dag


@pytest.fixture
def app(ovoz: Ovoz) -> Starlette:
    return create_app(services_of(ovoz), production=False)


def post(app: Starlette, query: str) -> dict[str, Any]:
    response = asgi(app, "POST", json={"query": query})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(
    ("module", "step"),
    [(documents, "parse"), (documents, "validate"), (cache, "parse")],
    ids=["schema parse", "schema validation", "response-cache parse"],
)
def test_other_clients_are_answered_while_a_document_is_checked(
    app: Starlette, monkeypatch: pytest.MonkeyPatch, module: Any, step: str
) -> None:
    """The check of one document is held until /healthz has answered: if the check ran on
    the event loop, /healthz could not answer and the hold would time out instead."""
    entered, released = threading.Event(), threading.Event()
    released_in_time: list[bool] = []
    real = getattr(module, step)

    def held(*args: Any, **kwargs: Any) -> Any:
        entered.set()
        released_in_time.append(released.wait(timeout=10))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, step, held)
    finished: list[str] = []

    async def scenario() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:

            async def call(name: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
                response = await client.request(method, path, **kwargs)
                finished.append(name)
                return response

            # A document no cache has seen yet (the response cache's verdicts are global).
            query = {"query": f"query Held{uuid.uuid4().hex} {{ audios {{ total }} }}"}
            checked = asyncio.create_task(call("graphql", "POST", "/graphql", json=query))
            assert await asyncio.to_thread(entered.wait, 10)
            health = await call("healthz", "GET", "/healthz")
            released.set()
            return health, await checked

    health, checked = asyncio.run(scenario())
    assert health.status_code == 200
    assert released_in_time[0] is True
    assert finished == ["healthz", "graphql"]
    assert checked.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("options", [{}, ALL_INTROSPECTION_OPTIONS], ids=["default", "all"])
def test_the_standard_introspection_query_works_over_http_in_development(
    app: Starlette, options: dict[str, bool]
) -> None:
    body = post(app, get_introspection_query(**options))
    assert "errors" not in body, body["errors"]
    assert body["data"]["__schema"]["queryType"] == {"name": "Query", "kind": "OBJECT"}


def test_the_fragment_dag_attack_is_refused_over_http(app: Starlette) -> None:
    body = post(app, fragment_dag(30))
    assert body.get("data") is None
    assert [e["extensions"]["code"] for e in body["errors"]] == ["QUERY_TOO_COMPLEX"]
