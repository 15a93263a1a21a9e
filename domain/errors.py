"""The domain's error vocabulary. Each expected failure has a stable code."""

from __future__ import annotations


class DomainError(Exception):
    """An expected failure that the caller can act on. ``code`` is stable."""

    code = "DOMAIN_ERROR"


class InvalidPhoneNumberError(DomainError):
    code = "INVALID_PHONE_NUMBER"


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
