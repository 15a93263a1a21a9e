"""The error vocabulary of the schema: the ``Error`` interface and its members."""

from __future__ import annotations

import strawberry

from graphql_api.identity.countries import country_names
from graphql_api.messages import message


@strawberry.interface(description="An expected failure, with a stable code and a human message.")
class Error:
    code: str
    message: str


@strawberry.type
class InvalidPhoneNumber(Error):
    reason: str = strawberry.field(
        default="NOT_A_MOBILE_NUMBER",
        description="NOT_A_MOBILE_NUMBER, or COUNTRY_NOT_ALLOWED: a valid mobile number in a "
        "country that codes are not texted to (see allowedCountries).",
    )
    allowed_countries: list[str] | None = strawberry.field(
        default=None,
        description="With COUNTRY_NOT_ALLOWED: the ISO 3166 codes of the countries codes "
        "are texted to.",
    )


@strawberry.type
class RateLimited(Error):
    retry_after: int = strawberry.field(description="Seconds until the next try can succeed.")


@strawberry.type
class SmsDeliveryFailed(Error):
    pass


@strawberry.type
class InvalidOtp(Error):
    pass


def invalid_phone_number(locale: str) -> InvalidPhoneNumber:
    code = "INVALID_PHONE_NUMBER"
    return InvalidPhoneNumber(code=code, message=message(code, locale))


def country_not_allowed(locale: str, allowed: tuple[str, ...]) -> InvalidPhoneNumber:
    """A valid number in a country codes are not texted to: the message names where
    they are."""
    return InvalidPhoneNumber(
        code="INVALID_PHONE_NUMBER",
        message=message("COUNTRY_NOT_ALLOWED", locale, countries=country_names(allowed, locale)),
        reason="COUNTRY_NOT_ALLOWED",
        allowed_countries=list(allowed),
    )


def rate_limited(locale: str, retry_after: int) -> RateLimited:
    code = "RATE_LIMITED"
    return RateLimited(
        code=code, message=message(code, locale, retry_after=retry_after), retry_after=retry_after
    )


def sms_delivery_failed(locale: str) -> SmsDeliveryFailed:
    code = "SMS_DELIVERY_FAILED"
    return SmsDeliveryFailed(code=code, message=message(code, locale))


def invalid_otp(locale: str) -> InvalidOtp:
    code = "INVALID_OTP"
    return InvalidOtp(code=code, message=message(code, locale))
