"""What text ovoz can keep: the rule every string from outside is held to.

PostgreSQL ``text`` and ``jsonb`` cannot hold U+0000, and a lone surrogate (U+D800 to
U+DFFF outside a pair, which JSON's ``\\ud800`` escape produces) cannot be encoded as
UTF-8 at all. Such a string, once accepted into an event, would fail every read model
that stores it, so inputs are refused with it and read models replace what slipped in.
"""

from __future__ import annotations

REPLACEMENT = "\ufffd"


def unstorable_reason(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    if "\x00" in text:
        return "the text contains a NUL character (U+0000)"
    if not text.isascii() and _has_lone_surrogate(text):
        return "the text contains an unpaired surrogate (U+D800-U+DFFF)"
    return None


def storable(text: str) -> str:
    """``text`` with every character that cannot be stored replaced by U+FFFD."""
    if unstorable_reason(text) is None:
        return text
    return "".join(REPLACEMENT if _unstorable_char(c) else c for c in text)


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _unstorable_char(c: str) -> bool:
    return c == "\x00" or "\ud800" <= c <= "\udfff"
