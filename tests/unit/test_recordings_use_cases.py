"""The recordings use cases on in-memory storage: who may edit and delete, how edits
change the transcript, and what a write that lost a race answers."""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID, uuid4

import pytest

from domain.access import Principal
from domain.identity import Role
from domain.ports import BlobStore, SubjectKeys
from domain.recordings import (
    InvalidEditError,
    NotPermittedError,
    Recording,
    RecordingNotFoundError,
    SegmentEdit,
    VersionConflictError,
)
from domain.recordings_app import Recordings
from tests.factories import talk_facts, transcript_facts

POPO_ENV = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class MemoryBlobs(BlobStore):
    """Blobs by key; remembers which were deleted."""

    def __init__(self) -> None:
        self.deleted: list[str] = []

    def delete(self, key: str) -> None:
        self.deleted.append(key)


class MemoryKeys(SubjectKeys):
    """Data keys that are either alive or destroyed."""

    def __init__(self) -> None:
        self.destroyed: set[UUID] = set()

    def destroy(self, subject_ids: list[UUID]) -> None:
        self.destroyed.update(subject_ids)

    def is_destroyed(self, subject_id: UUID) -> bool:
        return subject_id in self.destroyed


@pytest.fixture
def blobs() -> MemoryBlobs:
    return MemoryBlobs()


@pytest.fixture
def keys() -> MemoryKeys:
    return MemoryKeys()


@pytest.fixture
def recordings(blobs: MemoryBlobs, keys: MemoryKeys) -> Recordings:
    return Recordings(blobs, keys, env=POPO_ENV)


def person(role: Role = Role.USER) -> Principal:
    return Principal(user_id=uuid4(), role=role, expires_at=time.time() + 3600)


def transcribed(recordings: Recordings, owner: Principal, *segment_texts: str) -> UUID:
    """A recording of ``owner`` whose transcription completed with these segments
    (version 3: uploaded, started, completed)."""
    recording_id = recordings.new_id()
    recordings.upload(recording_id, owner.user_id, talk_facts(0))
    recordings.start_transcription(recording_id, "test-worker", 1)
    recordings.complete_transcription(recording_id, 1, transcript_facts(*segment_texts))
    return recording_id


def reading_stale(recordings: Recordings, stale: Recording) -> Callable[..., Recording]:
    """A ``get`` that hands out ``stale`` once, as if another write landed after our read."""
    real_get = recordings.get
    served: list[Recording] = []

    def get(principal: Principal, recording_id: UUID, version: int | None = None) -> Recording:
        if not served:
            served.append(stale)
            return stale
        return real_get(principal, recording_id, version)

    return get


# -- edits ------------------------------------------------------------------------------------


def test_a_whole_text_edit_spreads_its_words_over_the_segments_by_their_word_counts(
    recordings: Recordings,
) -> None:
    owner = person()
    audio_id = transcribed(recordings, owner, "one two", "three four five")
    written = recordings.edit_transcript(owner, audio_id, "a b c d e", [], expected_version=3)
    assert written.recording.version == 4
    edited = recordings.get(owner, audio_id)
    assert edited.transcript_text == "a b c d e"
    assert [(s["start"], s["end"], s["text"]) for s in edited.segments] == [
        (0.0, 1.0, "a b"),
        (1.0, 2.0, "c d e"),
    ]
    assert all(s["edited"] and s["words"] == [] for s in edited.segments)


def test_a_segment_edit_changes_that_segment_and_joins_the_transcript(
    recordings: Recordings,
) -> None:
    owner = person()
    audio_id = transcribed(recordings, owner, "one two", "three four five")
    recordings.edit_transcript(owner, audio_id, None, [SegmentEdit(1, "drei")], None)
    edited = recordings.get(owner, audio_id)
    assert edited.transcript_text == "one two drei"
    assert [s["text"] for s in edited.segments] == ["one two", "drei"]
    assert "edited" not in edited.segments[0]
    assert edited.segments[1]["edited"] is True


@pytest.mark.parametrize(
    ("text", "segment_edits"),
    [
        (None, []),  # nothing to change
        ("new text", [SegmentEdit(0, "both")]),  # the whole text and segments at once
        (None, [SegmentEdit(7, "no such segment")]),
    ],
)
def test_an_edit_the_rules_refuse_changes_nothing(
    recordings: Recordings, text: str | None, segment_edits: list[SegmentEdit]
) -> None:
    owner = person()
    audio_id = transcribed(recordings, owner, "hello")
    with pytest.raises(InvalidEditError):
        recordings.edit_transcript(owner, audio_id, text, segment_edits, None)
    assert recordings.get(owner, audio_id).version == 3
    assert recordings.get(owner, audio_id).transcript_text == "hello"


