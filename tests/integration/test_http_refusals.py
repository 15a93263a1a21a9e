"""Requests refused before anything runs get a 4xx in the GraphQL-over-HTTP error shape,
``{"errors": [{"message": ..., "extensions": {"code": ...}}]}``, never a plain-text
"Bad Request" or a 500; an anonymous upload is refused before its body is read."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.types import Message
from starlette.websockets import WebSocketDisconnect

from graphql_api.app import create_app
from graphql_api.context import Services
from infrastructure.bootstrap import Ovoz, services_of
from tests.conftest import RecordingSms

JSON = {"Content-Type": "application/json"}
PREFLIGHT = {"Apollo-Require-Preflight": "true"}
APQ = {"persistedQuery": {"version": 1, "sha256Hash": "ab" * 32}}


@pytest.fixture
def services(ovoz: Ovoz) -> Services:
    return services_of(ovoz)


@pytest.fixture
def app(services: Services) -> Starlette:
    return create_app(services, production=False)


def request(app: Starlette, method: str, **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, "/graphql", **kwargs)

    return asyncio.run(go())


def refusal(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The one error of a refusal, after checking its status, shape and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert set(body) == {"errors"}, body
    [error] = body["errors"]
    assert error["extensions"]["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"].strip()
    return dict(error)


def sign_in(app: Starlette, sms: RecordingSms, phone: str = "+998901234567") -> str:
    send = "mutation($p: String!) { sendOtp(phoneNumber: $p) { __typename } }"
    request(app, "POST", json={"query": send, "variables": {"p": phone}})
    verify = (
        "mutation($p: String!, $c: String!) { verifyOtp(phoneNumber: $p, otpCode: $c) "
        "{ ... on Token { accessToken } } }"
    )
    variables = {"p": phone, "c": sms.last_code()}
    body = request(app, "POST", json={"query": verify, "variables": variables}).json()
    return str(body["data"]["verifyOtp"]["accessToken"])


# -- JSON the server cannot or will not read ------------------------------------------------


def test_json_nested_a_thousand_deep_is_a_400_not_a_500(app: Starlette) -> None:
    deep = "[" * 1000 + "]" * 1000
    body = '{"query": "{ __typename }", "variables": {"a": ' + deep + "}}"
    error = refusal(request(app, "POST", content=body, headers=JSON), 400, "BAD_REQUEST")
    assert error["extensions"]["maxDepth"] == 32
    # A top-level array that deep is no batch: it is refused before anything else.
    refusal(request(app, "POST", content=deep, headers=JSON), 400, "BAD_REQUEST")


def test_unparsable_json_and_unknown_content_types_are_400_bad_request(app: Starlette) -> None:
    refusal(request(app, "POST", content="{", headers=JSON), 400, "BAD_REQUEST")
    plain = {"Content-Type": "text/plain"}
    refusal(request(app, "POST", content="{}", headers=plain), 400, "BAD_REQUEST")
    refusal(request(app, "POST", json={"variables": {}}), 400, "BAD_REQUEST")


ME = "{ me { id } }"


@pytest.mark.parametrize(
    "body",
    [
        b'"x"',
        b"5",
        b"null",
        b"true",
        b'{"query":"{ me { id } }","variables":{"x":"\xff\xfe"}}',  # invalid UTF-8
        b"\xff\xfe{}",
        b'{"query":"{ me { id } }","variables":{"x":' + b"9" * 5000 + b"}}",  # > 4300 digits
    ],
    ids=["string", "number", "null", "boolean", "bad-utf8", "bad-utf8-start", "huge-int"],
)
def test_a_json_body_that_is_no_graphql_request_is_a_400_not_a_500(
    app: Starlette, body: bytes
) -> None:
    refusal(request(app, "POST", content=body, headers=JSON), 400, "BAD_REQUEST")


def test_a_json_body_that_is_no_object_is_a_400_in_production_too(services: Services) -> None:
    production = create_app(services, production=True)
    refusal(request(production, "POST", content=b'"x"', headers=JSON), 400, "BAD_REQUEST")


def test_a_json_body_over_a_mebibyte_is_413_request_too_large_in_the_callers_language(
    app: Starlette,
) -> None:
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * (1024 * 1024)}})
    messages = set()
    for lang in ("uz", "en", "ru"):
        headers = {**JSON, "Accept-Language": lang}
        error = refusal(
            request(app, "POST", content=body, headers=headers), 413, "REQUEST_TOO_LARGE"
        )
        assert error["extensions"]["maxBytes"] == 1024 * 1024
        messages.add(error["message"])
    assert len(messages) == 3, messages


def test_refusals_speak_the_callers_language(app: Starlette) -> None:
    body = {"query": "subscription { myAudioEvents { __typename } }"}
    messages = {
        lang: refusal(
            request(app, "POST", json=body, headers={"Accept-Language": lang}),
            400,
            "OPERATION_NOT_SUPPORTED",
        )["message"]
        for lang in ("uz", "en", "ru")
    }
    assert len(set(messages.values())) == 3, messages
    assert "WebSocket" in messages["en"]


# -- operations HTTP does not carry ------------------------------------------------------


def test_a_subscription_sent_over_post_is_a_400_not_an_internal_error(app: Starlette) -> None:
    for query in (
        "subscription { myAudioEvents { __typename } }",
        'subscription S { audioStatus(id: "00000000-0000-0000-0000-000000000000") { id } }',
    ):
        refusal(request(app, "POST", json={"query": query}), 400, "OPERATION_NOT_SUPPORTED")
    # Queries and mutations are unaffected.
    assert request(app, "POST", json={"query": "{ __typename }"}).json() == {
        "data": {"__typename": "Query"}
    }


def test_a_batch_is_refused_with_batching_not_supported(app: Starlette) -> None:
    batch = [{"query": "{ __typename }"}, {"query": "{ __typename }"}]
    refusal(request(app, "POST", json=batch), 400, "BATCHING_NOT_SUPPORTED")


def test_get_and_other_methods_are_405_with_allow_post(app: Starlette) -> None:
    queries = ("{ __typename }", "mutation { signOut { __typename } }", "subscription { x }")
    for query in queries[:2]:
        response = request(app, "GET", params={"query": query})
        refusal(response, 405, "METHOD_NOT_ALLOWED")
        assert response.headers["allow"] == "POST"
    for method in ("PUT", "DELETE", "PATCH"):
        refusal(request(app, method, json={"query": "{ __typename }"}), 405, "METHOD_NOT_ALLOWED")


def test_graphiql_is_still_served_on_get_in_development(app: Starlette) -> None:
    page = request(app, "GET", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert "graphiql" in page.text.lower()


# -- Apollo's automatic persisted queries ------------------------------------------------


def test_a_persisted_query_hash_gets_the_answer_apollos_link_falls_back_on(
    app: Starlette,
) -> None:
    """apollo-client's PersistedQueryLink disables itself and resends the full query on
    an error whose message is PersistedQueryNotSupported or whose code is
    PERSISTED_QUERY_NOT_SUPPORTED; Apollo Server answers it with 200 and no-cache."""
    attempts = [
        request(app, "POST", json={"extensions": APQ}),  # the hash alone
        request(app, "POST", json={"query": "{ __typename }", "extensions": APQ}),
        request(app, "GET", params={"extensions": json.dumps(APQ)}),  # useGETForHashedQueries
    ]
    for response in attempts:
        error = refusal(response, 200, "PERSISTED_QUERY_NOT_SUPPORTED")
        assert error["message"] == "PersistedQueryNotSupported"
        assert "no-cache" in response.headers["cache-control"]
    # The link's fallback, the query without the extension, works.
    fallback = request(app, "POST", json={"query": "{ __typename }", "extensions": {}})
    assert fallback.json() == {"data": {"__typename": "Query"}}


def test_a_persisted_query_is_refused_even_when_its_query_is_cached(
    app: Starlette, sms: RecordingSms
) -> None:
    """The response cache answers recordings-only queries before the view sees them; a
    request with a persisted-query extension must still reach the view's refusal."""
    headers = {"Authorization": f"Bearer {sign_in(app, sms)}"}
    query = "{ audios { total } }"
    for _ in range(2):  # the second answer comes from the cache
        plain = request(app, "POST", json={"query": query}, headers=headers)
        assert plain.json() == {"data": {"audios": {"total": 0}}}
    hashed = request(app, "POST", json={"query": query, "extensions": APQ}, headers=headers)
    refusal(hashed, 200, "PERSISTED_QUERY_NOT_SUPPORTED")


