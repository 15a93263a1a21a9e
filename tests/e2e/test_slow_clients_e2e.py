"""End to end: clients that hold connections open (slowloris) against a real ``ovoz api``.

One server for the module with REQUEST_TIMEOUT=2 and a small MAX_CONNECTIONS, talked to
over raw sockets: headers or a body sent a byte at a time must cost the server a connection
for about the request timeout, not for as long as the client likes.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import socket
import time
import uuid
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.e2e.conftest import OvozServer, server_env, stop_embedded_postgres

pytestmark = pytest.mark.e2e

REQUEST_TIMEOUT = 2.0
MAX_CONNECTIONS = 6
GIVE_UP = 12.0  # far past the timeout: a server without the deadline keeps the socket


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OvozServer]:
    workdir = tmp_path_factory.mktemp("slow-clients-e2e")
    var_dir = workdir / "var"
    database_url = os.environ.get("OVOZ_TEST_DATABASE_URL") or None
    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    settings = {
        "REQUEST_TIMEOUT": str(REQUEST_TIMEOUT),
        "REQUEST_BODY_MIN_RATE": "1024",
        "MAX_CONNECTIONS": str(MAX_CONNECTIONS),
        "LOG_LEVEL": "INFO",  # the access log shows the client address uvicorn settled on
    }
    if database_url:
        settings.update(DATABASE_URL=database_url, DATABASE_SCHEMA=schema)
    built = OvozServer(workdir=workdir, var_dir=var_dir, env=server_env(var_dir, **settings))
    try:
        built.start("api")
        built.wait_healthy()
        yield built
    finally:
        built.stop()
        built.kill()
        stop_embedded_postgres(var_dir)
        if database_url:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )


def connect(server: OvozServer) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=GIVE_UP)


def trickle_until_closed(conn: socket.socket, head: bytes, filler: bytes) -> tuple[float, bytes]:
    """Send ``head``, then one byte of ``filler`` (repeated) every half second, until the
    server closes the connection. Returns the seconds that took and what the server sent."""
    started = time.monotonic()
    conn.sendall(head)
    replies = b""
    index = 0
    while time.monotonic() - started < GIVE_UP:
        readable, _, _ = select.select([conn], [], [], 0.5)
        if readable:
            try:
                chunk = conn.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                return time.monotonic() - started, replies
            replies += chunk
            continue
        try:
            conn.sendall(filler[index % len(filler) : index % len(filler) + 1])
        except (BrokenPipeError, ConnectionResetError):
            return time.monotonic() - started, replies
        index += 1
    pytest.fail(f"the server still held the connection after {GIVE_UP:.0f} s")


def wait_closed(conn: socket.socket) -> float:
    started = time.monotonic()
    readable, _, _ = select.select([conn], [], [], GIVE_UP)
    assert readable, f"the server still held an idle connection after {GIVE_UP:.0f} s"
    with contextlib.suppress(ConnectionResetError):  # a reset is a close too
        assert conn.recv(65536) == b""
    return time.monotonic() - started


def test_headers_sent_a_byte_at_a_time_are_cut_off_after_the_request_timeout(
    server: OvozServer,
) -> None:
    head = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nX-Slow: ".encode()
    with connect(server) as conn:
        elapsed, replies = trickle_until_closed(conn, head, b"abcdefgh")
    assert REQUEST_TIMEOUT - 0.5 <= elapsed <= REQUEST_TIMEOUT + 2.0, elapsed
    assert replies == b""  # no request was ever complete, so none was answered


def test_a_connection_that_never_sends_a_byte_is_closed(server: OvozServer) -> None:
    with connect(server) as conn:
        elapsed = wait_closed(conn)
    assert elapsed <= REQUEST_TIMEOUT + 2.0, elapsed


def test_each_request_on_a_kept_alive_connection_gets_its_own_header_deadline(
    server: OvozServer,
) -> None:
    request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()
    with connect(server) as conn:
        conn.sendall(request)
        first = b""
        while b'"ok"' not in first:
            first += conn.recv(65536)
        assert first.startswith(b"HTTP/1.1 200"), first
        # The keep-alive timer stops at the first byte of the next request; the header
        # deadline does not.
        elapsed, _ = trickle_until_closed(conn, b"GET /healthz HTTP/1.1\r\nX-Slow: ", b"zz")
    assert elapsed <= REQUEST_TIMEOUT + 2.0, elapsed


def test_a_body_sent_a_byte_at_a_time_is_answered_408_and_the_connection_closed(
    server: OvozServer,
) -> None:
    head = (
        "POST /graphql HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{server.port}\r\n"
        "Content-Type: application/json\r\n"
        "Content-Length: 4000\r\n"
        "\r\n"
        '{"query": "{ __typename }", "variables": {"pad": "'
    ).encode()
    with connect(server) as conn:
        elapsed, replies = trickle_until_closed(conn, head, b"x")
    assert REQUEST_TIMEOUT - 0.5 <= elapsed <= REQUEST_TIMEOUT + 3.0, elapsed
    status, _, body = replies.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 408"), replies[:500]
    assert b"connection: close" in status.lower()
    error = json.loads(body)["errors"][0]
    assert error["extensions"]["code"] == "REQUEST_TIMEOUT"


def test_connections_past_the_limit_are_answered_503_until_some_close(
    server: OvozServer,
) -> None:
    held = [connect(server) for _ in range(MAX_CONNECTIONS)]
    try:
        time.sleep(0.2)  # let the server accept them all
        crowded = httpx.get(f"{server.url}/healthz", timeout=5.0)
        assert crowded.status_code == 503, crowded.text
    finally:
        for conn in held:
            conn.close()
    time.sleep(0.2)
    assert httpx.get(f"{server.url}/healthz", timeout=5.0).status_code == 200


def test_a_loopback_proxys_forwarded_for_names_the_client(server: OvozServer) -> None:
    # FORWARDED_ALLOW_IPS defaults to the loopback addresses: a proxy on this host is
    # believed (tests/unit/test_server_config.py covers the addresses that are not).
    response = httpx.get(
        f"{server.url}/healthz", headers={"X-Forwarded-For": "203.0.113.77"}, timeout=5.0
    )
    assert response.status_code == 200
    deadline = time.monotonic() + 5.0
    while "203.0.113.77" not in server.log() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert '203.0.113.77:0 - "GET /healthz' in server.log(), server.log()[-2000:]
