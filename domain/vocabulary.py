"""What steers a transcription: a person's vocabulary and an upload's prompt.

The vocabulary is the names and terms a person expects in their recordings (people,
places, products); every window of every transcription is decoded with it as Whisper's
*hotwords*. A prompt is context for one upload (what the recording is about), given to
Whisper as its *initial prompt*. Both are bounded: Whisper keeps at most 223 tokens of
either, and a longer list would silently lose its tail.
"""

from __future__ import annotations

import unicodedata

from domain.errors import DomainError
from domain.text import unstorable_reason

MAX_TERMS = 50
MAX_TERM_CHARS = 60
#: All terms joined with ", ": about 200 tokens of mixed Latin and Cyrillic text.
MAX_VOCABULARY_CHARS = 800
MAX_PROMPT_CHARS = 800


class InvalidVocabularyError(DomainError):
    """A term list that cannot be used. ``term`` is the offending term, if one is."""

    code = "INVALID_VOCABULARY"

    def __init__(self, reason: str, term: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.term = term


class InvalidPromptError(DomainError):
    code = "INVALID_PROMPT"


def clean_vocabulary(terms: list[str]) -> list[str]:
    """The terms as stored: whitespace collapsed, NFC, empty ones dropped, and duplicates
    (ignoring case) kept once, in the order given. Raises InvalidVocabularyError."""
    cleaned: list[str] = []
    seen: set[str] = set()
    for raw in terms:
        why = unstorable_reason(raw)
        if why is not None:
            raise InvalidVocabularyError(why, raw)
        term = " ".join(unicodedata.normalize("NFC", raw).split())
        if not term:
            continue
        if len(term) > MAX_TERM_CHARS:
            raise InvalidVocabularyError(f"a term is longer than {MAX_TERM_CHARS} characters", term)
        if "," in term:
            raise InvalidVocabularyError("a term cannot contain a comma (it separates terms)", term)
        if term.casefold() not in seen:
            seen.add(term.casefold())
            cleaned.append(term)
    if len(cleaned) > MAX_TERMS:
        raise InvalidVocabularyError(f"more than {MAX_TERMS} terms")
    if len(hotwords(cleaned)) > MAX_VOCABULARY_CHARS:
        raise InvalidVocabularyError(
            f"the terms together are longer than {MAX_VOCABULARY_CHARS} characters"
        )
    return cleaned


def clean_prompt(prompt: str | None) -> str | None:
    """The prompt as stored (None when blank). Raises InvalidPromptError."""
    if prompt is None:
        return None
    why = unstorable_reason(prompt)
    if why is not None:
        raise InvalidPromptError(why)
    text = " ".join(unicodedata.normalize("NFC", prompt).split())
    if len(text) > MAX_PROMPT_CHARS:
        raise InvalidPromptError(f"the prompt is longer than {MAX_PROMPT_CHARS} characters")
    return text or None


def hotwords(terms: list[str]) -> str:
    """The terms as the one string Whisper takes."""
    return ", ".join(terms)
