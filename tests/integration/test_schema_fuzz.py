"""Property-based fuzzing of the whole schema (hypothesis-graphql): every query and
mutation the schema allows, with hostile strings (NUL, lone surrogates, any Unicode),
signed in and anonymous. None may answer 5xx or an INTERNAL error: bad input is a
typed answer, never a crash. The budget is bounded (a few hundred documents)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import hypothesis.strategies as st
import pytest
from graphql import GraphQLSchema, StringValueNode
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import from_schema
from starlette.applications import Starlette

from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import ALICE, USERS_ENV, asgi, sign_in, token_of

# hypothesis-graphql draws with `random` inside its strategies; that is its business.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
EXAMPLES = 120  # per run below; five runs, about a minute on two cores
# deleteAccount would end the fuzzing user's session for every later example; it has
# tests of its own.
QUERIES = ["me", "audio", "audios", "auditTrail", "apiKeys"]
MUTATIONS = [
    "sendOtp",
    "verifyOtp",
    "uploadAudio",
    "updateAudio",
    "deleteAudio",
    "retryTranscription",
    "createApiKey",
    "revokeApiKey",
]
_HOSTILE = st.text(
    alphabet=st.characters(codec=None, categories=None),  # surrogates and NUL included
    max_size=40,
)
CUSTOM_SCALARS = {
    "Upload": _HOSTILE.map(lambda s: StringValueNode(value=s)),
    "DateTime": _HOSTILE.map(lambda s: StringValueNode(value=s)),
}


def _graphql_schema(app: Starlette) -> GraphQLSchema:
    schema: GraphQLSchema = app.state.graphql.schema._schema
    return schema


def _post(app: Starlette, document: str, token: str | None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    # json.dumps escapes lone surrogates (\\ud800), as a hostile client's JSON would.
    response = asgi(app, "POST", content=json.dumps({"query": document}), headers=headers)
    try:
        body = response.json()
    except ValueError:
        body = response.text
    return response.status_code, body


def _assert_no_crash(status: int, body: Any, document: str) -> None:
    assert status < 500, (status, body, document)
    errors = body.get("errors", []) if isinstance(body, dict) else []
    internal = [e for e in errors if (e.get("extensions") or {}).get("code") == "INTERNAL"]
    assert not internal, (internal, document)


@pytest.fixture
def fuzz_target(make_ovoz: MakeOvoz) -> tuple[Ovoz, Starlette, str]:
    store = make_ovoz(**USERS_ENV)
    app = create_app(services_of(store), production=False)
    return store, app, token_of(store, sign_in(store, ALICE))


def _run(strategy: st.SearchStrategy[object], check: Callable[[str], None], examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(document=strategy)
    def fuzz(document: object) -> None:
        check(str(document))

    fuzz()


@pytest.mark.parametrize("codec", ["utf-8", None], ids=["unicode", "with-surrogates"])
def test_no_query_crashes_the_server(
    fuzz_target: tuple[Ovoz, Starlette, str], codec: str | None
) -> None:
    _, app, token = fuzz_target
    queries = from_schema(
        _graphql_schema(app), fields=QUERIES, custom_scalars=CUSTOM_SCALARS, codec=codec
    )

    def check(document: str) -> None:
        for who in (token, None):
            _assert_no_crash(*_post(app, document, who), document)

    _run(queries, check, EXAMPLES)


@pytest.mark.parametrize("codec", ["utf-8", None], ids=["unicode", "with-surrogates"])
def test_no_mutation_crashes_the_server(
    fuzz_target: tuple[Ovoz, Starlette, str], codec: str | None
) -> None:
    _, app, token = fuzz_target
    schema = _graphql_schema(app)
    mutations = from_schema(schema, fields=MUTATIONS, custom_scalars=CUSTOM_SCALARS, codec=codec)

    def check(document: str) -> None:
        _assert_no_crash(*_post(app, document, token), document)

    _run(mutations, check, EXAMPLES)


def test_no_document_of_random_bytes_crashes_the_server(
    fuzz_target: tuple[Ovoz, Starlette, str],
) -> None:
    _, app, token = fuzz_target

    def check(document: str) -> None:
        _assert_no_crash(*_post(app, document, token), document)

    _run(_HOSTILE.map(lambda s: '{ audios(search: "' + s + '") { total } } ' + s), check, 60)


# Bytes that lean towards almost-JSON (brackets, quotes, digits, escapes, bad UTF-8), so
# the reader gets past its first byte; bounded to ~100 examples a part.
_JSON_BYTES = st.one_of(
    st.binary(max_size=64),
    st.lists(
        st.sampled_from([b"{", b"}", b"[", b"]", b'"', b":", b",", b"\\", b"9" * 500, b"\xff"])
        | st.sampled_from([b'"query"', b'"variables"', b'"map"', b"null", b"1", b'"0"'])
        | st.binary(max_size=4),
        max_size=24,
    ).map(b"".join),
)


def test_no_json_body_of_random_bytes_crashes_the_server(
    fuzz_target: tuple[Ovoz, Starlette, str],
) -> None:
    _, app, token = fuzz_target
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}

    @settings(max_examples=100, deadline=None, database=None)
    @given(body=_JSON_BYTES)
    def fuzz(body: bytes) -> None:
        response = asgi(app, "POST", content=body, headers=headers)
        assert response.status_code < 500, (response.status_code, response.text, body)

    fuzz()


def test_no_multipart_operations_or_map_of_random_bytes_crashes_the_server(
    fuzz_target: tuple[Ovoz, Starlette, str],
) -> None:
    _, app, token = fuzz_target
    headers = {"Apollo-Require-Preflight": "true", "Authorization": f"Bearer {token}"}
    files = {"0": ("a.txt", b"hello", "text/plain")}

    @settings(max_examples=100, deadline=None, database=None)
    @given(operations=_JSON_BYTES | st.just(b'{"query": "{ me { id } }"}'), files_map=_JSON_BYTES)
    def fuzz(operations: bytes, files_map: bytes) -> None:
        form = {"operations": operations, "map": files_map}
        response = asgi(app, "POST", data=form, files=files, headers=headers)
        assert response.status_code < 500, (response.status_code, response.text, form)

    fuzz()
