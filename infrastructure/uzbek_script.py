"""Uzbek Latin to Uzbek Cyrillic, through the ``alifbo`` library.

alifbo is maintained, typed, without dependencies, and checked against more than 13,000
cases of its reference build. It reads every apostrophe that writers put after o and g
(ʻ ' ‘ ’ ` ʼ) as oʻ/gʻ, spells sh/ch/ng, word-initial ye/yo/yu/ya and ts by Uzbek rules
(Ерга, ёмғир, цемент), keeps the tutuq belgisi as ъ, and leaves alone what is already
Cyrillic, addresses (URLs, e-mail) and words the Uzbek alphabet cannot spell (foreign brands).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import alifbo


def to_cyrillic(text: str) -> str:
    """``text`` (Uzbek Latin) in Uzbek Cyrillic."""
    # Apostrophes first: alifbo keeps `...` as a code span otherwise, and in speech a
    # backtick is oʻ's or gʻ's mark typed on a keyboard without ʻ (o`g`il).
    return alifbo.to_cyrillic(alifbo.normalize_apostrophes(text)).text


def transcript_to_cyrillic(
    text: str, segments: Sequence[Mapping[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """The transcript and its segments (texts and words) in Uzbek Cyrillic; timings and
    everything else as they were."""
    return to_cyrillic(text), [_segment(s, to_cyrillic) for s in segments]


def with_uzbek_apostrophes(
    text: str, segments: Sequence[Mapping[str, Any]]
) -> tuple[str, list[dict[str, Any]]]:
    """An Uzbek transcript with its apostrophes as Uzbek writes them: oʻ and gʻ with
    U+02BB, the tutuq belgisi (maʼno) with U+02BC, whichever of ', ’, ‘, ` or ʼ the model
    wrote; so that one word is one spelling everywhere (search folds them all anyway)."""
    fix = alifbo.normalize_apostrophes
    return fix(text), [_segment(s, fix) for s in segments]


def _segment(segment: Mapping[str, Any], convert: Callable[[str], str]) -> dict[str, Any]:
    converted = {**segment, "text": convert(str(segment.get("text", "")))}
    if segment.get("words"):
        converted["words"] = [{**w, "word": convert(str(w["word"]))} for w in segment["words"]]
    return converted
