"""Transcript exports through the API on real PostgreSQL: subtitles of a real transcript
keep the subtitle limits, Uzbek recordings export in Cyrillic through links whose
signature covers the script, and every format calls each speaker by name."""

from __future__ import annotations

import html
import io
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
from tests.factories import spoken_by, transcript_facts
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


RENAME_M = """mutation($id: ID!, $speaker: String!, $name: String!) {
  renameSpeaker(audioId: $id, speaker: $speaker, name: $name) { __typename } }"""
TURNS = ("Salom, Aziz.", "Salom, Gulnora.", "Bugun yigʻilish bor.", "[Music]")


def conversation(store: Ovoz, who: Principal, data: bytes) -> UUID:
    """Two speakers, and a segment the engine could not place."""
    audio_id = upload(store, who, data, language="uz").recording.id
    store.recordings.start_transcription(audio_id, "test-worker", 1)
    facts = spoken_by(transcript_facts(*TURNS, language="uz"), "S1", "S2", "S1", None)
    store.recordings.complete_transcription(audio_id, 1, facts)
    settle(store)
    return audio_id


def export_in(app: Starlette, token: str, audio_id: UUID, fmt: str, language: str) -> str:
    """The file behind the exportUrl that a reader of ``language`` is given."""
    response = asgi(
        app,
        "POST",
        json={
            "query": EXPORT_Q,
            "variables": {"id": str(audio_id), "format": fmt, "script": "LATN"},
        },
        headers={"Authorization": f"Bearer {token}", "Accept-Language": language},
    )
    file = get(app, response.json()["data"]["audio"]["exportUrl"])
    assert file.status_code == 200, file.text
    body: str = file.text
    return body


def test_every_format_calls_each_speaker_by_name(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    token, alice = signed_in(app, ALICE)
    audio_id = conversation(store, alice, tone_clip)
    renamed = gql(app, token, RENAME_M, id=str(audio_id), speaker="S1", name="Aziz & <Co>")
    assert renamed["renameSpeaker"]["__typename"] == "Audio"

    cues = list(srt.parse(export_in(app, token, audio_id, "SRT", "en")))
    assert [" ".join(c.content.split("\n")) for c in cues] == [
        "Aziz & <Co>: Salom, Aziz.",
        "Speaker 2: Salom, Gulnora.",
        "Aziz & <Co>: Bugun yigʻilish bor.",
        "[Music]",
    ]
    vtt = export_in(app, token, audio_id, "VTT", "ru")
    assert "<v Aziz &amp; &lt;Co&gt;>Salom, Aziz.</v>" in vtt
    captions = webvtt.from_buffer(io.StringIO(vtt)).captions
    voices = [html.unescape(c.voice) if c.voice else None for c in captions]
    assert voices == ["Aziz & <Co>", "Спикер 2", "Aziz & <Co>", None]
    assert [html.unescape(" ".join(c.text.split())) for c in captions] == list(TURNS)
    assert export_in(app, token, audio_id, "TXT", "uz") == (
        "Aziz & <Co>: Salom, Aziz.\n\n"
        "Soʻzlovchi 2: Salom, Gulnora.\n\n"
        "Aziz & <Co>: Bugun yigʻilish bor.\n\n"
        "[Music]\n"
    )
    data = json.loads(export_in(app, token, audio_id, "JSON", "en"))
    assert data["speakers"] == [
        {"id": "S1", "name": "Aziz & <Co>"},
        {"id": "S2", "name": "Speaker 2"},
    ]
    assert [s["speaker"] for s in data["segments"]] == ["S1", "S2", "S1", None]
    cyrillic = get(app, f"/audio/{audio_id}/transcript.txt?script=cyrl&lang=uz",
                   Authorization=f"Bearer {token}").text  # fmt: skip
    assert cyrillic.split("\n")[2] == "Сўзловчи 2: Салом, Гулнора."


def test_a_download_without_lang_names_speakers_in_the_browsers_language(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    token, alice = signed_in(app, ALICE)
    audio_id = conversation(store, alice, tone_clip)
    path = f"/audio/{audio_id}/transcript.txt"
    bearer = f"Bearer {token}"
    russian = get(app, path, Authorization=bearer, **{"Accept-Language": "ru-RU,ru;q=0.9"})
    assert russian.text.startswith("Спикер 1: Salom, Aziz.")
    assert get(app, path, Authorization=bearer).text.startswith("Soʻzlovchi 1: Salom")
    english = get(app, path + "?lang=en", Authorization=bearer, **{"Accept-Language": "ru"})
    assert english.text.startswith("Speaker 1: Salom")