# -- multipart uploads: checked from their headers, before the body ------------------------


def multipart_scope(headers: dict[str, str]) -> dict[str, Any]:
    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    raw.append((b"content-type", b"multipart/form-data; boundary=x"))
    raw.append((b"content-length", b"5900000"))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }


def call_without_body(app: Starlette, headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
    """Call the app with a multipart request whose body the test never provides: reading
    it fails the test. Returns the status, headers and JSON body of the answer."""
    sent: list[Message] = []

    async def receive() -> Message:
        pytest.fail("the body of a request to refuse was read")

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(app(multipart_scope(headers), receive, send))
    start = sent[0]
    response_headers = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], response_headers, json.loads(body)


def test_an_anonymous_upload_is_401_before_a_byte_of_its_body_is_read(app: Starlette) -> None:
    for authorization in ({}, {"Authorization": "Bearer not.a.token"}, {"Authorization": "x"}):
        status, headers, body = call_without_body(app, {**PREFLIGHT, **authorization})
        assert status == 401
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert headers["www-authenticate"] == "Bearer"
        # The connection closes rather than reading (and dropping) the rest of the body.
        assert headers["connection"] == "close"


def test_an_upload_without_a_preflight_header_is_400_before_its_body_is_read(
    app: Starlette,
) -> None:
    status, _, body = call_without_body(app, {})
    assert status == 400
    [error] = body["errors"]
    assert error["extensions"]["code"] == "PREFLIGHT_REQUIRED"
    assert "Apollo-Require-Preflight" in error["message"]


