"""Human messages: Uzbek by default, English and Russian chosen by Accept-Language."""

from __future__ import annotations

import pytest

from graphql_api.identity.countries import country_name, country_names
from graphql_api.messages import DEFAULT_LOCALE, message, negotiate_locale


def test_default_locale_is_uzbek() -> None:
    assert DEFAULT_LOCALE == "uz"


@pytest.mark.parametrize("header", [None, "", "*"])
def test_no_preference_gives_uzbek(header: str | None) -> None:
    assert negotiate_locale(header) == "uz"


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("en", "en"),
        ("ru", "ru"),
        ("uz", "uz"),
        ("ru-RU", "ru"),
        ("en-US", "en"),
        ("uz-Latn-UZ", "uz"),
        ("EN-gb", "en"),
        ("  ru  ", "ru"),
    ],
)
def test_single_language_is_honoured(header: str, locale: str) -> None:
    assert negotiate_locale(header) == locale


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("en;q=0.5, ru;q=0.9", "ru"),
        ("ru;q=0.1, en", "en"),  # no q means 1
        ("uz;q=0.3, en;q=0.3, ru;q=0.2", "uz"),  # ties go to the first listed
        ("en;q=0.3, uz;q=0.3", "en"),
        ("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"),
        ("en-US,en;q=0.9,ru;q=0.8", "en"),
        ("en; q=0.2, ru ;q=0.4", "ru"),
    ],
)
def test_highest_q_weight_wins(header: str, locale: str) -> None:
    assert negotiate_locale(header) == locale


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("de", "uz"),
        ("fr-FR, de;q=0.9", "uz"),
        ("de, ja;q=0.9, ru;q=0.1", "ru"),  # the only supported one, however low
        ("tr, en;q=0.2", "en"),
        ("english", "uz"),
        ("uzb", "uz"),
        ("russian, en;q=0.5", "en"),
    ],
)
def test_unknown_languages_are_skipped(header: str, locale: str) -> None:
    assert negotiate_locale(header) == locale


@pytest.mark.parametrize(
    ("header", "locale"),
    [
        ("ru;q=0", "uz"),  # q=0 means "not this"
        ("en;q=0, ru;q=0.5", "ru"),
        ("en;q=abc", "uz"),  # unreadable weight counts as 0
        ("en;q=abc, ru;q=0.1", "ru"),
        (";;;,,,", "uz"),
        (",", "uz"),
        ("en;", "en"),
        ("ru;foo=bar", "ru"),
        ("q=1", "uz"),
        ("\x00\xff", "uz"),
        ("ru-", "ru"),
        ("-en", "uz"),
    ],
)
def test_malformed_headers_do_not_break_negotiation(header: str, locale: str) -> None:
    assert negotiate_locale(header) == locale


def test_huge_header_is_read_only_in_part() -> None:
    # Only the first entries are considered: a preference buried after many others is lost.
    header = ", ".join(["de"] * 50 + ["ru"])
    assert negotiate_locale(header) == "uz"
    assert negotiate_locale("x" * 100_000) == "uz"


@pytest.mark.parametrize(
    "code", ["INVALID_PHONE_NUMBER", "SMS_DELIVERY_FAILED", "INVALID_OTP", "UNAUTHENTICATED"]
)
def test_each_code_has_distinct_uz_en_ru_messages(code: str) -> None:
    texts = {locale: message(code, locale) for locale in ("uz", "en", "ru")}
    assert len(set(texts.values())) == 3
    assert all(texts.values())


def test_unknown_locale_falls_back_to_uzbek() -> None:
    assert message("INVALID_OTP", "de") == message("INVALID_OTP", "uz")


def test_messages_are_formatted_with_their_parameters() -> None:
    assert "42" in message("RATE_LIMITED", "en", retry_after=42)
    assert "42" in message("RATE_LIMITED", "uz", retry_after=42)
    assert "req-7" in message("INTERNAL", "ru", request_id="req-7")


def test_russian_messages_are_in_cyrillic() -> None:
    assert any("\u0400" <= ch <= "\u04ff" for ch in message("INVALID_OTP", "ru"))


@pytest.mark.parametrize("locale", ["uz", "en", "ru"])
def test_retry_after_reads_right_for_one_second_and_many(locale: str) -> None:
    """No "in 1 seconds": English and Russian give the unit symbol, and Uzbek
    takes no plural after a number ("1 soniyadan", "3292 soniyadan")."""
    one, many = (message("RATE_LIMITED", locale, retry_after=n) for n in (1, 3292))
    assert "1 " in one
    assert "3292 " in many
    assert "seconds" not in one


def test_the_refused_country_message_names_where_codes_go_in_each_language() -> None:
    texts = {
        locale: message(
            "COUNTRY_NOT_ALLOWED", locale, countries=country_names(("KZ", "UZ"), locale)
        )
        for locale in ("uz", "en", "ru")
    }
    assert len(set(texts.values())) == 3
    assert "Qozogʻiston (+7), Oʻzbekiston (+998)" in texts["uz"]
    assert "Kazakhstan (+7), Uzbekistan (+998)" in texts["en"]
    assert "Казахстан (+7), Узбекистан (+998)" in texts["ru"]


def test_a_country_without_an_uzbek_name_is_named_in_english_there() -> None:
    assert country_name("DE", "uz") == "Germany (+49)"
    assert country_name("DE", "ru") == "Германия (+49)"


def test_uzbek_messages_write_the_modifier_letters_not_apostrophes() -> None:
    """Oʻ and gʻ take U+02BB, the tutuq belgisi U+02BC (as the web client writes them);
    an ASCII apostrophe in Uzbek text is a typo."""
    from graphql_api.identity.countries import _UZBEK
    from graphql_api.messages import _MESSAGES

    uzbek = [m["uz"] for m in _MESSAGES.values()] + list(_UZBEK.values())
    assert not [text for text in uzbek if "'" in text or "\u2019" in text]
    assert any("o\u02bb" in text for text in uzbek)


@pytest.mark.parametrize(
    "reason",
    ["NOT_AUDIO", "NO_AUDIO_STREAM", "EMPTY", "TRUNCATED", "UNDECODABLE", "TOO_LONG",
     "UNKNOWN_LANGUAGE"],
)  # fmt: skip
def test_every_invalid_audio_reason_is_said_in_words_not_codes(reason: str) -> None:
    from domain.recordings import InvalidAudioError
    from graphql_api.recordings.convert import invalid_audio

    for locale in ("uz", "ru", "en"):
        refused = invalid_audio(locale, InvalidAudioError(reason), max_audio_seconds=14400)
        assert refused.reason == reason
        assert reason not in refused.message, refused.message
    assert "240" in invalid_audio("ru", InvalidAudioError("TOO_LONG"), 14400).message
