"""JSON decoding that refuses deep nesting before it recurses.

``json.loads`` recurses once per level of nesting: a 1 MiB body of ``[[[[…`` raises
``RecursionError`` (a 500), and a value just under the interpreter's limit breaks whatever
walks it next (encoding a cache key, coercing variables). No GraphQL request of ours nests
its JSON more than a few levels, so anything past ``MAX_JSON_DEPTH`` is refused as
unparsable before it is decoded.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

MAX_JSON_DEPTH = 32

# A JSON string literal (the "unrolled loop" form: linear, no backtracking blow-up).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_OBJECTS_AS_ARRAYS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = [1 if b == ord("[") else -1 if b == ord("]") else 0 for b in range(256)]


class JsonTooDeepError(json.JSONDecodeError):
    """Nested deeper than ``MAX_JSON_DEPTH``. A ``JSONDecodeError``, so every caller that
    handles unparsable JSON (Strawberry's HTTP and WebSocket paths) handles this too."""

    def __init__(self, document: str) -> None:
        super().__init__(f"JSON nested deeper than {MAX_JSON_DEPTH} levels", document, 0)


def nests_deeper_than(raw: bytes, limit: int) -> bool:
    """Whether arrays and objects in ``raw`` nest deeper than ``limit`` (brackets inside
    strings aside; an unclosed bracket counts as open to the end). Linear in the input
    and cheap for the usual request: with at most ``limit`` opening brackets in all,
    nothing can nest deeper. A 1 MiB body costs at most about what decoding it does."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _STRING.sub(b"", raw).translate(_OBJECTS_AS_ARRAYS, _NOT_BRACKETS)
    if b"[" * (limit + 1) in brackets:  # the plain attack, found without counting
        return True
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > limit


class UndecodableJsonError(json.JSONDecodeError):
    """Well-formed enough for ``json`` to start, yet not decodable: bytes that are not
    UTF-8, or an integer past the interpreter's digit limit (4,300). ``json.loads`` raises
    those as plain ``ValueError``s, which no caller treats as unparsable JSON (a 500)."""

    def __init__(self, reason: ValueError, document: str) -> None:
        super().__init__(f"JSON that cannot be decoded ({reason})", document, 0)


def loads(data: str | bytes) -> object:
    """``json.loads``, refusing documents nested deeper than ``MAX_JSON_DEPTH``; every
    document it cannot decode raises a ``JSONDecodeError``."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if nests_deeper_than(raw, MAX_JSON_DEPTH):
        raise JsonTooDeepError(raw[:80].decode("utf-8", "replace"))
    try:
        return json.loads(data)
    except json.JSONDecodeError:
        raise
    except ValueError as error:  # UnicodeDecodeError, or too many digits
        raise UndecodableJsonError(error, raw[:80].decode("utf-8", "replace")) from error
