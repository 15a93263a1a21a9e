"""Which of ovoz's languages the configured models are known to handle.

Not a guess from Whisper's list of language tokens (every multilingual checkpoint has an
Uzbek token, and the bundled ``base`` hears Uzbek speech as Turkish or Azerbaijani, with a
word error rate near 1.0 on the shared recordings): a stock Whisper checkpoint is known
good for English and Russian only, an English-only one (``*.en``, distil-whisper) for
English only, and a model the operator configured for a language by name
(``WHISPER_MODELS={"uz": "/models/whisper-uz"}``) is taken to handle that language, as it was
chosen for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from infrastructure.config import Settings

# (code, the language's name in itself), in the order clients list them.
LANGUAGES: tuple[tuple[str, str], ...] = (
    ("uz", "O\u02bbzbekcha"),  # with the modifier letter turned comma, as Uzbek writes it
    ("ru", "Русский"),
    ("en", "English"),
)
_STOCK_MULTILINGUAL = frozenset({"en", "ru"})


@dataclass(frozen=True)
class Support:
    code: str
    name: str
    model: str  # the spec that transcribes this language
    supported: bool
    why: str


def language_support(settings: Settings) -> list[Support]:
    rows = []
    for code, name in LANGUAGES:
        explicit = settings.whisper_models.get(code)
        spec = explicit or settings.whisper_models.get("*") or settings.whisper_model
        if explicit is not None:
            supported, why = True, f"{spec} is configured for this language"
        elif _english_only(spec):
            supported = code == "en"
            why = f"{spec} is an English-only model"
        else:
            supported = code in _STOCK_MULTILINGUAL
            why = (
                f"{spec} handles it"
                if supported
                else f"{spec} is not known to handle it: "
                f'set WHISPER_MODELS=\'{{"{code}": "<a model for it>"}}\''
            )
        rows.append(Support(code, name, spec, supported, why))
    return rows


def _english_only(spec: str) -> bool:
    stem = PurePath(spec.rstrip("/")).name.lower()
    return stem.endswith(".en") or stem.startswith("distil")
