"""A transcript as plain text, SubRip (SRT), WebVTT or JSON, in Uzbek Latin or Cyrillic.

Subtitle cues are cut to ``CueLimits`` (see infrastructure.subtitles); TXT and JSON keep
the segments as they are. ``script="cyrl"`` transliterates an Uzbek transcript first
(infrastructure.uzbek_script); whether a recording may have it is the caller's rule
(domain.scripts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from domain.scripts import Script
from infrastructure.subtitles import Cue, CueLimits, cues
from infrastructure.uzbek_script import transcript_to_cyrillic

FORMATS = ("txt", "srt", "vtt", "json")

Segments = Sequence[Mapping[str, Any]]


def to_txt(text: str, segments: Segments) -> str:
    """The transcript as text: the segments' texts one per line (or ``text`` if none)."""
    lines = [t for s in segments if (t := _text(s))]
    body = "\n".join(lines) if lines else text.strip()
    return body + "\n" if body else ""


def to_srt(text: str, segments: Segments, limits: CueLimits | None = None) -> str:
    blocks = [
        f"{number}\n{_timing(cue, ',')}\n{cue.text}\n"
        for number, cue in enumerate(cues(segments, limits or CueLimits()), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(text: str, segments: Segments, limits: CueLimits | None = None) -> str:
    blocks = ["WEBVTT\n"]
    blocks += [
        f"{_timing(cue, '.')}\n{cue.text}\n" for cue in cues(segments, limits or CueLimits())
    ]
    return "\n".join(blocks)


def to_json(text: str, segments: Segments, **extra: Any) -> str:
    return json.dumps(
        {"text": text, "segments": [dict(s) for s in segments], **extra},
        ensure_ascii=False,
        indent=2,
    )


def render(
    fmt: str,
    text: str,
    segments: Segments,
    *,
    limits: CueLimits | None = None,
    script: Script = Script.LATN,
    **extra: Any,
) -> str:
    """Render in one of FORMATS and ``script`` (``extra`` goes into JSON only)."""
    if script is Script.CYRL:
        text, segments = transcript_to_cyrillic(text, segments)
        extra = {**extra, "script": script.value}
    if fmt == "txt":
        return to_txt(text, segments)
    if fmt == "srt":
        return to_srt(text, segments, limits)
    if fmt == "vtt":
        return to_vtt(text, segments, limits)
    if fmt == "json":
        return to_json(text, segments, **extra) + "\n"
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _text(segment: Mapping[str, Any]) -> str:
    return " ".join(str(segment.get("text", "")).split())


def _timing(cue: Cue, separator: str) -> str:
    return f"{_timestamp(cue.start, separator)} --> {_timestamp(cue.end, separator)}"


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"
