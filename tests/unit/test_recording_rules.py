"""The Recording aggregate's transcription rules, without storage."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.recordings import (
    InvalidEditError,
    Recording,
    RecordingNotFoundError,
    SegmentEdit,
    TranscriptionStateError,
    TranscriptionStatus,
)
from tests.factories import transcript_facts


def recording() -> Recording:
    return Recording(
        id=uuid4(),
        owner_id=uuid4(),
        filename="a.wav",
        content_type="audio/wav",
        size_bytes=10,
        sha256="0" * 64,
        blob_key="k",
        duration_seconds=1.0,
        language=None,
        prompt=None,
    )


FACTS = transcript_facts("hello")


def test_a_stalled_worker_cannot_take_back_a_newer_attempt() -> None:
    r = recording()
    r.start_transcription("worker-b", 2)
    with pytest.raises(TranscriptionStateError):
        r.start_transcription("worker-a", 1)
    assert r.attempt == 2


def test_the_same_attempt_may_start_again_after_a_shutdown_gave_it_back() -> None:
    r = recording()
    r.start_transcription("worker-a", 1)
    r.start_transcription("worker-b", 1)
    assert r.attempt == 1


def test_only_the_attempt_in_progress_completes_and_only_once() -> None:
    r = recording()
    r.start_transcription("worker-a", 1)
    r.start_transcription("worker-b", 2)
    with pytest.raises(TranscriptionStateError):
        r.complete_transcription(1, FACTS)
    r.complete_transcription(2, FACTS)
    assert r.status is TranscriptionStatus.COMPLETED
    with pytest.raises(TranscriptionStateError):
        r.complete_transcription(2, FACTS)


def test_a_retryable_failure_requeues_and_a_final_one_fails() -> None:
    r = recording()
    r.start_transcription("w", 1)
    r.fail_transcription(1, "INFERENCE_FAILED", retryable=True)
    assert r.status is TranscriptionStatus.QUEUED
    r.start_transcription("w", 2)
    r.fail_transcription(2, "NO_SPEECH", retryable=False)
    # mypy keeps r.status narrowed to QUEUED across the call that changed it.
    assert r.status is TranscriptionStatus.FAILED  # type: ignore[comparison-overlap]
    assert r.error == "NO_SPEECH"


def test_only_a_failed_recording_can_be_retried() -> None:
    r = recording()
    with pytest.raises(TranscriptionStateError):
        r.requeue(uuid4())
    r.start_transcription("w", 1)
    r.fail_transcription(1, "NO_SPEECH", retryable=False)
    r.requeue(uuid4())
    assert r.status is TranscriptionStatus.QUEUED
    assert r.attempt == 0


def test_a_deleted_recording_neither_starts_nor_completes() -> None:
    r = recording()
    r.start_transcription("w", 1)
    r.delete(uuid4())
    with pytest.raises(RecordingNotFoundError):
        r.complete_transcription(1, FACTS)
    with pytest.raises(RecordingNotFoundError):
        r.start_transcription("w", 2)


def test_every_later_event_names_the_owner() -> None:
    r = recording()
    r.start_transcription("w", 1)
    r.complete_transcription(1, FACTS)
    events = r.collect_events()
    assert all(e.owner_id == r.owner_id for e in events[1:])  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", ["hello\x00world", "half a pair \ud800", "\udfff"])
def test_an_edit_with_text_postgres_cannot_hold_is_refused(bad: str) -> None:
    r = recording()
    r.start_transcription("w", 1)
    r.complete_transcription(1, FACTS)
    version = r.version
    with pytest.raises(InvalidEditError):
        r.edit_transcript(uuid4(), bad, [], None)
    with pytest.raises(InvalidEditError):
        r.edit_transcript(uuid4(), None, [SegmentEdit(segment_id=0, text=bad)], None)
    assert r.version == version
    assert r.transcript_text == "hello"


def test_an_edit_with_ordinary_unicode_is_accepted() -> None:
    r = recording()
    r.start_transcription("w", 1)
    r.complete_transcription(1, FACTS)
    r.edit_transcript(uuid4(), "o\u02bbzbek тили 😀\ttab", [], None)
    assert r.transcript_text == "o\u02bbzbek тили 😀\ttab"
