"""Who spoke, by name: the speaker labels of a transcript and the names people give them.

The engine labels each segment with ``S1``, ``S2``, … in order of first appearance (the
segment dict's ``speaker`` key; absent or None when it could not tell). A person renames
a label (``Recording.rename_speaker``); the name belongs to the recording, not to one
transcription, so it survives a new one that labels the segments afresh.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

from domain.errors import DomainError
from domain.text import unstorable_reason

MAX_SPEAKER_NAME_CHARS = 60

_NUMBERED = re.compile(r"S([1-9][0-9]{0,5})")


class InvalidSpeakerNameError(DomainError):
    """A name that cannot be shown or stored: ``reason`` says why (a stable code:
    EMPTY, TOO_LONG or NOT_PLAIN_TEXT)."""

    code = "INVALID_SPEAKER_NAME"

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


class UnknownSpeakerError(DomainError):
    """No segment of the current transcript carries this label."""

    code = "UNKNOWN_SPEAKER"


def speaker_of(segment: Mapping[str, Any]) -> str | None:
    """The segment's speaker label, or None when it has none."""
    label = segment.get("speaker")
    return str(label) if label else None


def speaker_number(label: str) -> int | None:
    """3 for ``S3``; None for a label the engine does not make."""
    matched = _NUMBERED.fullmatch(label)
    return int(matched.group(1)) if matched else None


def speakers_in(segments: Iterable[Mapping[str, Any]]) -> list[str]:
    """The labels that occur in ``segments``, in label order (S2 before S10)."""
    labels = {label for s in segments if (label := speaker_of(s)) is not None}
    return sorted(labels, key=_label_order)


def clean_speaker_name(raw: str) -> str:
    """The name as stored: NFC, whitespace (line breaks too) collapsed to single spaces,
    trimmed. Raises InvalidSpeakerNameError for a name that is empty, longer than
    MAX_SPEAKER_NAME_CHARS, or holds what cannot be stored or shown on a subtitle line."""
    why = unstorable_reason(raw)
    if why is not None:
        raise InvalidSpeakerNameError("NOT_PLAIN_TEXT", why)
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name:
        raise InvalidSpeakerNameError("EMPTY")
    if len(name) > MAX_SPEAKER_NAME_CHARS:
        raise InvalidSpeakerNameError("TOO_LONG", f"longer than {MAX_SPEAKER_NAME_CHARS}")
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise InvalidSpeakerNameError("NOT_PLAIN_TEXT", "the name contains a control character")
    return name


def _label_order(label: str) -> tuple[int, int, str]:
    number = speaker_number(label)
    return (0, number, "") if number is not None else (1, 0, label)
