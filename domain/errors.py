"""The domain's error vocabulary. Each expected failure has a stable code."""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure that the caller can act on. ``code`` is stable."""

    code = "DOMAIN_ERROR"


class InvalidPhoneNumberError(DomainError):
    code = "INVALID_PHONE_NUMBER"


class CountryNotAllowedError(InvalidPhoneNumberError):
    """A valid mobile number in a region that codes are not sent to (SMS pumping:
    premium and far-away ranges are where a flood of codes earns a fraudster money).
    ``allowed`` lists the ISO 3166 codes that codes are sent to."""

    def __init__(self, region: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"codes are not sent to numbers in {region}")
        self.region = region
        self.allowed = allowed


class RateLimitedError(DomainError):
    code = "RATE_LIMITED"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"retry after {retry_after_seconds} s")
        self.retry_after_seconds = max(1, retry_after_seconds)


class SmsDeliveryFailedError(DomainError):
    code = "SMS_DELIVERY_FAILED"


class InvalidOtpError(DomainError):
    code = "INVALID_OTP"


class UserNotFoundError(DomainError):
    code = "NOT_FOUND"


class SubjectErasedError(Exception):
    """The data key of an aggregate was destroyed: its history can no longer be read."""
