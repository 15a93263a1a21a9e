"""The error vocabulary of the schema: the ``Error`` interface and its members."""

from __future__ import annotations

import strawberry

from graphql_api.messages import message


@strawberry.interface(description="An expected failure, with a stable code and a human message.")
class Error:
    code: str
    message: str


@strawberry.type
class InvalidPhoneNumber(Error):
    pass


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
