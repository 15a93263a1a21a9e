"""BodyRateMiddleware: a request body that arrives too slowly is answered 408, in time."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from graphql_api.middleware import BodyRateMiddleware

SCOPE: Scope = {"type": "http", "method": "POST", "path": "/graphql", "headers": []}


async def read_all_then_answer(scope: Scope, receive: Receive, send: Send) -> None:
    """An app that reads the whole body, then answers with its length."""
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


def trickle(interval: float, chunks: int | None = None, chunk: bytes = b"x") -> Receive:
    """A client that sends ``chunk`` every ``interval`` seconds (for ever, by default)."""
    sent = 0

    async def receive() -> Message:
        nonlocal sent
        await asyncio.sleep(interval)
        sent += 1
        more = chunks is None or sent < chunks
        return {"type": "http.request", "body": chunk, "more_body": more}

    return receive


def serve(app: Any, receive: Receive) -> tuple[list[Message], float]:
    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    async def go() -> float:
        started = time.monotonic()
        await app(dict(SCOPE), receive, send)
        return time.monotonic() - started

    return sent, asyncio.run(go())


def test_a_body_at_a_byte_per_fifth_of_a_second_is_answered_408_after_the_grace() -> None:
    app = BodyRateMiddleware(read_all_then_answer, grace=0.6, min_rate=1000)
    sent, elapsed = serve(app, trickle(0.2))
    start, body = sent[0], sent[1]
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]
    error = json.loads(body["body"])["errors"][0]
    assert error["extensions"]["code"] == "REQUEST_TIMEOUT"
    assert error["message"]
    assert 0.6 <= elapsed < 1.5


def test_a_body_that_keeps_the_minimum_rate_is_not_cut_off() -> None:
    # 10 chunks of 500 bytes, one every 0.1 s: 5000 B/s against a minimum of 1000 B/s,
    # for a second in all, well past the grace.
    app = BodyRateMiddleware(read_all_then_answer, grace=0.3, min_rate=1000)
    sent, _ = serve(app, trickle(0.1, chunks=10, chunk=b"x" * 500))
    assert sent[0]["status"] == 200
    assert sent[1]["body"] == b"5000"


def test_waiting_after_the_whole_body_arrived_is_not_limited() -> None:
    received: list[Message] = [{"type": "http.request", "body": b"{}", "more_body": False}]

    async def receive() -> Message:
        if received:
            return received.pop()
        await asyncio.sleep(0.5)  # e.g. a streaming response listening for the disconnect
        return {"type": "http.disconnect"}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        assert (await receive())["type"] == "http.disconnect"
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent, _ = serve(BodyRateMiddleware(app, grace=0.1, min_rate=1000), receive)
    assert sent[0]["status"] == 204


def test_a_response_already_started_is_not_followed_by_a_408() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await receive()
        await receive()

    sent, _ = serve(BodyRateMiddleware(app, grace=0.2, min_rate=1000), trickle(0.5))
    assert [m.get("status") for m in sent if m["type"] == "http.response.start"] == [200]
