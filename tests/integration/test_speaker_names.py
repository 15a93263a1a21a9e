"""Speaker names through the API on real PostgreSQL: segments say who speaks,
Audio.speakers names them (a default in the reader's language until someone renames
them), renameSpeaker is an event that outlives a new transcription, refuses bad input
without writing, and shows in the audit trail without the name. (Exports: test_exports.)

Transcripts are recorded with hand-made facts (``tests.factories``), on the log's real
path: what the speaker engine hears is test_speakers' business."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from starlette.applications import Starlette

from domain.access import Principal
from domain.recordings import Recording
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from tests.factories import spoken_by, transcript_facts
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import (
    ADMIN,
    ALICE,
    BOB,
    USERS_ENV,
    asgi,
    settle,
    sign_in,
    token_of,
    upload,
)

SPEAKERS_Q = """query($id: ID!, $v: Int) { audio(id: $id, atVersion: $v) {
  version speakers { id name renamed } segments { id speaker } } }"""
LIST_Q = "query { audios { items { id speakers { id name } } } }"
RENAME_M = """mutation($id: ID!, $speaker: String!, $name: String!, $v: Int) {
  renameSpeaker(audioId: $id, speaker: $speaker, name: $name, expectedVersion: $v) {
    __typename
    ... on Audio { version speakers { id name renamed } }
    ... on Error { code message }
    ... on InvalidSpeakerName { reason maxChars }
    ... on VersionConflict { expectedVersion currentVersion }
  } }"""
TRAIL_Q = "query($id: ID!) { auditTrail(audioId: $id) { type actor summary } }"
TEXTS = ("Salom, Aziz.", "Salom, Gulnora.", "Bugun yigʻilish bor.", "[Music]")


@pytest.fixture
def store(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**USERS_ENV)


@pytest.fixture
def app(store: Ovoz) -> Starlette:
    return create_app(services_of(store), production=False)


def ask(
    app: Starlette, token: str, query: str, language: str = "en", **variables: Any
) -> dict[str, Any]:
    """The ``data`` of a request that must succeed. The body escapes everything (lone
    surrogates too), as a client's JSON encoder may."""
    response = asgi(
        app,
        "POST",
        content=json.dumps({"query": query, "variables": variables}),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept-Language": language,
        },
    )
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def conversation(store: Ovoz, who: Principal, clip: bytes) -> UUID:
    """A finished transcript of two speakers and a segment nobody could place."""
    audio_id = upload(store, who, clip, language="uz").recording.id
    store.recordings.start_transcription(audio_id, "test-worker", 1)
    facts = spoken_by(transcript_facts(*TEXTS, language="uz"), "S1", "S2", "S1", None)
    store.recordings.complete_transcription(audio_id, 1, facts)
    settle(store)
    return audio_id


def rename(
    app: Starlette,
    token: str,
    audio_id: UUID | str,
    speaker: str,
    name: str,
    v: int | None = None,
) -> dict[str, Any]:
    found = ask(app, token, RENAME_M, id=str(audio_id), speaker=speaker, name=name, v=v)
    result: dict[str, Any] = found["renameSpeaker"]
    return result


def speakers(app: Starlette, token: str, audio_id: UUID, language: str = "en") -> Any:
    return ask(app, token, SPEAKERS_Q, language, id=str(audio_id))["audio"]["speakers"]


