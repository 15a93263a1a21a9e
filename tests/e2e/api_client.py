"""What e2e tests send to a running ovoz over HTTP: GraphQL that must answer data, sign-in
with a test number's code, and GraphQL multipart uploads. One place, not one per module."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx

from tests.e2e.conftest import OvozServer

SEND_OTP = """mutation($p: String!) { sendOtp(phoneNumber: $p) { __typename } }"""
VERIFY_OTP = """mutation($p: String!, $c: String!) {
  verifyOtp(phoneNumber: $p, otpCode: $c) {
    __typename ... on Token { accessToken userId role }
  }
}"""


def graphql_data(
    server: OvozServer, query: str, token: str | None = None, **variables: Any
) -> dict[str, Any]:
    """The ``data`` of a GraphQL request that must succeed without errors."""
    response = server.graphql(query, variables, token=token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def sign_in(server: OvozServer, phone: str, code: str) -> tuple[str, str]:
    """Sign in through sendOtp and verifyOtp: the access token and the user's id."""
    assert graphql_data(server, SEND_OTP, p=phone)["sendOtp"]["__typename"] == "OtpSent"
    token = graphql_data(server, VERIFY_OTP, p=phone, c=code)["verifyOtp"]
    assert token["__typename"] == "Token", token
    return token["accessToken"], token["userId"]


def post_upload(
    server: OvozServer,
    document: str,
    token: str | None,
    content: bytes,
    filename: str,
    *,
    language: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    """A GraphQL multipart request (operations, map, then the file); ``headers`` replace
    the CSRF preflight header the server asks multipart requests for."""
    operations = {"query": document, "variables": {"file": None, "language": language}}
    all_headers = {"Apollo-Require-Preflight": "true"} if headers is None else dict(headers)
    if token is not None:
        all_headers["Authorization"] = f"Bearer {token}"
    return httpx.post(
        f"{server.url}/graphql",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": (filename, content, "application/octet-stream")},
        headers=all_headers,
        timeout=60.0,
    )
