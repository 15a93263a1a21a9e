"""Subtitle cues that players and viewers accept, cut from a transcript's segments.

A Whisper segment can run for 30 s and hold a paragraph; as one cue it covers the picture
with nine lines. Cues here keep the common broadcast conventions (at most two lines of at
most 42 characters, at most 7 s on screen, all configurable in ``CueLimits``):

- A segment's words carry their own timings, so a cue starts when its first word is
  spoken and ends when its last one is. A segment the user edited has text that no longer
  matches its words (the words are dropped with the edit, and an older event may still
  hold them): its text is spread over the segment's span in proportion to its length, and
  so is the text of a segment that has no words at all. Old words are never shown.
- Cues are as few as the limits allow, cut at sentence ends rather than clause marks and
  at those rather than between two words of a clause, never inside a word; lines are as
  even as they can be, broken after punctuation where that costs little evenness. A word
  longer than a line stays whole, in a cue of its own.
- Cues never cross segments and never run backwards, and none stays longer than the limit
  (a word spoken slowly leaves the screen early rather than stay). A segment has one
  speaker, so a cue never mixes two; where the speaker's name is shown on screen (SRT's
  ``Name:``), it counts towards the lines like any word.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from domain.speaker_names import speaker_of

_SENTENCE_ENDS = (".", "!", "?", "\u2026", '."', '?"', '!"', ".\u00bb", "?\u00bb", "!\u00bb")
_CUE_COST = 0.5  # against the costs of breaks (_break_cost): fewer cues, not at any price
_CLAUSE_ENDS = (",", ";", ":", "\u2014", "\u2013", ",\u00bb", ',"')  # dashes, guillemets


@dataclass(frozen=True)
class CueLimits:
    """How much one subtitle cue may hold (SUBTITLE_* settings)."""

    max_line_chars: int = 42
    max_lines: int = 2
    max_cue_seconds: float = 7.0

    def __post_init__(self) -> None:
        if self.max_line_chars < 1 or self.max_lines < 1 or not self.max_cue_seconds > 0:
            raise ValueError(f"cue limits must be positive: {self}")


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None  # the segment's speaker label (S1, …), if it has one

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def speaker_lead(name: str, limits: CueLimits) -> str:
    """What a cue shows before its speaker's words: ``Gulnora:``, the name cut short
    (``…``) where it would leave the first line little room for speech."""
    room = max(limits.max_line_chars // 2, limits.max_line_chars - 10) - 1
    if len(name) > room:
        name = name[: max(1, room - 1)].rstrip() + "\u2026"
    return f"{name}:"


@dataclass(frozen=True)
class _Token:
    start: float
    end: float
    text: str


def cues(
    segments: Sequence[Mapping[str, Any]],
    limits: CueLimits,
    shown: Mapping[str, str] | None = None,
) -> list[Cue]:
    """The cues of ``segments`` in order; times never run backwards. ``shown`` maps a
    speaker label to the words each cue of that speaker starts with (``"Gulnora:"``)."""
    made: list[Cue] = []
    previous_end = 0.0
    for segment in segments:
        speaker = speaker_of(segment)
        lead = tuple((shown or {}).get(speaker or "", "").split())
        for group in _groups(_tokens(segment), limits, lead):
            start = max(group[0].start, previous_end)
            end = min(max(group[-1].end, start), start + limits.max_cue_seconds)
            words = [*lead, *(t.text for t in group)]
            made.append(Cue(start, end, _layout(words, limits), speaker))
            previous_end = end
    return made


def _tokens(segment: Mapping[str, Any]) -> list[_Token]:
    """The segment's words with their times: its own when they still spell its text,
    else its text spread over its span."""
    text = " ".join(str(segment.get("text", "")).split())
    start = float(segment["start"])
    end = max(float(segment["end"]), start)
    words = [] if segment.get("edited") else list(_timed_words(segment, start, end))
    if words and " ".join(t.text for t in words) == text:
        return words
    return _spread(text.split(), start, end)


def _timed_words(segment: Mapping[str, Any], start: float, end: float) -> Iterator[_Token]:
    # Word times are clamped into the segment and kept in order: the model's are close to
    # that, not always exactly.
    previous = start
    for word in segment.get("words") or ():
        word_start = min(max(float(word["start"]), previous), end)
        word_end = min(max(float(word["end"]), word_start), end)
        for part in str(word["word"]).split():
            yield _Token(word_start, word_end, part)
        previous = word_start


def _spread(parts: list[str], start: float, end: float) -> list[_Token]:
    """``parts`` over ``start``..``end``, each given time in proportion to its length."""
    total = sum(len(p) + 1 for p in parts)
    tokens = []
    done = 0
    for part in parts:
        t0 = start + (end - start) * done / total
        done += len(part) + 1
        tokens.append(_Token(t0, start + (end - start) * done / total, part))
    return tokens


def _groups(
    tokens: list[_Token], limits: CueLimits, lead: tuple[str, ...] = ()
) -> list[list[_Token]]:
    """The tokens cut into cues that fit ``limits``, each cue's words after ``lead``: as
    few cues as can be, cut at sentence ends rather than clause marks, and at those
    rather than between any words (a shortest path over the cut points; cues are short,
    so each point looks back at a handful of others)."""
    cost = [0.0] + [math.inf] * len(tokens)
    start_of = [0] * (len(tokens) + 1)
    for end in range(1, len(tokens) + 1):
        for start in range(end - 1, -1, -1):
            if start < end - 1 and not _fits(tokens[start:end], limits, lead):
                break  # a longer cue ending here fits no better
            cue = tokens[start:end]
            candidate = (
                cost[start]
                + _CUE_COST
                + _cut_cost(tokens, end)
                + _short_cost(cue)
                + _layout_cost([*lead, *(t.text for t in cue)], limits)
            )
            if candidate < cost[end]:
                cost[end], start_of[end] = candidate, start
    groups = []
    end = len(tokens)
    while end > 0:
        groups.append(tokens[start_of[end] : end])
        end = start_of[end]
    return groups[::-1]


def _fits(tokens: list[_Token], limits: CueLimits, lead: tuple[str, ...] = ()) -> bool:
    seconds = tokens[-1].end - tokens[0].start
    words = [*lead, *(t.text for t in tokens)]
    return (
        seconds <= limits.max_cue_seconds
        and max(len(w) for w in words) <= limits.max_line_chars
        and len(_wrap(words, limits.max_line_chars)) <= limits.max_lines
    )


def _cut_cost(tokens: list[_Token], end: int) -> float:
    """What cutting after ``tokens[end - 1]`` costs (see ``_break_cost``)."""
    if end == len(tokens):
        return 0.0
    return 2 * _break_cost([t.text for t in tokens[max(0, end - 2) : end]])


def _break_cost(before: Sequence[str]) -> float:
    """What a break after the words ``before`` (the last two suffice) costs: nothing at a
    sentence end, a little at a clause mark, more inside a clause, and most after a new
    sentence's first word."""
    if before[-1].endswith(_SENTENCE_ENDS):
        return 0.0
    if before[-1].endswith(_CLAUSE_ENDS):
        return 0.05
    if len(before) > 1 and before[-2].endswith(_SENTENCE_ENDS):
        return 0.8
    return 0.15


