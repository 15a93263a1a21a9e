"""Phone numbers: normalisation to E.164 mobile numbers, and ids derived from them."""

from __future__ import annotations

import pytest

from domain.errors import InvalidPhoneNumberError
from domain.phone import normalise_mobile, phone_subject_id

E164 = "+998901234567"
KEY = b"k" * 32


@pytest.mark.parametrize(
    "raw",
    [
        "+998901234567",
        "998901234567",
        "901234567",
        "+998 90 123 45 67",
        "+998-90-123-45-67",
        "+998 (90) 123.45.67",
        "(90) 123-45-67",
        "  +998901234567  ",
    ],
)
def test_written_forms_of_one_mobile_normalise_to_the_same_e164(raw: str) -> None:
    assert normalise_mobile(raw) == E164


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+998 33 123 45 67", "+998331234567"),
        ("+998 91 765 43 21", "+998917654321"),
        ("+998 99 000 11 22", "+998990001122"),
        ("+998 95 123 45 67", "+998951234567"),
    ],
)
def test_uzbek_mobile_ranges_are_accepted(raw: str, e164: str) -> None:
    assert normalise_mobile(raw) == e164


def test_international_form_of_a_foreign_mobile_is_kept_in_its_own_country() -> None:
    assert normalise_mobile("+7 916 123 45 67") == "+79161234567"


def test_default_region_decides_local_numbers() -> None:
    assert normalise_mobile("9161234567", default_region="RU") == "+79161234567"
    with pytest.raises(InvalidPhoneNumberError):
        normalise_mobile("9161234567", default_region="UZ")


@pytest.mark.parametrize(
    "raw",
    [
        "",
        " ",
        "abc",
        "+",
        "12345",
        "+998 90 123",
        "+99890123456",  # one digit short
        "+9989012345678",  # one digit too many
        "90123456789",
        "0 90 123 45 67",
        "+998 55 123 45 67",  # unassigned range
        "+998 20 123",
        "(555) 123-4567",  # a US local format read as Uzbek
        "+44 20 7946 0958",  # a London landline
        "+7 495 123 45 67",  # a Moscow landline
        "+998 90 123 45 67 +998 90 123 45 67",  # too long
        "9" * 33,
        "1" * 10_000,
    ],
)
def test_malformed_or_foreign_garbage_is_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumberError):
        normalise_mobile(raw)


@pytest.mark.parametrize(
    "raw",
    [
        "+998712345678",  # Tashkent landline
        "712345678",  # the same, local form
        "+998 71 200 00 00",
        "+998 66 233 44 55",  # Samarkand landline
    ],
)
def test_landlines_are_not_mobile_numbers(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumberError):
        normalise_mobile(raw)


def test_error_for_oversized_input_is_truncated() -> None:
    with pytest.raises(InvalidPhoneNumberError) as refused:
        normalise_mobile("7" * 5000)
    assert len(str(refused.value)) <= 32


@pytest.mark.parametrize("raw", ["+998 90 123 ABCD", "+998 90 ABC DEFG"])
def test_numbers_with_letters_are_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumberError):
        normalise_mobile(raw)


@pytest.mark.parametrize(
    "raw", ["call +998901234567", "+998901234567 ext. 12", "+998901234567x", "+998901234567;"]
)
def test_text_around_a_number_is_refused(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumberError):
        normalise_mobile(raw)


# -- ids derived from a phone number -----------------------------------------------------


def test_subject_id_is_stable() -> None:
    assert phone_subject_id(KEY, "otp", E164) == phone_subject_id(KEY, "otp", E164)


def test_subject_id_depends_on_key_purpose_and_number() -> None:
    base = phone_subject_id(KEY, "otp", E164)
    assert phone_subject_id(b"x" * 32, "otp", E164) != base
    assert phone_subject_id(KEY, "otp/1", E164) != base
    assert phone_subject_id(KEY, "otp", "+998901234568") != base


def test_subject_id_does_not_reveal_the_number() -> None:
    subject = phone_subject_id(KEY, "otp", E164)
    assert "901234567" not in subject.hex
    assert "901234567" not in str(subject)
    assert subject.version == 4


def test_purpose_and_number_cannot_be_shifted_into_each_other() -> None:
    # The separator keeps ("otp", "1+998...") and ("otp1", "+998...") apart.
    assert phone_subject_id(KEY, "otp", "1" + E164) != phone_subject_id(KEY, "otp1", E164)
