"""A transcript as plain text, SubRip (SRT), WebVTT or JSON, in Uzbek Latin or Cyrillic.

Subtitle cues are cut to ``CueLimits`` (see infrastructure.subtitles); TXT and JSON keep
the segments as they are. ``script="cyrl"`` transliterates an Uzbek transcript first
(infrastructure.uzbek_script); whether a recording may have it is the caller's rule
(domain.scripts).

Speakers, where segments carry them (``speaker``: a label; ``speakers`` maps labels to
the names to show, a label without one shows as itself):

- SRT has no markup for a voice, so each cue says ``Gulnora: …`` on screen. A colon, not
  ``[Gulnora]``: brackets are where subtitles (and Whisper's own output) describe sounds,
  ``[Music]``, ``[laughs]``, and a name there reads as one of those.
- WebVTT has one: each cue is a voice span, ``<v Gulnora>…</v>``, the name escaped as
  the cue text is (``&amp;``, ``&lt;``, ``&gt;``). Players style voices, and most do not
  print the name: SRT is the format for burnt-in names.
- TXT starts a paragraph, with the name, where the speaker changes.
- A recording with one speaker is written without names (but in JSON).
- JSON keeps ``speaker`` on every segment and lists ``speakers`` with their names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from domain.scripts import Script
from domain.speaker_names import speaker_of, speakers_in
from infrastructure.subtitles import Cue, CueLimits, cues, speaker_lead
from infrastructure.uzbek_script import to_cyrillic, transcript_to_cyrillic

FORMATS = ("txt", "srt", "vtt", "json")

Segments = Sequence[Mapping[str, Any]]
Speakers = Mapping[str, str]  # speaker label -> the name to show


def to_txt(text: str, segments: Segments, speakers: Speakers | None = None) -> str:
    """The transcript as text: the segments' texts one per line (or ``text`` if none);
    where the speaker changes, a blank line and the new speaker's name."""
    turns: list[list[str]] = []
    previous: object = object()
    for segment in segments:
        line = _text(segment)
        if not line:
            continue
        speaker = speaker_of(segment)
        if speaker != previous:
            turns.append([])
            if speaker is not None:
                line = f"{_name(speaker, speakers)}: {line}"
            previous = speaker
        turns[-1].append(line)
    body = "\n\n".join("\n".join(turn) for turn in turns) if turns else text.strip()
    return body + "\n" if body else ""


def to_srt(
    text: str,
    segments: Segments,
    limits: CueLimits | None = None,
    speakers: Speakers | None = None,
) -> str:
    limits = limits or CueLimits()
    shown = {label: speaker_lead(name, limits) for label, name in _names(segments, speakers)}
    blocks = [
        f"{number}\n{_timing(cue, ',')}\n{cue.text}\n"
        for number, cue in enumerate(cues(segments, limits, shown), start=1)
    ]
    return "\n".join(blocks)


def to_vtt(
    text: str,
    segments: Segments,
    limits: CueLimits | None = None,
    speakers: Speakers | None = None,
) -> str:
    blocks = ["WEBVTT\n"]
    blocks += [
        f"{_timing(cue, '.')}\n{_vtt_text(cue, speakers)}\n"
        for cue in cues(segments, limits or CueLimits())
    ]
    return "\n".join(blocks)


def to_json(text: str, segments: Segments, speakers: Speakers | None = None, **extra: Any) -> str:
    names = _names(segments, speakers)
    listed = [dict(s) for s in segments]
    if names:  # every segment says who speaks, null where the engine could not tell
        listed = [{**s, "speaker": speaker_of(s)} for s in listed]
    return json.dumps(
        {
            "text": text,
            "segments": listed,
            "speakers": [{"id": label, "name": name} for label, name in names],
            **extra,
        },
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
    speakers: Speakers | None = None,
    **extra: Any,
) -> str:
    """Render in one of FORMATS and ``script`` (``extra`` goes into JSON only), the
    speakers of the segments called by ``speakers``."""
    if script is Script.CYRL:
        text, segments = transcript_to_cyrillic(text, segments)
        speakers = {label: to_cyrillic(name) for label, name in (speakers or {}).items()}
        extra = {**extra, "script": script.value}
    if fmt != "json" and len(speakers_in(segments)) < 2:
        # One voice: a name before every line would only repeat itself (JSON keeps it).
        segments = [{k: v for k, v in s.items() if k != "speaker"} for s in segments]
    if fmt == "txt":
        return to_txt(text, segments, speakers)
    if fmt == "srt":
        return to_srt(text, segments, limits, speakers)
    if fmt == "vtt":
        return to_vtt(text, segments, limits, speakers)
    if fmt == "json":
        return to_json(text, segments, speakers, **extra) + "\n"
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def _text(segment: Mapping[str, Any]) -> str:
    return " ".join(str(segment.get("text", "")).split())


def _name(label: str, speakers: Speakers | None) -> str:
    return (speakers or {}).get(label) or label


def _names(segments: Segments, speakers: Speakers | None) -> list[tuple[str, str]]:
    """(label, name) of each speaker of ``segments``, in label order."""
    return [(label, _name(label, speakers)) for label in speakers_in(segments)]


def _vtt_text(cue: Cue, speakers: Speakers | None) -> str:
    """The cue's text as WebVTT cue text: in its speaker's voice span, if it has one."""
    text = _vtt_escape(cue.text)
    if cue.speaker is None:
        return text
    return f"<v {_vtt_escape(_name(cue.speaker, speakers))}>{text}</v>"


def _vtt_escape(text: str) -> str:
    # WebVTT cue text (and a span's annotation) reads & as a character reference and < as
    # a tag; > ends an annotation, and escaped it can never form the "-->" of a timing.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _timing(cue: Cue, separator: str) -> str:
    return f"{_timestamp(cue.start, separator)} --> {_timestamp(cue.end, separator)}"


def _timestamp(seconds: float, separator: str) -> str:
    millis = max(0, round(seconds * 1000))
    hours, millis = divmod(millis, 3_600_000)
    minutes, millis = divmod(millis, 60_000)
    secs, millis = divmod(millis, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{separator}{millis:03d}"
