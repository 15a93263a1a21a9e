"""A transcript as plain text, SubRip (SRT), WebVTT or JSON.

One cue per segment, its text wrapped at about 42 characters a line. A segment whose
``edited`` flag is set is written with its (edited) ``text`` like any other; words are not
used, so edits are never undone by word timings.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

LINE_WIDTH = 42
FORMATS = ("txt", "srt", "vtt", "json")

Segments = Sequence[Mapping[str, Any]]


def to_txt(text: str, segments: Segments) -> str:
    """The transcript as text: the segments' texts one per line (or ``text`` if none)."""
    lines = [t for s in segments if (t := _text(s))]
    body = "\n".join(lines) if lines else text.strip()
    return body + "\n" if body else ""


def to_srt(text: str, segments: Segments) -> str:
    cues = []
    for number, (start, end, body) in enumerate(_cues(segments), start=1):
        cues.append(f"{number}\n{_timestamp(start, ',')} --> {_timestamp(end, ',')}\n{body}\n")
    return "\n".join(cues)


def to_vtt(text: str, segments: Segments) -> str:
    cues = ["WEBVTT\n"]
    for start, end, body in _cues(segments):
        cues.append(f"{_timestamp(start, '.')} --> {_timestamp(end, '.')}\n{body}\n")
    return "\n".join(cues)


def to_json(text: str, segments: Segments, **extra: Any) -> str:
    return json.dumps(
        {"text": text, "segments": [dict(s) for s in segments], **extra},
        ensure_ascii=False,
        indent=2,
    )


def render(fmt: str, text: str, segments: Segments, **extra: Any) -> str:
    """Render in one of FORMATS (``extra`` goes into JSON only)."""
    if fmt == "txt":
        return to_txt(text, segments)
    if fmt == "srt":
        return to_srt(text, segments)
    if fmt == "vtt":
        return to_vtt(text, segments)
    if fmt == "json":
        return to_json(text, segments, **extra) + "\n"
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _text(segment: Mapping[str, Any]) -> str:
    return " ".join(str(segment.get("text", "")).split())


def _cues(segments: Segments) -> list[tuple[float, float, str]]:
    """(start, end, wrapped text) per non-empty segment; times never run backwards."""
    cues = []
    previous_end = 0.0
    for segment in segments:
        body = _text(segment)
        if not body:
            continue
        start = max(float(segment["start"]), previous_end)
        end = max(float(segment["end"]), start)
        cues.append((start, end, "\n".join(textwrap.wrap(body, LINE_WIDTH)) or body))
        previous_end = end
    return cues


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"
