"""The upload quota rule: which limit an upload passes, and what the refusal says."""

from __future__ import annotations

import pytest

from domain.quota import QuotaExceededError, QuotaKind, QuotaUsage, UploadQuota

QUOTA = UploadQuota(max_queued_seconds=4 * 3600.0, max_stored_bytes=5 * 1024**3)


def test_an_upload_that_fills_a_limit_exactly_is_accepted() -> None:
    QUOTA.check(QuotaUsage(3 * 3600.0, 5 * 1024**3 - 1000), 3600.0, 1000)


def test_an_upload_past_the_queued_audio_limit_says_how_much_is_queued() -> None:
    with pytest.raises(QuotaExceededError) as caught:
        QUOTA.check(QuotaUsage(3 * 3600.0, 0), 3600.5, 1000)
    e = caught.value
    assert (e.kind, e.limit, e.used, e.requested) == (
        QuotaKind.QUEUED_AUDIO_SECONDS,
        4 * 3600.0,
        3 * 3600.0,
        3600.5,
    )
    assert e.code == "QUOTA_EXCEEDED"


def test_an_upload_past_the_stored_bytes_limit_says_how_much_is_stored() -> None:
    with pytest.raises(QuotaExceededError) as caught:
        QUOTA.check(QuotaUsage(0.0, 5 * 1024**3 - 10), 60.0, 11)
    e = caught.value
    assert (e.kind, e.limit, e.used, e.requested) == (
        QuotaKind.STORED_BYTES,
        5 * 1024**3,
        5 * 1024**3 - 10,
        11,
    )


def test_the_stored_bytes_limit_is_reported_when_both_are_passed() -> None:
    """Only deleting frees stored bytes; a user told to wait for the queue would wait
    for nothing."""
    with pytest.raises(QuotaExceededError) as caught:
        QUOTA.check(QuotaUsage(4 * 3600.0, 5 * 1024**3), 1.0, 1)
    assert caught.value.kind is QuotaKind.STORED_BYTES


def test_usage_adds_up() -> None:
    assert QuotaUsage(1.5, 10) + QuotaUsage(2.0, 5) == QuotaUsage(3.5, 15)
