"""auditTrail speaks the reader's language: the summaries follow Accept-Language, as
every other message does, and still say nothing personal."""

from __future__ import annotations

from starlette.applications import Starlette

from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from tests.factories import transcript_facts
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import ALICE, USERS_ENV, asgi, edit, settle, sign_in, token_of
from tests.integration.helpers import upload as upload_clip

TRAIL = "query($id: ID!) { auditTrail(audioId: $id) { type summary } }"


def trail(app: Starlette, token: str, audio_id: str, language: str) -> dict[str, str]:
    response = asgi(
        app,
        "POST",
        json={"query": TRAIL, "variables": {"id": audio_id}},
        headers={"Authorization": f"Bearer {token}", "Accept-Language": language},
    )
    body = response.json()
    assert "errors" not in body, body
    return {e["type"]: e["summary"] for e in body["data"]["auditTrail"]}


def test_summaries_follow_accept_language(make_ovoz: MakeOvoz, tone_clip: bytes) -> None:
    ovoz: Ovoz = make_ovoz(**USERS_ENV)
    alice = sign_in(ovoz, ALICE)
    audio_id = upload_clip(ovoz, alice, tone_clip, language="ru").recording.id
    ovoz.recordings.start_transcription(audio_id, "test-worker", 1)
    ovoz.recordings.complete_transcription(audio_id, 1, transcript_facts("secret words here"))
    edit(ovoz, alice, audio_id, "private correction")
    settle(ovoz)
    app = create_app(services_of(ovoz), production=False)
    token = token_of(ovoz, alice)

    english = trail(app, token, str(audio_id), "en")
    russian = trail(app, token, str(audio_id), "ru")
    uzbek = trail(app, token, str(audio_id), "uz")
    assert english["AudioUploaded"].startswith("Uploaded audio/")
    assert english["AudioUploaded"].endswith("language hint ru")
    assert russian["AudioUploaded"].startswith("Загружено: audio/")
    assert uzbek["AudioUploaded"].startswith("Yuklandi: audio/")
    assert russian["TranscriptionStarted"] == "Распознавание началось (попытка 1)"
    assert uzbek["TranscriptEdited"] == "Matn butunlay almashtirildi (2 soʻz)"
    for summaries in (english, russian, uzbek):
        assert set(summaries) == {
            "AudioUploaded",
            "TranscriptionStarted",
            "TranscriptionCompleted",
            "TranscriptEdited",
        }
        text = " ".join(summaries.values())
        assert "secret" not in text
        assert "private" not in text
    for english_word in ("Uploaded", "Transcri", "words", "attempt"):
        assert english_word not in " ".join(russian.values()) + " ".join(uzbek.values())