def test_segments_say_who_speaks_and_unnamed_speakers_are_numbered_in_the_readers_language(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    alice = sign_in(store, ALICE)
    token = token_of(store, alice)
    audio_id = conversation(store, alice, tone_clip)
    audio = ask(app, token, SPEAKERS_Q, "en", id=str(audio_id))["audio"]
    assert [s["speaker"] for s in audio["segments"]] == ["S1", "S2", "S1", None]
    assert audio["speakers"] == [
        {"id": "S1", "name": "Speaker 1", "renamed": False},
        {"id": "S2", "name": "Speaker 2", "renamed": False},
    ]
    assert [s["name"] for s in speakers(app, token, audio_id, "ru")] == ["Спикер 1", "Спикер 2"]
    assert [s["name"] for s in speakers(app, token, audio_id, "uz")] == [
        "Soʻzlovchi 1",
        "Soʻzlovchi 2",
    ]


def test_a_transcript_without_speakers_has_none(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    alice = sign_in(store, ALICE)
    token = token_of(store, alice)
    audio_id = upload(store, alice, tone_clip).recording.id
    store.recordings.start_transcription(audio_id, "test-worker", 1)
    store.recordings.complete_transcription(audio_id, 1, transcript_facts("no labels here"))
    settle(store)
    audio = ask(app, token, SPEAKERS_Q, id=str(audio_id))["audio"]
    assert audio["speakers"] == []
    assert [s["speaker"] for s in audio["segments"]] == [None]
    assert rename(app, token, audio_id, "S1", "Gulnora")["__typename"] == "UnknownSpeaker"


def test_a_rename_names_the_speaker_for_every_reader_and_is_audited_without_the_name(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    alice = sign_in(store, ALICE)
    token = token_of(store, alice)
    audio_id = conversation(store, alice, tone_clip)
    before = ask(app, token, SPEAKERS_Q, id=str(audio_id))["audio"]["version"]

    renamed = rename(app, token, audio_id, "S2", "  Gulnora \n Karimova ", v=before)
    assert renamed["__typename"] == "Audio", renamed
    assert renamed["version"] == before + 1
    named = {"id": "S2", "name": "Gulnora Karimova", "renamed": True}
    assert renamed["speakers"] == [{"id": "S1", "name": "Speaker 1", "renamed": False}, named]
    # The read model, in any language, and the list.
    assert speakers(app, token, audio_id, "ru")[1] == named
    listed = ask(app, token, LIST_Q)["audios"]["items"]
    assert listed[0]["speakers"][1] == {"id": "S2", "name": "Gulnora Karimova"}
    # The log: the version before the rename had no name, this one has it.
    old = ask(app, token, SPEAKERS_Q, id=str(audio_id), v=before)["audio"]["speakers"]
    assert old[1] == {"id": "S2", "name": "Speaker 2", "renamed": False}
    now = ask(app, token, SPEAKERS_Q, id=str(audio_id), v=before + 1)["audio"]["speakers"]
    assert now[1] == named
    # The same name again writes nothing.
    head = store.recordings.recorder.max_notification_id()
    again = rename(app, token, audio_id, "S2", "Gulnora Karimova")
    assert (again["__typename"], again["version"]) == ("Audio", before + 1)
    assert store.recordings.recorder.max_notification_id() == head

    trails = {
        language: ask(app, token, TRAIL_Q, language, id=str(audio_id))["auditTrail"][-1]
        for language in ("en", "ru", "uz")
    }
    assert trails["en"] == {
        "type": "SpeakerRenamed",
        "actor": str(alice.user_id),
        "summary": "Speaker S2 renamed",
    }
    assert trails["ru"]["summary"] == "Спикер S2 переименован"
    assert trails["uz"]["summary"] == "S2 soʻzlovchining ismi oʻzgartirildi"
    assert not any("Gulnora" in t["summary"] for t in trails.values())


REFUSALS = [
    ("S1", "", None, "InvalidSpeakerName"),
    ("S1", " \n\t ", None, "InvalidSpeakerName"),
    ("S1", "x" * 61, None, "InvalidSpeakerName"),
    ("S1", "Gul\x00nora", None, "InvalidSpeakerName"),
    ("S1", "lone \ud800", None, "InvalidSpeakerName"),
    ("S1", "bell\x07", None, "InvalidSpeakerName"),
    ("S3", "Gulnora", None, "UnknownSpeaker"),
    ("s1", "Gulnora", None, "UnknownSpeaker"),
    ("S1\x00", "Gulnora", None, "UnknownSpeaker"),
    ("S1", "Gulnora", 1, "VersionConflict"),
]


@pytest.mark.parametrize(("speaker", "name", "version", "refusal"), REFUSALS)
def test_a_refused_rename_says_why_and_writes_nothing(
    store: Ovoz,
    app: Starlette,
    tone_clip: bytes,
    speaker: str,
    name: str,
    version: int | None,
    refusal: str,
) -> None:
    alice = sign_in(store, ALICE)
    token = token_of(store, alice)
    audio_id = conversation(store, alice, tone_clip)
    head = store.recordings.recorder.max_notification_id()
    shown = speakers(app, token, audio_id)

    refused = rename(app, token, audio_id, speaker, name, v=version)
    assert refused["__typename"] == refusal, refused
    assert refused["message"]
    if refusal == "InvalidSpeakerName":
        assert refused["maxChars"] == 60
        assert refused["reason"] in {"EMPTY", "TOO_LONG", "NOT_PLAIN_TEXT"}
    assert store.recordings.recorder.max_notification_id() == head
    assert store.recordings.load(audio_id).speaker_names == {}
    assert speakers(app, token, audio_id) == shown


def test_the_refusal_is_said_in_the_readers_language(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    alice = sign_in(store, ALICE)
    token = token_of(store, alice)
    audio_id = conversation(store, alice, tone_clip)
    variables = {"id": str(audio_id), "speaker": "S1", "name": "x" * 61}
    russian = ask(app, token, RENAME_M, "ru", **variables)["renameSpeaker"]
    assert russian["code"] == "INVALID_SPEAKER_NAME"
    assert "60" in russian["message"]
    assert "символ" in russian["message"]
    unknown = ask(app, token, RENAME_M, "en", **{**variables, "speaker": "S7", "name": "A"})
    assert unknown["renameSpeaker"]["code"] == "UNKNOWN_SPEAKER"
    assert "transcript" in unknown["renameSpeaker"]["message"]


def test_only_the_owner_renames_a_speaker(store: Ovoz, app: Starlette, tone_clip: bytes) -> None:
    alice = sign_in(store, ALICE)
    audio_id = conversation(store, alice, tone_clip)
    head = store.recordings.recorder.max_notification_id()
    bob = token_of(store, sign_in(store, BOB))
    admin = token_of(store, sign_in(store, ADMIN))
    assert rename(app, bob, audio_id, "S1", "Gulnora")["__typename"] == "NotFound"
    assert rename(app, admin, audio_id, "S1", "Gulnora")["__typename"] == "NotPermitted"
    assert rename(app, bob, "not-an-id", "S1", "Gulnora")["__typename"] == "NotFound"
    assert store.recordings.recorder.max_notification_id() == head


def transcribe_again(store: Ovoz, audio_id: UUID, *labels: str | None) -> None:
    """A new transcription of a finished recording, labelled afresh, recorded as its event
    would be (no command transcribes a COMPLETED recording again yet)."""
    recording = store.recordings.load(audio_id)
    texts = [f"new take {i}" for i in range(len(labels))]
    facts = spoken_by(transcript_facts(*texts, language="uz"), *labels)
    recording.trigger_event(Recording.TranscriptionCompleted, attempt=1, **vars(facts))
    store.recordings.save(recording)
    settle(store)


def test_names_outlive_a_new_transcription(store: Ovoz, app: Starlette, tone_clip: bytes) -> None:
    alice = sign_in(store, ALICE)
    token = token_of(store, alice)
    audio_id = conversation(store, alice, tone_clip)
    assert rename(app, token, audio_id, "S1", "Aziz")["__typename"] == "Audio"
    assert rename(app, token, audio_id, "S2", "Gulnora")["__typename"] == "Audio"

    transcribe_again(store, audio_id, "S1", "S3", "S1")
    assert speakers(app, token, audio_id) == [
        {"id": "S1", "name": "Aziz", "renamed": True},
        {"id": "S3", "name": "Speaker 3", "renamed": False},
    ]
    assert rename(app, token, audio_id, "S2", "G.")["__typename"] == "UnknownSpeaker"
    transcribe_again(store, audio_id, "S2", "S1")
    assert [s["name"] for s in speakers(app, token, audio_id)] == ["Aziz", "Gulnora"]
    # The log says the same as the read model.
    audio = ask(app, token, SPEAKERS_Q, id=str(audio_id))["audio"]
    at = ask(app, token, SPEAKERS_Q, id=str(audio_id), v=audio["version"])["audio"]
    assert at == audio


def test_a_name_is_encrypted_in_the_log_and_erased_with_the_recording(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    alice = sign_in(store, ALICE)
    token = token_of(store, alice)
    audio_id = conversation(store, alice, tone_clip)
    assert rename(app, token, audio_id, "S1", "Zulfiya Xasanova")["__typename"] == "Audio"
    stored = store.recordings.recorder.select_events(audio_id)
    assert stored[-1].topic.endswith("Recording.SpeakerRenamed")
    assert not any(b"Zulfiya" in s.state for s in stored)

    store.recordings.delete(alice, audio_id)
    settle(store)
    admin = sign_in(store, ADMIN)
    trail = store.recordings.history(admin, audio_id)
    renamed = [e for e in trail if e.type == "SpeakerRenamed"]
    assert len(renamed) == 1
    assert renamed[0].redacted
    assert "Zulfiya" not in repr(trail)
