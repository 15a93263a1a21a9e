"""Naming the speakers of a recording, without storage: which names are kept, which
labels can be named, and that a name outlives the transcription that labelled it."""

from __future__ import annotations

from uuid import uuid4

import pytest

from domain.recordings import Recording, RecordingNotFoundError, VersionConflictError
from domain.speaker_names import (
    MAX_SPEAKER_NAME_CHARS,
    InvalidSpeakerNameError,
    UnknownSpeakerError,
    clean_speaker_name,
    speakers_in,
)
from graphql_api.recordings.speakers import default_speaker_name, speaker_names
from tests.factories import spoken_by, transcript_facts
from tests.unit.test_recording_rules import recording

EDITOR = uuid4()


def transcribed(*speakers: str | None, attempt: int = 1) -> Recording:
    r = recording()
    texts = [f"line {i}" for i in range(len(speakers))]
    r.start_transcription("worker", attempt)
    r.complete_transcription(attempt, spoken_by(transcript_facts(*texts), *speakers))
    return r


def retranscribe(r: Recording, *speakers: str | None) -> None:
    """A new transcription of the recording, labelled afresh. (No command transcribes a
    COMPLETED recording again yet; the event is what one would record.)"""
    texts = [f"again {i}" for i in range(len(speakers))]
    facts = spoken_by(transcript_facts(*texts), *speakers)
    r.trigger_event(Recording.TranscriptionCompleted, attempt=r.attempt, **vars(facts))


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("Gulnora", "Gulnora"),
        ("  Aziz   Karimov \n", "Aziz Karimov"),
        ("Dr.\tO\u02bbktam", "Dr. O\u02bbktam"),
        ("Ольга & <Иван>", "Ольга & <Иван>"),  # escaped where a format needs it, not here
        ("e\u0301", "\u00e9"),  # NFC: one way to write each letter
        ("x" * MAX_SPEAKER_NAME_CHARS, "x" * MAX_SPEAKER_NAME_CHARS),
    ],
)
def test_a_name_is_kept_trimmed_with_its_spaces_collapsed(given: str, kept: str) -> None:
    assert clean_speaker_name(given) == kept


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "EMPTY"),
        (" \n\t ", "EMPTY"),
        ("x" * (MAX_SPEAKER_NAME_CHARS + 1), "TOO_LONG"),
        ("Gul\x00nora", "NOT_PLAIN_TEXT"),
        ("lone \ud800", "NOT_PLAIN_TEXT"),
        ("bell\x07", "NOT_PLAIN_TEXT"),
        ("esc\x1b[31m", "NOT_PLAIN_TEXT"),
    ],
)
def test_a_name_that_cannot_be_shown_or_stored_is_refused(given: str, reason: str) -> None:
    with pytest.raises(InvalidSpeakerNameError) as refused:
        clean_speaker_name(given)
    assert refused.value.reason == reason


def test_speakers_are_listed_in_label_order_not_string_order() -> None:
    labels = ["S10", "S2", None, "S1", "S2", "S11", "S3"]
    segments = [{"speaker": label} for label in labels] + [{}]
    assert speakers_in(segments) == ["S1", "S2", "S3", "S10", "S11"]


def test_a_renamed_speaker_has_its_name_and_the_others_keep_theirs() -> None:
    r = transcribed("S1", "S2", "S1")
    version = r.version
    r.rename_speaker(EDITOR, "S2", "  Aziz ", version)
    assert r.speaker_names == {"S2": "Aziz"}
    assert r.version == version + 1
    (event,) = r.collect_events()[-1:]
    assert isinstance(event, Recording.SpeakerRenamed)
    assert (event.speaker, event.name, event.editor_id) == ("S2", "Aziz", EDITOR)


@pytest.mark.parametrize("name", ["", "   ", "x" * 61, "a\x00b"])
def test_a_bad_name_changes_nothing(name: str) -> None:
    r = transcribed("S1", "S2")
    before = (r.version, dict(r.speaker_names), len(r.pending_events))
    with pytest.raises(InvalidSpeakerNameError):
        r.rename_speaker(EDITOR, "S1", name, None)
    assert (r.version, dict(r.speaker_names), len(r.pending_events)) == before


@pytest.mark.parametrize("label", ["S3", "s1", "", "S1 ", "Gulnora"])
def test_only_a_speaker_of_the_current_transcript_can_be_named(label: str) -> None:
    r = transcribed("S1", "S2", None)
    version = r.version
    with pytest.raises(UnknownSpeakerError):
        r.rename_speaker(EDITOR, label, "Someone", None)
    assert r.version == version


def test_a_recording_without_a_transcript_has_no_speaker_to_name() -> None:
    with pytest.raises(UnknownSpeakerError):
        recording().rename_speaker(EDITOR, "S1", "Gulnora", None)


def test_a_rename_against_an_older_version_conflicts() -> None:
    r = transcribed("S1")
    with pytest.raises(VersionConflictError):
        r.rename_speaker(EDITOR, "S1", "Gulnora", r.version - 1)
    assert r.speaker_names == {}


def test_the_name_a_speaker_already_has_records_nothing() -> None:
    r = transcribed("S1")
    r.rename_speaker(EDITOR, "S1", "Gulnora", None)
    version = r.version
    r.rename_speaker(EDITOR, "S1", " Gulnora ", None)
    assert r.version == version


def test_a_deleted_recording_cannot_be_renamed() -> None:
    r = transcribed("S1")
    r.delete(EDITOR)
    with pytest.raises(RecordingNotFoundError):
        r.rename_speaker(EDITOR, "S1", "Gulnora", None)


def test_names_outlive_a_new_transcription_and_return_with_their_label() -> None:
    r = transcribed("S1", "S2", "S3")
    r.rename_speaker(EDITOR, "S1", "Gulnora", None)
    r.rename_speaker(EDITOR, "S3", "Aziz", None)
    retranscribe(r, "S1", "S2")
    assert r.speaker_names == {"S1": "Gulnora", "S3": "Aziz"}
    assert speakers_in(r.segments) == ["S1", "S2"]
    with pytest.raises(UnknownSpeakerError):  # not a speaker of this transcript
        r.rename_speaker(EDITOR, "S3", "Aziz K.", None)
    retranscribe(r, "S1", "S3")
    assert speaker_names(r.segments, r.speaker_names, "en") == {"S1": "Gulnora", "S3": "Aziz"}


def test_an_edited_transcript_keeps_its_speakers() -> None:
    r = transcribed("S1", "S2")
    r.edit_transcript(EDITOR, "one two three four", [], None)
    assert [s["speaker"] for s in r.segments] == ["S1", "S2"]
    r.rename_speaker(EDITOR, "S2", "Aziz", None)
    assert r.speaker_names == {"S2": "Aziz"}


@pytest.mark.parametrize(
    ("locale", "name"), [("uz", "So\u02bbzlovchi 2"), ("en", "Speaker 2"), ("ru", "Спикер 2")]
)
def test_an_unnamed_speaker_is_numbered_in_the_readers_language(locale: str, name: str) -> None:
    assert default_speaker_name("S2", locale) == name
    segments = [{"speaker": "S2"}, {"speaker": "S1"}]
    assert speaker_names(segments, {"S1": "Gulnora"}, locale) == {"S1": "Gulnora", "S2": name}


def test_a_label_the_engine_does_not_make_is_shown_as_it_is() -> None:
    assert default_speaker_name("SPEAKER_00", "en") == "SPEAKER_00"
