"""What a recording's speakers are called: the names people gave them, else a default
in the reader's language ("Speaker 2", "Soʻzlovchi 2", "Спикер 2")."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from domain.speaker_names import speaker_number, speakers_in
from graphql_api.messages import message


def default_speaker_name(label: str, locale: str) -> str:
    """The name of a speaker nobody named: numbered as the engine labelled it."""
    number = speaker_number(label)
    return label if number is None else message("SPEAKER_DEFAULT_NAME", locale, number=number)


def speaker_names(
    segments: Iterable[Mapping[str, Any]], named: Mapping[str, str], locale: str
) -> dict[str, str]:
    """Label -> name of every speaker of ``segments``, in label order."""
    return {
        label: named.get(label) or default_speaker_name(label, locale)
        for label in speakers_in(segments)
    }
