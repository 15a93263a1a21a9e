"""Uzbek Latin to Uzbek Cyrillic on real sentences, spelt as Uzbek Cyrillic writes them."""

from __future__ import annotations

import pytest

from domain.scripts import Script, can_export_in
from infrastructure.uzbek_script import (
    to_cyrillic,
    transcript_to_cyrillic,
    with_uzbek_apostrophes,
)

SENTENCES = [
    # oʻ and gʻ, ng, and a Russian loan word
    (
        "Oʻzbekiston Respublikasining poytaxti Toshkent shahri.",
        "Ўзбекистон Республикасининг пойтахти Тошкент шаҳри.",
    ),
    ("Gʻalaba kuni oʻgʻlim bilan choyxonaga bordik.", "Ғалаба куни ўғлим билан чойхонага бордик."),
    # ye, ya, yo, yu at the start of words
    (
        "Yevropa va Yaponiyadan kelgan yoshlar yubileyga yetib kelishdi.",
        "Европа ва Япониядан келган ёшлар юбилейга етиб келишди.",
    ),
    ("Yozda yomgʻir kam yogʻadi.", "Ёзда ёмғир кам ёғади."),
    # ts, and numbers as they are
    (
        "Oʻzbekiston Respublikasi Konstitutsiyasi 1992-yil 8-dekabrda qabul qilingan.",
        "Ўзбекистон Республикаси Конституцияси 1992-йил 8-декабрда қабул қилинган.",
    ),
    ("Sentyabr oyida tsement narxi oshdi.", "Сентябр ойида цемент нархи ошди."),
    # sh, ch, and e at the start of a word (э) or inside one (е)
    ("Shahardagi choyxonada ashula eshitdik.", "Шаҳардаги чойхонада ашула эшитдик."),
    # the tutuq belgisi (ʼ) becomes ъ
    (
        "Ertaga mehmonlar keladi, taʼlim va maʼlumot haqida gaplashamiz.",
        "Эртага меҳмонлар келади, таълим ва маълумот ҳақида гаплашамиз.",
    ),
    ("TOSHKENT SHAHRI, OʻZBEKISTON", "ТОШКЕНТ ШАҲРИ, ЎЗБЕКИСТОН"),
]


@pytest.mark.parametrize(("latin", "cyrillic"), SENTENCES)
def test_real_sentences_are_spelt_as_uzbek_cyrillic_writes_them(latin: str, cyrillic: str) -> None:
    assert to_cyrillic(latin) == cyrillic


@pytest.mark.parametrize("apostrophe", ["ʻ", "'", "‘", "’", "`", "ʼ"])
def test_every_apostrophe_that_writers_use_makes_o_and_g(apostrophe: str) -> None:
    latin = f"O{apostrophe}g{apostrophe}il bola qo{apostrophe}shiq aytdi, g{apostrophe}isht"
    assert to_cyrillic(latin) == "Ўғил бола қўшиқ айтди, ғишт"


def test_what_is_cyrillic_already_stays_as_it_is() -> None:
    assert to_cyrillic("Москва va Toshkent") == "Москва ва Тошкент"


def test_a_transcript_keeps_its_timings_and_converts_words_and_text() -> None:
    segments = [
        {
            "id": 0,
            "start": 1.0,
            "end": 2.5,
            "text": " Salom, doʻstlar!",
            "words": [
                {"start": 1.0, "end": 1.6, "word": " Salom,", "probability": 0.9},
                {"start": 1.7, "end": 2.5, "word": " doʻstlar!", "probability": 0.8},
            ],
            "avg_logprob": -0.2,
        }
    ]
    text, converted = transcript_to_cyrillic("Salom, doʻstlar!", segments)
    assert text == "Салом, дўстлар!"
    assert converted == [
        {
            "id": 0,
            "start": 1.0,
            "end": 2.5,
            "text": " Салом, дўстлар!",
            "words": [
                {"start": 1.0, "end": 1.6, "word": " Салом,", "probability": 0.9},
                {"start": 1.7, "end": 2.5, "word": " дўстлар!", "probability": 0.8},
            ],
            "avg_logprob": -0.2,
        }
    ]
    assert segments[0]["text"] == " Salom, doʻstlar!"  # the stored transcript is untouched


def test_cyrillic_is_offered_for_uzbek_recordings_only() -> None:
    assert can_export_in(Script.CYRL, "uz")
    assert not can_export_in(Script.CYRL, "ru")
    assert not can_export_in(Script.CYRL, "en")
    assert not can_export_in(Script.CYRL, None)
    assert can_export_in(Script.LATN, "en")
    assert can_export_in(Script.LATN, None)


def test_an_uzbek_transcript_writes_each_apostrophe_one_way() -> None:
    segments = [
        {
            "id": 0,
            "start": 0.0,
            "end": 2.0,
            "text": "O'zbekiston g‘alaba ma’no",
            "words": [
                {"start": 0.0, "end": 0.8, "word": " O'zbekiston"},
                {"start": 0.8, "end": 1.4, "word": " g‘alaba"},
                {"start": 1.4, "end": 2.0, "word": " ma’no"},
            ],
        }
    ]
    text, fixed = with_uzbek_apostrophes("O'zbekiston g`alaba ma'no", segments)
    assert text == "O\u02bbzbekiston g\u02bbalaba ma\u02bcno"
    assert fixed[0]["text"] == text
    assert [w["word"] for w in fixed[0]["words"]] == [
        " O\u02bbzbekiston",
        " g\u02bbalaba",
        " ma\u02bcno",
    ]
    assert fixed[0]["start"] == 0.0
    assert segments[0]["text"] == "O'zbekiston g‘alaba ma’no"  # the input is left alone


def test_the_engine_rewrites_apostrophes_only_in_uzbek_transcripts() -> None:
    from infrastructure.whisper import _as_written

    segment = {"id": 0, "start": 0.0, "end": 1.0, "text": "o'g'il", "words": []}
    assert _as_written("uz", "o'g'il", [segment])[0] == "o\u02bbg\u02bbil"
    assert _as_written("en", "don't", [{**segment, "text": "don't"}]) == (
        "don't",
        [{**segment, "text": "don't"}],
    )
