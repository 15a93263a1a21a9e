"""An exact cache of read responses, made possible by the event log.

A query that reads only recordings (``audio``, ``audios``) is answered from the audios
read model, whose every change moves the owner's log position (and every progress update,
which is not in the log, their count of progress ticks). A response stored under
(document, variables, operation, caller, position, ticks) can therefore never be stale:
any change the caller could see moves the key. Entries are
only ever added or evicted (LRU), never invalidated.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from typing import Any

from graphql import FieldNode, GraphQLError, OperationDefinitionNode, OperationType, parse
from starlette.concurrency import run_in_threadpool

from graphql_api.documents import MAX_CACHED_DOCUMENT, BoundedLru

CACHEABLE_ROOT_FIELDS = frozenset({"audio", "audios", "__typename"})
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
