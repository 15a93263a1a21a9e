"""One recording, one answer: the read model's row, the row of the recording rebuilt from
the log, and what ``audio(id)`` / ``audio(id, atVersion)`` show are the same at every step
of its life (issue 10, defect 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from projections.audios import AudioRow
from tests.factories import spoken_by, transcript_facts
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import (
    ALICE,
    USERS_ENV,
    gql,
    settle,
    sign_in,
    token_of,
    upload,
)

FULL_Q = """query($id: ID!, $v: Int) {
  audio(id: $id, atVersion: $v) {
    id ownerId filename contentType sizeBytes durationSeconds status progress language
    transcriptText segments { id start end text speaker } error version createdAt updatedAt
    speakers { id name renamed }
  }
}"""
UNDETECTED = transcript_facts(
    "salom",
    "dunyo",
    language=None,  # the engine could not tell: the language asked for stays
    language_probability=None,
    language_uncertain=True,
    model_name="base",
    processing_seconds=0.2,
)


SPOKEN = spoken_by(UNDETECTED, "S1", "S2")


def _three_answers(ovoz: Ovoz, app: Any, token: str, audio_id: UUID) -> None:
    settle(ovoz)
    row = ovoz.audios.get(audio_id)
    assert row is not None
    recording = ovoz.recordings.load(audio_id)
    assert AudioRow.of(recording, recording.created_on) == row
    live = gql(app, token, FULL_Q, id=str(audio_id))["audio"]
    at_version = gql(app, token, FULL_Q, id=str(audio_id), v=row.version)["audio"]
    assert live == at_version


def test_view_row_history_and_rebuilt_recording_agree_at_every_step(
    make_ovoz: MakeOvoz, tone_clip: bytes
) -> None:
    store = make_ovoz(**USERS_ENV)
    alice = sign_in(store, ALICE)
    app = create_app(services_of(store), production=False)
    token = token_of(store, alice)
    audio_id = upload(store, alice, tone_clip, language="uz").recording.id
    recordings = store.recordings
    steps: list[Callable[[], object]] = [
        lambda: None,  # QUEUED
        lambda: recordings.start_transcription(audio_id, "w", 1),  # PROCESSING
        lambda: recordings.fail_transcription(audio_id, 1, "ENGINE", retryable=True),
        lambda: recordings.start_transcription(audio_id, "w", 2),
        lambda: recordings.complete_transcription(audio_id, 2, SPOKEN),  # COMPLETED
        lambda: recordings.edit_transcript(alice, audio_id, "salom, dunyo!", [], None),
        lambda: recordings.rename_speaker(alice, audio_id, "S2", "Gulnora", None),
    ]
    for step in steps:
        step()
        _three_answers(store, app, token, audio_id)
    row = store.audios.get(audio_id)
    assert row is not None
    assert row.language == "uz"
    assert row.progress == 1.0
    assert row.speaker_names == {"S2": "Gulnora"}
    assert [s["speaker"] for s in row.segments] == ["S1", "S2"]  # the edit kept them