def _short_cost(tokens: list[_Token]) -> float:
    # A cue of a word or two flashes by: worth avoiding, not at any price.
    return 0.3 if sum(len(t.text) + 1 for t in tokens) < 16 else 0.0


def _layout(words: list[str], limits: CueLimits) -> tuple[str, ...]:
    return _lines(tuple(words), limits.max_line_chars)[1]


def _layout_cost(words: list[str], limits: CueLimits) -> float:
    return _lines(tuple(words), limits.max_line_chars)[0]


@functools.lru_cache(maxsize=4096)
def _lines(words: tuple[str, ...], width: int) -> tuple[float, tuple[str, ...]]:
    """``words`` in as few lines of at most ``width`` as they go (a lone word longer than
    that stays whole), the lines as even as can be and broken after punctuation where
    that costs little evenness; with what those line breaks cost (see ``_break_cost``)."""
    wrapped = _wrap(list(words), width)
    count = len(wrapped)
    if count == 1 or max(len(w) for w in words) > width:
        # (Only a cue of one word longer than a line gets here with several: that word,
        # after the speaker's name, if the cue shows one.)
        return 0.0, tuple(wrapped)
    offsets = [0]
    for word in words:
        offsets.append(offsets[-1] + len(word) + 1)
    breaks = [_break_cost(words[max(0, end - 2) : end]) for end in range(1, len(words))] + [0.0]
    # best[m][j]: (cost, breaks' cost, start of the last line) of words[:j] in m lines
    best = [[(math.inf, 0.0, 0)] * (len(words) + 1) for _ in range(count + 1)]
    best[0][0] = (0.0, 0.0, 0)
    for lines in range(1, count + 1):
        for end in range(1, len(words) + 1):
            breaking = breaks[end - 1]
            for start in range(end - 1, -1, -1):
                length = offsets[end] - offsets[start] - 1
                if length > width:
                    break
                slack = (width - length) / width
                before = best[lines - 1][start]
                candidate = before[0] + slack * slack + breaking
                if candidate < best[lines][end][0]:
                    best[lines][end] = (candidate, before[1] + breaking, start)
    result = []
    end = len(words)
    for lines in range(count, 0, -1):
        start = best[lines][end][2]
        result.append(" ".join(words[start:end]))
        end = start
    return best[count][len(words)][1], tuple(result[::-1])


def _wrap(words: list[str], width: int) -> list[str]:
    """Greedy wrapping: the fewest lines of at most ``width`` (a longer word alone)."""
    lines: list[str] = []
    line = ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    lines.append(line)
    return lines
