"""Phone numbers as the domain sees them: normalised E.164 mobile numbers."""

from __future__ import annotations

import hashlib
import hmac
import re
from uuid import UUID

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

from domain.errors import InvalidPhoneNumberError

# Digits and the punctuation people write numbers with. phonenumbers itself would read
# letters as keypad digits ("ABCD" → 2223) and skip text around a number.
_ALLOWED = re.compile(r"\+?[0-9 ()./-]+", re.ASCII)
_MOBILE_TYPES = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
_MAX_RAW_LENGTH = 32


def normalise_mobile(raw: str, default_region: str = "UZ") -> str:
    """Return the E.164 form of a valid mobile number or raise InvalidPhoneNumberError."""
    if not raw or len(raw) > _MAX_RAW_LENGTH or not _ALLOWED.fullmatch(raw.strip()):
        raise InvalidPhoneNumberError(raw[:_MAX_RAW_LENGTH])
    try:
        number = phonenumbers.parse(raw, default_region)
    except NumberParseException:
        raise InvalidPhoneNumberError(raw) from None
    if number.extension or not phonenumbers.is_valid_number(number):
        raise InvalidPhoneNumberError(raw)
    if phonenumbers.number_type(number) not in _MOBILE_TYPES:
        raise InvalidPhoneNumberError(raw)
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def phone_subject_id(key: bytes, purpose: str, e164: str) -> UUID:
    """A stable id for something keyed by a phone number, without the number in it.

    A keyed HMAC, so that ids in tables and logs cannot be reversed by hashing every
    possible number (the space of mobile numbers is small).
    """
    digest = hmac.new(key, f"{purpose}\x00{e164}".encode(), hashlib.sha256).digest()
    return UUID(bytes=digest[:16], version=4)


def region_of(e164: str) -> str:
    """The ISO 3166 alpha-2 region a normalised number belongs to; ``001`` for the
    non-geographic ranges (satellite phones +881, international networks +882/+883)."""
    return phonenumbers.region_code_for_number(phonenumbers.parse(e164)) or "ZZ"


def number_block(e164: str) -> str:
    """The block of 10,000 numbers ``e164`` belongs to: the number less its last 4 digits
    (``+998901234567`` → ``+99890123``).

    Ranges are sold and pumped by the block, while people who share a block are few; a
    block names 10,000 people at once, so it is not personal data.
    """
    return e164[:-4]
