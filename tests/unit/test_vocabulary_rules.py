"""The rules of a vocabulary and a prompt (domain.vocabulary), without I/O."""

from __future__ import annotations

import unicodedata

import pytest

from domain.vocabulary import (
    MAX_PROMPT_CHARS,
    MAX_TERMS,
    InvalidPromptError,
    InvalidVocabularyError,
    clean_prompt,
    clean_vocabulary,
    hotwords,
)


def test_terms_are_trimmed_deduplicated_ignoring_case_and_kept_in_order() -> None:
    assert clean_vocabulary([" B  b ", "a", "b B", "A", "  "]) == ["B b", "a"]


def test_terms_written_decomposed_or_composed_are_one_term() -> None:
    composed = "Qoʻqon Ёркин"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    assert clean_vocabulary([decomposed, composed]) == [composed]


def test_at_most_max_terms_after_duplicates_are_dropped() -> None:
    assert len(clean_vocabulary([f"t{n}" for n in range(MAX_TERMS)] + ["t0"])) == MAX_TERMS
    with pytest.raises(InvalidVocabularyError):
        clean_vocabulary([f"t{n}" for n in range(MAX_TERMS + 1)])


def test_a_lone_surrogate_is_refused_by_name() -> None:
    with pytest.raises(InvalidVocabularyError) as refused:
        clean_vocabulary(["ok", "bad\ud800"])
    assert refused.value.term == "bad\ud800"


def test_hotwords_join_the_terms_for_whisper() -> None:
    assert hotwords(["Chorsu", "Gulnora Abdurakhmonova"]) == "Chorsu, Gulnora Abdurakhmonova"


def test_a_prompt_is_collapsed_blank_is_none_and_too_long_is_refused() -> None:
    assert clean_prompt(" a \n b ") == "a b"
    assert clean_prompt(" \t ") is None
    assert clean_prompt(None) is None
    assert clean_prompt("x" * MAX_PROMPT_CHARS) == "x" * MAX_PROMPT_CHARS
    with pytest.raises(InvalidPromptError):
        clean_prompt("x" * (MAX_PROMPT_CHARS + 1))