def test_an_edit_expecting_an_older_version_conflicts_and_names_both(
    recordings: Recordings,
) -> None:
    owner = person()
    audio_id = transcribed(recordings, owner, "hello")
    recordings.edit_transcript(owner, audio_id, "first", [], expected_version=3)
    with pytest.raises(VersionConflictError) as caught:
        recordings.edit_transcript(owner, audio_id, "second", [], expected_version=3)
    assert (caught.value.expected, caught.value.actual) == (3, 4)
    assert recordings.get(owner, audio_id).transcript_text == "first"


def test_an_edit_that_loses_the_race_to_save_conflicts_instead_of_overwriting(
    recordings: Recordings, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = person()
    audio_id = transcribed(recordings, owner, "hello")
    stale = recordings.get(owner, audio_id)
    recordings.edit_transcript(owner, audio_id, "the winner", [], None)
    monkeypatch.setattr(recordings, "get", reading_stale(recordings, stale))
    with pytest.raises(VersionConflictError) as caught:
        recordings.edit_transcript(owner, audio_id, "the loser", [], None)
    assert (caught.value.expected, caught.value.actual) == (3, 4)
    assert recordings.load(audio_id).transcript_text == "the winner"


def test_an_admin_sees_anothers_transcript_but_may_not_edit_it(recordings: Recordings) -> None:
    owner, admin = person(), person(Role.ADMIN)
    audio_id = transcribed(recordings, owner, "hello")
    assert recordings.get(admin, audio_id).transcript_text == "hello"
    with pytest.raises(NotPermittedError):
        recordings.edit_transcript(admin, audio_id, "admin's words", [], None)
    assert recordings.get(owner, audio_id).version == 3


def test_another_user_can_neither_see_nor_edit_nor_delete_a_recording(
    recordings: Recordings, blobs: MemoryBlobs
) -> None:
    owner, stranger = person(), person()
    audio_id = transcribed(recordings, owner, "hello")
    with pytest.raises(RecordingNotFoundError):
        recordings.get(stranger, audio_id)
    with pytest.raises(RecordingNotFoundError):
        recordings.edit_transcript(stranger, audio_id, "mine now", [], None)
    with pytest.raises(RecordingNotFoundError):
        recordings.delete(stranger, audio_id)
    assert recordings.get(owner, audio_id).version == 3
    assert blobs.deleted == []


# -- deletion ---------------------------------------------------------------------------------


def test_deleting_erases_the_blob_its_upload_recorded_and_the_key(
    recordings: Recordings, blobs: MemoryBlobs, keys: MemoryKeys
) -> None:
    owner = person()
    audio_id = transcribed(recordings, owner, "hello")
    blob_key = recordings.get(owner, audio_id).blob_key
    recordings.delete(owner, audio_id)
    assert blobs.deleted == [blob_key]
    assert keys.is_destroyed(audio_id)
    with pytest.raises(RecordingNotFoundError):
        recordings.get(owner, audio_id)
    with pytest.raises(RecordingNotFoundError):
        recordings.edit_transcript(owner, audio_id, "too late", [], None)


def test_an_admin_deletes_anothers_recording(recordings: Recordings, keys: MemoryKeys) -> None:
    owner, admin = person(), person(Role.ADMIN)
    audio_id = transcribed(recordings, owner, "hello")
    recordings.delete(admin, audio_id)
    assert keys.is_destroyed(audio_id)
    with pytest.raises(RecordingNotFoundError):
        recordings.get(owner, audio_id)


def test_a_delete_that_loses_a_race_reads_again_and_deletes(
    recordings: Recordings, keys: MemoryKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = person()
    audio_id = transcribed(recordings, owner, "hello")
    stale = recordings.get(owner, audio_id)
    recordings.edit_transcript(owner, audio_id, "an edit in between", [], None)
    monkeypatch.setattr(recordings, "get", reading_stale(recordings, stale))
    recordings.delete(owner, audio_id)
    assert keys.is_destroyed(audio_id)
    with pytest.raises(RecordingNotFoundError):
        recordings.load(audio_id)
