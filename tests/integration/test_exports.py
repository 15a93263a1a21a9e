"""Transcript exports through the API on real PostgreSQL: subtitles of a real transcript
keep the subtitle limits, and Uzbek recordings export in Cyrillic through links whose
signature covers the script."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID

import pytest
import srt
import webvtt
from starlette.applications import Starlette

from domain.access import Principal
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from tests.factories import transcript_facts
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import ALICE, USERS_ENV, asgi, gql, settle, upload
from tests.integration.test_media_links import get, signed_in, with_params

# The shared English clips (74 s) as the engine transcribed them with model base.
REAL = json.loads(
    (Path(__file__).parents[1] / "assets" / "transcript-en-74s.json").read_text(encoding="utf-8")
)
UZBEK = "Oʻzbekiston Respublikasining poytaxti Toshkent shahri. Gʻalaba kuni choyxonaga bordik."
EXPORT_Q = """query($id: ID!, $format: ExportFormat!, $script: Script!) {
  audio(id: $id) { exportUrl(format: $format, script: $script) } }"""


@pytest.fixture
def store(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(SUBTITLE_MAX_LINE_CHARS="32", SUBTITLE_MAX_CUE_SECONDS="5", **USERS_ENV)


@pytest.fixture
def app(store: Ovoz) -> Starlette:
    return create_app(services_of(store), production=False)


def completed(
    store: Ovoz, who: Principal, data: bytes, language: str, *texts: str, **facts: Any
) -> UUID:
    audio_id = upload(store, who, data, language=language).recording.id
    store.recordings.start_transcription(audio_id, "test-worker", 1)
    store.recordings.complete_transcription(
        audio_id, 1, transcript_facts(*texts, language=language, **facts)
    )
    settle(store)
    return audio_id


def export_url(app: Starlette, token: str, audio_id: UUID, fmt: str, script: str) -> str:
    found = gql(app, token, EXPORT_Q, id=str(audio_id), format=fmt, script=script)
    url: str = found["audio"]["exportUrl"]
    return url


def test_subtitles_of_a_real_transcript_keep_the_configured_limits(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    token, alice = signed_in(app, ALICE)
    audio_id = completed(
        store, alice, tone_clip, "en", text=REAL["text"], segments=REAL["segments"]
    )
    spoken = " ".join(" ".join(s["text"].split()) for s in REAL["segments"])
    srt_cues = list(srt.parse(get(app, export_url(app, token, audio_id, "SRT", "LATN")).text))
    vtt = webvtt.from_string(get(app, export_url(app, token, audio_id, "VTT", "LATN")).text)
    vtt_cues = [
        (c.start_time.in_milliseconds() / 1000, c.end_time.in_milliseconds() / 1000, c.lines)
        for c in vtt.captions
    ]
    as_srt = [
        (c.start.total_seconds(), c.end.total_seconds(), c.content.split("\n")) for c in srt_cues
    ]
    assert as_srt == vtt_cues
    assert len(as_srt) >= 20  # 3 segments of up to 25.7 s each
    previous = 0.0
    for start, end, lines in as_srt:
        assert previous <= start <= end <= start + 5.0
        assert 1 <= len(lines) <= 2
        assert all(0 < len(line) <= 32 for line in lines), lines
        previous = end
    assert " ".join(" ".join(lines) for _, _, lines in as_srt) == spoken


def test_an_uzbek_recording_exports_in_cyrillic_through_a_signed_link(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    token, alice = signed_in(app, ALICE)
    audio_id = completed(store, alice, tone_clip, "uz", UZBEK)
    url = export_url(app, token, audio_id, "TXT", "CYRL")
    assert dict(parse_qsl(urlsplit(url).query))["script"] == "cyrl"
    response = get(app, url)
    assert response.status_code == 200
    assert response.text == (
        "Ўзбекистон Республикасининг пойтахти Тошкент шаҳри. Ғалаба куни чойхонага бордик.\n"
    )
    assert response.headers["content-disposition"].endswith(".cyrl.txt")
    latin = get(app, export_url(app, token, audio_id, "TXT", "LATN"))
    assert latin.text == UZBEK + "\n"
    data = get(app, export_url(app, token, audio_id, "JSON", "CYRL")).json()
    assert (data["script"], data["language"]) == ("cyrl", "uz")
    assert data["segments"][0]["text"].startswith("Ўзбекистон")
    cues = list(srt.parse(get(app, export_url(app, token, audio_id, "SRT", "CYRL")).text))
    assert cues[0].content.startswith("Ўзбекистон")


def test_the_signature_covers_the_script(store: Ovoz, app: Starlette, tone_clip: bytes) -> None:
    token, alice = signed_in(app, ALICE)
    audio_id = completed(store, alice, tone_clip, "uz", UZBEK)
    cyrillic = export_url(app, token, audio_id, "TXT", "CYRL")
    latin = export_url(app, token, audio_id, "TXT", "LATN")
    assert "script=" not in latin  # the links made before scripts existed still work
    assert get(app, with_params(cyrillic, script="latn")).status_code == 403
    assert get(app, with_params(latin, script="cyrl")).status_code == 403
    assert get(app, with_params(latin, script="latn")).status_code == 200
    refused = get(app, with_params(latin, script="arab"))
    assert (refused.status_code, refused.text) == (
        400,
        "Bad Request: script must be latn or cyrl",
    )


def test_cyrillic_is_refused_for_a_recording_in_another_language(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    token, alice = signed_in(app, ALICE)
    audio_id = completed(store, alice, tone_clip, "ru", "привет всем")
    response = asgi(
        app,
        "POST",
        json={
            "query": EXPORT_Q,
            "variables": {"id": str(audio_id), "format": "SRT", "script": "CYRL"},
        },
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "argument": "script"}
    assert "Uzbek Cyrillic exports are for Uzbek recordings" in error["message"]
    assert "is ru" in error["message"]
    # With a bearer token the endpoint says the same (the language can also change after
    # a link was made, when a transcription is retried).
    direct = get(
        app, f"/audio/{audio_id}/transcript.srt?script=cyrl", Authorization=f"Bearer {token}"
    )
    assert direct.status_code == 400
    assert "for Uzbek recordings" in direct.text
    assert get(app, f"/audio/{audio_id}/transcript.txt", Authorization=f"Bearer {token}").text == (
        "привет всем\n"
    )
