"""JSON decoding that refuses deep nesting before json.loads can recurse past its limit."""

from __future__ import annotations

import json

import pytest

from graphql_api.bounded_json import MAX_JSON_DEPTH, JsonTooDeepError, loads, nests_deeper_than


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_a_thousand_levels_are_refused_as_unparsable_json_not_a_recursion_error() -> None:
    with pytest.raises(json.JSONDecodeError) as refused:
        loads(b'{"query": "{ me { id } }", "variables": {"a": ' + nested(1000) + b"}}")
    assert isinstance(refused.value, JsonTooDeepError)


def test_nesting_up_to_the_limit_decodes_and_one_more_level_is_refused() -> None:
    assert loads(nested(MAX_JSON_DEPTH)) is not None
    with pytest.raises(JsonTooDeepError):
        loads(nested(MAX_JSON_DEPTH + 1))


def test_objects_and_arrays_count_alike() -> None:
    deep = b'{"a":' * 20 + b"[" * 20 + b"1" + b"]" * 20 + b"}" * 20
    assert nests_deeper_than(deep, 39)
    assert not nests_deeper_than(deep, 40)


def test_brackets_inside_strings_do_not_count() -> None:
    text = "[{" * 500 + '\\"' + "}]" * 3  # an edit that happens to be full of brackets
    body = json.dumps({"query": "{ me { id } }", "variables": {"text": text}}).encode()
    assert not nests_deeper_than(body, MAX_JSON_DEPTH)
    assert loads(body) == json.loads(body)


def test_many_shallow_brackets_are_not_depth() -> None:
    body = json.dumps({"variables": {"segments": [{"words": [{"w": i}]} for i in range(5000)]}})
    assert not nests_deeper_than(body.encode(), 6)  # {variables{segments[{words[{
    assert nests_deeper_than(body.encode(), 5)


def test_an_unclosed_deep_prefix_is_refused_too() -> None:
    # json.loads recurses through the prefix before it finds the end missing.
    with pytest.raises(JsonTooDeepError):
        loads(b"[1, " * 5000)


def test_the_same_rule_applies_to_text_as_to_bytes() -> None:
    with pytest.raises(JsonTooDeepError):
        loads(nested(100).decode())
    assert loads('{"a": "\\ud800 lone surrogate"}') == {"a": "\ud800 lone surrogate"}


@pytest.mark.parametrize(
    "document",
    [b'{"x": "\xff\xfe"}', b"\x80", b"[" + b"9" * 5000 + b"]", "9" * 5000],
    ids=["bad-utf8-inside", "bad-utf8-start", "huge-int-bytes", "huge-int-str"],
)
def test_bytes_and_numbers_json_cannot_decode_are_unparsable_json_not_a_value_error(
    document: bytes | str,
) -> None:
    with pytest.raises(json.JSONDecodeError):
        loads(document)
    assert loads(b'{"n": ' + b"9" * 4000 + b"}") == {"n": int("9" * 4000)}