def test_a_signed_in_upload_goes_through_to_the_resolver(app: Starlette, sms: RecordingSms) -> None:
    token = sign_in(app, sms)
    form = {"operations": json.dumps({"query": "{ __typename }"}), "map": "{}"}
    files = {"0": ("a.txt", b"hello", "text/plain")}
    headers = {**PREFLIGHT, "Authorization": f"Bearer {token}"}
    response = request(app, "POST", data=form, files=files, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize(
    ("operations", "files_map"),
    [
        ('"x"', "{}"),
        ("5", "{}"),
        (json.dumps({"query": ME}), '"x"'),
        (json.dumps({"query": ME}), '{"0": [1]}'),
        (json.dumps({"query": ME}), '{"0": "variables.f"}'),
        (json.dumps({"query": ME, "variables": {"f": None}}), '{"0": ["variables.f.x.y"]}'),
        (json.dumps({"query": ME, "variables": {"f": []}}), '{"0": ["variables.f.x"]}'),
        (json.dumps({"query": ME, "variables": {"f": []}}), '{"0": ["variables.f.3"]}'),
        (json.dumps({"query": ME, "variables": {"f": "s"}}), '{"0": ["variables.f.x"]}'),
        (json.dumps({"query": ME}), '{"0": ["variables.f.x.y"]}'),
        (json.dumps({"query": ME}), "9" * 5000),
    ],
)
def test_an_upload_whose_operations_or_map_cannot_be_read_is_a_400_not_a_500(
    app: Starlette, sms: RecordingSms, operations: str, files_map: str
) -> None:
    token = sign_in(app, sms)
    form = {"operations": operations, "map": files_map}
    files = {"0": ("a.txt", b"hello", "text/plain")}
    headers = {**PREFLIGHT, "Authorization": f"Bearer {token}"}
    response = request(app, "POST", data=form, files=files, headers=headers)
    refusal(response, 400, "BAD_REQUEST")


def test_multipart_the_form_parser_refuses_is_a_400_in_the_graphql_shape(
    app: Starlette, sms: RecordingSms
) -> None:
    token = sign_in(app, sms)
    headers = {**PREFLIGHT, "Authorization": f"Bearer {token}"}
    operations = json.dumps({"query": "{ __typename }"})
    long_name = {"0": ("a" * 6000 + ".txt", b"hello", "text/plain")}
    form = {"operations": operations, "map": "{}"}
    response = request(app, "POST", data=form, files=long_name, headers=headers)
    refusal(response, 400, "BAD_REQUEST")
    # A part without a filename is a field, and fields are held to 1 MiB by Starlette.
    big_field = {"operations": operations, "map": "{}", "pad": "x" * (1024 * 1024 + 1)}
    files = {"0": ("a.txt", b"hello", "text/plain")}  # else httpx sends a urlencoded form
    response = request(app, "POST", data=big_field, files=files, headers=headers)
    refusal(response, 400, "BAD_REQUEST")


# -- WebSocket origins (ALLOWED_ORIGINS) ----------------------------------------------------


def opens(app: Starlette, headers: dict[str, str]) -> bool:
    """Whether the WebSocket handshake to /graphql is accepted."""
    client = TestClient(app)  # its WebSocket handshakes say Host: testserver
    try:
        with client.websocket_connect(
            "/graphql", subprotocols=["graphql-transport-ws"], headers=headers
        ):
            return True
    except WebSocketDisconnect:
        return False


def test_empty_allowed_origins_admit_same_origin_pages_and_non_browsers_only(
    app: Starlette,
) -> None:
    assert opens(app, {})  # no Origin: not a browser, so no ambient credentials
    assert opens(app, {"Origin": "http://testserver"})  # the page the server itself serves
    assert not opens(app, {"Origin": "https://evil.example"})


def test_listed_origins_and_a_star_admit_cross_origin_pages(services: Services) -> None:
    listed = create_app(services, production=False, allowed_origins=["https://app.example.uz"])
    assert opens(listed, {"Origin": "https://app.example.uz"})
    assert not opens(listed, {"Origin": "https://evil.example"})
    star = create_app(services, production=False, allowed_origins=["*"])
    assert opens(star, {"Origin": "https://evil.example"})


def test_an_upload_declared_past_the_limit_is_413_file_too_large_naming_the_file_limit(
    services: Services, sms: RecordingSms
) -> None:
    small = create_app(services, production=False, max_upload_bytes=2 * 1024 * 1024)
    token = sign_in(small, sms)
    headers = {**PREFLIGHT, "Authorization": f"Bearer {token}", "Accept-Language": "en"}
    status, response_headers, body = call_without_body(small, headers)  # declares 5.9 MB
    assert status == 413
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FILE_TOO_LARGE"
    assert error["extensions"]["maxBytes"] == 3 * 1024 * 1024  # the body's limit
    assert "at most 2 MB" in error["message"], error  # the file's limit
    assert response_headers["connection"] == "close"
