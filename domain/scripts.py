"""The scripts a transcript can be exported in.

Uzbek is written in Latin (the official alphabet, and what the models write) and, by many
readers, in Cyrillic. A Cyrillic export is a transliteration of Uzbek Latin, so it exists
only for recordings in Uzbek: English has no Uzbek Cyrillic spelling, and Russian is in
Cyrillic already.
"""

from __future__ import annotations

from enum import Enum

UZBEK = "uz"


class Script(Enum):
    LATN = "latn"  # as transcribed
    CYRL = "cyrl"  # Uzbek Cyrillic


def can_export_in(script: Script, language: str | None) -> bool:
    """Whether a transcript in ``language`` can be exported in ``script``."""
    return script is Script.LATN or language == UZBEK
