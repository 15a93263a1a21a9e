"""Signed media links (``Audio.fileUrl``, ``Audio.exportUrl``) and ``serverInfo``, through
the ASGI app on real PostgreSQL: a link plays (ranges included) and downloads without a
header, works only for its recording and kind, and dies with the recording, the account
and the session that asked for it."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from uuid import UUID

import pytest
import srt
import webvtt
from starlette.applications import Starlette

from domain.access import Principal
from graphql_api.app import create_app
from graphql_api.media_urls import MediaSigner
from graphql_api.web import CSP
from infrastructure.bootstrap import Ovoz, services_of
from tests.factories import transcript_facts
from tests.integration.api_keys import create_key, error_codes, post
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import (
    ADMIN,
    ALICE,
    BOB,
    CODES,
    USERS_ENV,
    asgi,
    gql,
    settle,
    upload,
)

LINKS_Q = """query($id: ID!) { audio(id: $id) {
  fileUrl txt: exportUrl(format: TXT) srt: exportUrl(format: SRT)
  vtt: exportUrl(format: VTT) json: exportUrl(format: JSON) } }"""
VERIFY = """mutation($p: String!, $c: String!) { verifyOtp(phoneNumber: $p, otpCode: $c) {
  __typename ... on Token { accessToken userId } } }"""


@pytest.fixture
def store(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**USERS_ENV)


@pytest.fixture
def app(store: Ovoz) -> Starlette:
    return create_app(services_of(store), production=False)


def signed_in(app: Starlette, phone: str) -> tuple[str, Principal]:
    """A real sign-in (a session in the log), as the web client makes."""
    gql(app, "", "mutation($p: String!) { sendOtp(phoneNumber: $p) { __typename } }", p=phone)
    token = gql(app, "", VERIFY, p=phone, c=CODES[phone])["verifyOtp"]
    assert token["__typename"] == "Token", token
    return token["accessToken"], _principal(token["userId"])


def _principal(user_id: str) -> Principal:
    from domain.identity import Role

    return Principal(user_id=UUID(user_id), role=Role.USER, expires_at=1e12)


def transcribed(store: Ovoz, who: Principal, data: bytes) -> UUID:
    audio_id = upload(store, who, data).recording.id
    store.recordings.start_transcription(audio_id, "test-worker", 1)
    store.recordings.complete_transcription(audio_id, 1, transcript_facts("hello there"))
    settle(store)
    return audio_id


def links(app: Starlette, token: str, audio_id: UUID) -> dict[str, str]:
    audio: dict[str, str] = gql(app, token, LINKS_Q, id=str(audio_id))["audio"]
    return audio


def get(app: Starlette, url: str, **headers: str) -> Any:
    return asgi(app, "GET", url, headers=headers)


def with_params(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True)) | changes
    return f"{parts.path}?{urlencode(params)}"


def test_a_file_link_plays_without_a_header_and_serves_ranges(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    token, alice = signed_in(app, ALICE)
    audio_id = transcribed(store, alice, tone_clip)
    url = links(app, token, audio_id)["fileUrl"]
    assert url.startswith(f"/audio/{audio_id}/file?")
    whole = get(app, url)
    assert whole.status_code == 200
    assert whole.content == tone_clip
    assert whole.headers["accept-ranges"] == "bytes"
    part = get(app, url, Range="bytes=100-299")
    assert part.status_code == 206
    assert part.content == tone_clip[100:300]
    assert part.headers["content-range"] == f"bytes 100-299/{len(tone_clip)}"


def test_export_links_serve_each_format(store: Ovoz, app: Starlette, tone_clip: bytes) -> None:
    token, alice = signed_in(app, ALICE)
    audio_id = transcribed(store, alice, tone_clip)
    made = links(app, token, audio_id)
    assert get(app, made["txt"]).text.strip() == "hello there"
    cues = list(srt.parse(get(app, made["srt"]).text))
    assert [c.content for c in cues] == ["hello there"]
    vtt = webvtt.from_string(get(app, made["vtt"]).text)
    assert [c.text for c in vtt.captions] == ["hello there"]
    assert get(app, made["json"]).json()["text"] == "hello there"


def test_a_link_works_only_for_its_recording_and_kind_and_unaltered(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    token, alice = signed_in(app, ALICE)
    mine, other = transcribed(store, alice, tone_clip), transcribed(store, alice, tone_clip)
    made = links(app, token, mine)
    file_url = made["fileUrl"]
    query = urlsplit(file_url).query
    refused = [
        f"/audio/{other}/file?{query}",  # another recording, even the same owner's
        f"/audio/{mine}/transcript.srt?{query}",  # another kind
        f"/audio/{mine}/transcript.txt?" + urlsplit(made["srt"]).query,  # another format
        with_params(file_url, exp=str(int(dict(parse_qsl(query))["exp"]) + 3600)),
        with_params(file_url, by=str(UUID(int=1))),
        with_params(file_url, via=""),
        with_params(file_url, sig="A" * 43),
        with_params(file_url, sig="not base64 at all!"),
        with_params(file_url, via="s.not-a-uuid"),
        f"/audio/{mine}/file?sig=x",
        f"/audio/not-a-uuid/file?{query}",
    ]
    for url in refused:
        response = get(app, url)
        assert response.status_code == 403, (url, response.status_code)
        assert response.content != tone_clip
    # A bad link is refused even beside a good bearer token: it is not a fallback.
    assert get(app, refused[0], Authorization=f"Bearer {token}").status_code == 403


def test_an_expired_link_is_refused(store: Ovoz, app: Starlette, tone_clip: bytes) -> None:
    _, alice = signed_in(app, ALICE)
    audio_id = transcribed(store, alice, tone_clip)
    now = [1_000_000.0]
    signer = MediaSigner(store.settings.jwt_secret, clock=lambda: now[0])
    url = signer.file_url(audio_id, alice)
    assert signer.verify(audio_id, "file", dict(parse_qsl(urlsplit(url).query))) is not None
    now[0] += 15 * 60 + 1
    assert signer.verify(audio_id, "file", dict(parse_qsl(urlsplit(url).query))) is None
    # The server's own signer agrees that a link from 1970 is long expired.
    assert get(app, url).status_code == 403


def test_links_stop_working_when_the_recording_is_deleted(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    token, alice = signed_in(app, ALICE)
    audio_id = transcribed(store, alice, tone_clip)
    made = links(app, token, audio_id)
    assert get(app, made["fileUrl"]).status_code == 200
    deleted = gql(
        app, token, "mutation($id: ID!) { deleteAudio(id: $id) { __typename } }", id=str(audio_id)
    )
    assert deleted["deleteAudio"]["__typename"] == "DeletedAudio"
    assert get(app, made["fileUrl"]).status_code == 404
    assert get(app, made["srt"]).status_code == 404


def test_links_stop_working_when_the_account_is_deleted(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    token, alice = signed_in(app, ALICE)
    audio_id = transcribed(store, alice, tone_clip)
    made = links(app, token, audio_id)
    assert get(app, made["txt"]).status_code == 200
    gone = gql(app, token, "mutation { deleteAccount { __typename } }")
    assert gone["deleteAccount"]["__typename"] == "DeletedAccount"
    for url in made.values():
        response = get(app, url)
        assert response.status_code == 404, (url, response.status_code)


def test_links_stop_working_when_their_session_ends(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    token, alice = signed_in(app, ALICE)
    audio_id = transcribed(store, alice, tone_clip)
    made = links(app, token, audio_id)
    assert get(app, made["fileUrl"]).status_code == 200
    gql(app, token, "mutation { signOut { __typename } }")
    assert get(app, made["fileUrl"]).status_code == 404


def test_other_users_get_no_link_and_admins_links_work(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    token, alice = signed_in(app, ALICE)
    audio_id = transcribed(store, alice, tone_clip)
    bob, _ = signed_in(app, BOB)
    assert gql(app, bob, LINKS_Q, id=str(audio_id))["audio"] is None
    admin, _ = signed_in(app, ADMIN)
    made = links(app, admin, audio_id)
    assert get(app, made["fileUrl"]).content == tone_clip
    # Alice's link names Alice: changing the path to Bob's recording is refused.
    bobs = transcribed(store, _principal(gql(app, bob, "{ me { id } }")["me"]["id"]), tone_clip)
    query = urlsplit(links(app, token, audio_id)["fileUrl"]).query
    assert get(app, f"/audio/{bobs}/file?{query}").status_code == 403


def test_links_need_a_caller_who_may_read_recordings(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    anonymous = asgi(
        app, "POST", json={"query": "{ audios { items { fileUrl } } }"}, headers={}
    ).json()
    assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    token, alice = signed_in(app, ALICE)
    audio_id = transcribed(store, alice, tone_clip)
    writer = create_key(app, token, "RECORDINGS_WRITE")["key"]
    edited = post(
        app,
        writer,
        """mutation($id: ID!) { updateAudio(id: $id, input: {transcriptText: "hi"}) {
          ... on Audio { id fileUrl } } }""",
        id=str(audio_id),
    )
    assert error_codes(edited) == ["FORBIDDEN"]
    reader = create_key(app, token, "RECORDINGS_READ")["key"]
    url = post(app, reader, LINKS_Q, id=str(audio_id))["data"]["audio"]["fileUrl"]
    assert get(app, url).content == tone_clip


def test_server_info_tells_limits_and_languages_without_sign_in(
    store: Ovoz, app: Starlette
) -> None:
    info = gql(
        app,
        "",
        "{ serverInfo { maxUploadBytes maxAudioSeconds languages { code name supported } } }",
    )["serverInfo"]
    assert info["maxUploadBytes"] == store.settings.max_upload_bytes
    assert info["maxAudioSeconds"] == store.settings.max_audio_seconds
    assert info["languages"] == [
        {"code": "uz", "name": "O\u02bbzbekcha", "supported": False},
        {"code": "ru", "name": "Русский", "supported": True},
        {"code": "en", "name": "English", "supported": True},
    ]


def test_a_model_configured_for_uzbek_makes_it_supported(make_ovoz: MakeOvoz) -> None:
    ovoz = make_ovoz(WHISPER_MODELS='{"uz": "/models/whisper-uz-ct2"}')
    app = create_app(services_of(ovoz), production=False)
    languages = gql(app, "", "{ serverInfo { languages { code supported } } }")["serverInfo"]
    assert {row["code"]: row["supported"] for row in languages["languages"]} == {
        "uz": True,
        "ru": True,
        "en": True,
    }


def test_graphiql_comes_from_the_web_build_under_the_apps_policy(
    store: Ovoz, tmp_path: Path
) -> None:
    (tmp_path / "graphiql.html").write_text('<script type="module" src="/assets/g.js"></script>')
    app = create_app(services_of(store), production=False, web_dir=tmp_path)
    page = asgi(app, "GET", "/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.text == '<script type="module" src="/assets/g.js"></script>'
    assert page.headers["content-security-policy"] == CSP
    # Without a build, Strawberry's own page (which loads GraphiQL from a CDN) stands in.
    bare = create_app(services_of(store), production=False, web_dir=tmp_path / "none")
    fallback = asgi(bare, "GET", "/graphql", headers={"Accept": "text/html"})
    assert "graphiql" in fallback.text.lower()
    assert "content-security-policy" not in fallback.headers
