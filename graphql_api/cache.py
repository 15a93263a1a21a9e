"""An exact cache of read responses, made possible by the event log.

A query that reads only recordings (``audio``, ``audios``) is answered from the audios
read model, whose every change moves the owner's log position (and every progress update,
which is not in the log, their count of progress ticks). A response stored under
(document, variables, operation, caller, position, ticks) can therefore never be stale:
any change the caller could see moves the key. Entries are
only ever added or evicted (LRU), never invalidated.

One thing a caller sees moves without their position: the queue (``queuePosition``,
``etaSeconds`` change as other people's jobs go). A query that asks for either is served
from the cache only while the caller has nothing waiting or running, when both are null
whatever the queue does; otherwise it is answered afresh, and not kept.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.access import Principal
from domain.access import Scope as Access
from graphql_api import bounded_json
from graphql_api.documents import MAX_CACHED_DOCUMENT, BoundedLru
from graphql_api.messages import negotiate_locale

CACHEABLE_ROOT_FIELDS = frozenset({"audio", "audios", "__typename"})
# Fields whose values move with everyone's jobs, not with the caller's position. A field
# is only ever selected by its name, so a document without these words selects neither.
QUEUE_FIELDS = ("queuePosition", "etaSeconds")
_MAX_ENTRIES = 2048
_MAX_ENTRY_BYTES = 512 * 1024

_verdicts: BoundedLru[bool] = BoundedLru(512)


async def is_cacheable(document: str, operation_name: str | None) -> bool:
    """True for a query whose root fields all read the recordings read model. A document
    not seen before is parsed in a worker thread: parsing 2,000 tokens takes tens of
    milliseconds, which would stall every other client on the event loop."""
    key = (document, operation_name)
    verdict = _verdicts.get(key)
    if verdict is None:
        verdict = await run_in_threadpool(_is_cacheable, document, operation_name)
        if len(document) <= MAX_CACHED_DOCUMENT:
            _verdicts.put(key, verdict)
    return verdict


def _is_cacheable(document: str, operation_name: str | None) -> bool:
    try:
        parsed = parse(document, no_location=True, max_tokens=2000)
    except GraphQLError:
        return False
    operations = [d for d in parsed.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is not None:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
    if len(operations) != 1 or operations[0].operation is not OperationType.QUERY:
        return False
    selections = operations[0].selection_set.selections
    return all(
        isinstance(s, FieldNode) and s.name.value in CACHEABLE_ROOT_FIELDS and not s.directives
        for s in selections
    )


class ResponseCache:
    """A bounded LRU of response bodies keyed by everything that decides them."""

    def __init__(self, max_entries: int = _MAX_ENTRIES) -> None:
        self._entries: OrderedDict[str, bytes] = OrderedDict()
        self._max_entries = max_entries
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(request: dict[str, Any], caller: str, locale: str, position: tuple[int, int]) -> str:
        material = json.dumps(
            [
                request.get("query"),
                request.get("variables") or {},
                request.get("operationName"),
                caller,
                locale,
                list(position),
            ],
            sort_keys=True,
            separators=(",", ":"),
        )
        return hashlib.blake2b(material.encode(), digest_size=20).hexdigest()

    def get(self, key: str) -> bytes | None:
        body = self._entries.get(key)
        if body is None:
            self.misses += 1
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > _MAX_ENTRY_BYTES:
            return
        self._entries[key] = body
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


async def serve_cached(
    cache: ResponseCache,
    scope: Scope,
    receive: Receive,
    send: Send,
    *,
    view: ASGIApp,
    authenticate: Callable[[str | None], Awaitable[Principal | None]],
    freshness: Callable[[Any], tuple[int, int]],
    in_flight: Callable[[UUID | None], bool] | None = None,
) -> None:
    """Answer a POST from the cache if it is a cacheable query whose answer is there;
    otherwise let ``view`` answer it, keeping a clean answer for next time."""
    headers = Headers(scope=scope)
    if not headers.get("content-type", "").startswith("application/json"):
        await view(scope, receive, send)
        return
    body, receive = await _peek_body(receive)
    request = _json_object(body)
    query = request.get("query") if request else None
    operation = request.get("operationName") if request else None
    if not (
        request
        and isinstance(query, str)
        and isinstance(operation, str | None)
        and not request.get("extensions")  # e.g. a persisted query: the view refuses it
        and await is_cacheable(query, operation)
    ):
        await view(scope, receive, send)
        return
    principal = await authenticate(headers.get("authorization"))
    if principal is None or not principal.may(Access.RECORDINGS_READ):
        await view(scope, receive, send)  # the view answers (and refuses a key without it)
        return
    owner = None if principal.is_admin else principal.user_id
    if any(name in query for name in QUEUE_FIELDS) and (
        in_flight is None or await run_in_threadpool(in_flight, owner)
    ):
        await view(scope, receive, send)  # the queue moves under it: answer afresh
        return
    position = await run_in_threadpool(freshness, owner)
    locale = negotiate_locale(headers.get("accept-language"))
    key = ResponseCache.key(request, f"{principal.user_id}:{principal.role}", locale, position)
    cached = cache.get(key)
    if cached is not None:
        await Response(cached, media_type="application/json")(scope, receive, send)
        return
    await view(scope, receive, _storing(send, cache, key))


async def _peek_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the request body, and a ``receive`` that hands it over again."""
    chunks: list[bytes] = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _json_object(body: bytes) -> dict[str, Any] | None:
    try:
        value = bounded_json.loads(body)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _storing(send: Send, cache: ResponseCache, key: str) -> Send:
    """Pass a response through, keeping its body if it is a clean 200."""
    status = 0
    chunks: list[bytes] = []

    async def storing_send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False) and status == 200:
                body = b"".join(chunks)
                if b'"errors"' not in body:
                    cache.put(key, body)
        await send(message)

    return storing_send
