"""The rule for text ovoz can store (domain.text)."""

from __future__ import annotations

import pytest

from domain.text import storable, unstorable_reason


@pytest.mark.parametrize(
    "text", ["", "plain", "o\u02bbzbek", "русский", "emoji 😀", "tab\tnewline\n"]
)
def test_ordinary_text_is_storable_and_kept_as_it_is(text: str) -> None:
    assert unstorable_reason(text) is None
    assert storable(text) is text


@pytest.mark.parametrize(
    ("text", "kept"),
    [("a\x00b", "a\ufffdb"), ("x\ud800y", "x\ufffdy"), ("\udfff\x00😀", "\ufffd\ufffd😀")],
)
def test_nul_and_lone_surrogates_are_named_and_replaced(text: str, kept: str) -> None:
    assert unstorable_reason(text) is not None
    assert storable(text) == kept
    kept.encode("utf-8")  # what is left can be encoded (and stored)
