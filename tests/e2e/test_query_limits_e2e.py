"""Query limits on a real ``ovoz serve`` over HTTP: the standard introspection query of
GraphiQL, graphql-codegen and gql is answered in development, and the fragment attack that
once froze the server is refused at once while the server keeps answering."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import get_introspection_query

from tests.e2e.conftest import OvozServer
from tests.unit.test_query_limits import ALL_INTROSPECTION_OPTIONS, fragment_dag

pytestmark = pytest.mark.e2e


def test_introspection_works_and_the_fragment_attack_is_refused_over_http(
    make_server: Any,
) -> None:
    server: OvozServer = make_server()
    server.serve()
    for options in ({}, ALL_INTROSPECTION_OPTIONS):
        body = server.graphql(get_introspection_query(**options)).json()
        assert "errors" not in body, body["errors"]
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"
    refused = server.graphql(fragment_dag(30)).json()
    assert refused.get("data") is None
    assert [e["extensions"]["code"] for e in refused["errors"]] == ["QUERY_TOO_COMPLEX"]
    assert httpx.get(f"{server.url}/healthz", timeout=5.0).status_code == 200
