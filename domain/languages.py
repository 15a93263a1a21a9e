"""Languages Whisper knows, by ISO 639-1 code (639-2/3 where Whisper uses them)."""

from __future__ import annotations

from domain.errors import DomainError

_CODES = """
af am ar as az ba be bg bn bo br bs ca cs cy da de el en es et eu fa fi fo fr gl gu ha haw
he hi hr ht hu hy id is it ja jw ka kk km kn ko la lb ln lo lt lv mg mi mk ml mn mr ms mt
my ne nl nn no oc pa pl ps pt ro ru sa sd si sk sl sn so sq sr su sv sw ta te tg th tk tl
tr tt uk ur uz vi yi yo yue zh
"""
WHISPER_LANGUAGES = frozenset(_CODES.split())


def normalise_language(raw: str | None) -> str | None:
    """``"UZ"``, ``"uz-Latn"`` and ``" uz "`` all mean ``"uz"``; empty means "detect".
    Raises ValueError for a language Whisper does not know."""
    if raw is None or not raw.strip():
        return None
    code = raw.strip().lower().replace("_", "-").split("-")[0]
    if code not in WHISPER_LANGUAGES:
        raise ValueError(f"unknown language {raw!r}")
    return code


class UnsupportedLanguageError(DomainError):
    """The deployment is set to refuse uploads in a language its models are not known to
    handle (REFUSE_UNSUPPORTED_LANGUAGES)."""

    code = "UNSUPPORTED_LANGUAGE"

    def __init__(self, language: str) -> None:
        super().__init__(f"no model here is known to handle {language!r}")
        self.language = language
