"""End to end: live status over WebSocket, the audit trail and transcript exports.

A real ``ovoz serve`` (one for the module; PostgreSQL from ``OVOZ_TEST_DATABASE_URL`` in a
fresh schema when set, else the embedded one) with the small English model, and a real
WebSocket client speaking ``graphql-transport-ws``. A second test runs the roles as
separate processes (``ovoz api`` + ``ovoz projector`` + ``ovoz worker``) on one external
schema and one var dir, so that status changes cross processes through PostgreSQL.

To see QUEUED before the worker takes a recording, a test first uploads a longer
"blocker" recording: the one worker of ``serve`` is busy with it while the recording
under test waits in the queue.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
import psycopg
import pytest
from psycopg import sql
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.conftest import AUDIO_DIR, speech_wav
from tests.e2e.api_client import graphql_data, post_upload, sign_in
from tests.e2e.conftest import OvozServer, ovoz_command, server_env, stop_embedded_postgres

pytestmark = pytest.mark.e2e

JFK = AUDIO_DIR / "jfk.flac"
ALICE, BOB = "+998901111111", "+998902222222"
CODES = {ALICE: "111111", BOB: "222222"}
PROTOCOL = Subprotocol("graphql-transport-ws")
EVENT_TIMEOUT = 120.0


def _secret() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(48)).decode()


UPLOAD = """mutation($file: Upload!, $language: String) {
  uploadAudio(file: $file, language: $language) {
    __typename ... on Audio { id status version } ... on Error { code message }
  }
}"""
AUDIO = """query($id: ID!) { audio(id: $id) {
  id status version transcriptText segments { id start end text edited }
} }"""
UPDATE_TEXT = """mutation($id: ID!, $text: String) {
  updateAudio(id: $id, input: {transcriptText: $text}) {
    __typename ... on Audio { version transcriptText } ... on Error { code message }
  }
}"""
UPDATE_SEGMENTS = """mutation($id: ID!, $segments: [SegmentEditInput!]) {
  updateAudio(id: $id, input: {segments: $segments}) {
    __typename ... on Audio { version transcriptText segments { id text } }
    ... on Error { code message }
  }
}"""
AUDIT = """query($id: ID!) {
  auditTrail(audioId: $id) { version type at actor summary redacted }
}"""
EVENT_FIELDS = "audioId status progress version error audio { transcriptText }"
AUDIO_STATUS = f"subscription($id: ID!) {{ audioStatus(id: $id) {{ {EVENT_FIELDS} }} }}"
MY_EVENTS = f"subscription {{ myAudioEvents {{ {EVENT_FIELDS} }} }}"


# -- HTTP ---------------------------------------------------------------------------------


@dataclass
class Live:
    server: OvozServer
    jwt_secret: str
    tokens: dict[str, str]
    user_ids: dict[str, str]

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/graphql"

    def gql(self, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
        return graphql_data(self.server, query, token, **variables)

    def sign_in(self, phone: str) -> None:
        self.tokens[phone], self.user_ids[phone] = sign_in(self.server, phone, CODES[phone])

    def upload(self, token: str, content: bytes, filename: str) -> str:
        response = post_upload(self.server, UPLOAD, token, content, filename, language="en")
        assert response.status_code == 200, response.text
        result = response.json()["data"]["uploadAudio"]
        assert result["__typename"] == "Audio", result
        return str(result["id"])

    def wait_status(self, audio_id: str, token: str, status: str = "COMPLETED") -> dict[str, Any]:
        deadline = time.monotonic() + EVENT_TIMEOUT
        while True:
            audio: dict[str, Any] = self.gql(AUDIO, token, id=audio_id)["audio"]
            if audio["status"] == status:
                return audio
            assert audio["status"] != "FAILED", audio
            assert time.monotonic() < deadline, audio
            time.sleep(0.2)

    def get(self, path: str, token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.server.url}{path}", headers=headers, timeout=30.0)

    def mint(self, user_id: str, expires_in: float) -> str:
        """A token signed with the server's secret, expiring ``expires_in`` s from now."""
        now = int(time.time())
        claims = {
            "sub": user_id,
            "iat": now - 10,
            "exp": now + expires_in,
            "jti": uuid.uuid4().hex,
            "iss": "ovoz",
            "aud": "ovoz-api",
            "role": "USER",
            "sid": str(uuid.uuid4()),
        }
        return jwt.encode(claims, self.jwt_secret, algorithm="HS256")


def base_settings(jwt_secret: str) -> dict[str, str]:
    return {
        "JWT_SECRET": jwt_secret,
        "MASTER_KEY": _secret(),
        "OTP_PEPPER": _secret(),
        "PHONE_HMAC_KEY": _secret(),
        "OTP_TEST_NUMBERS": ",".join(f"{p}:{c}" for p, c in CODES.items()),
        "LOG_LEVEL": "WARNING",
        "WORKERS": "1",
        "WHISPER_MODEL": "tiny.en",
        "WHISPER_THREADS": "1",
    }


def _drop_schema(database_url: str, schema: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture(scope="module")
def blocker(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if not JFK.exists():
        pytest.skip(f"real audio missing under {AUDIO_DIR} (the shared audio set)")
    return speech_wav(tmp_path_factory.mktemp("blocker") / "blocker.wav", 30).read_bytes()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    if not JFK.exists():
        pytest.skip(f"real audio missing under {AUDIO_DIR} (the shared audio set)")
    workdir = tmp_path_factory.mktemp("live-e2e")
    var_dir = workdir / "var"
    database_url = os.environ.get("OVOZ_TEST_DATABASE_URL") or None
    schema = f"e2e_{uuid.uuid4().hex[:12]}" if database_url else None
    jwt_secret = _secret()
    settings = base_settings(jwt_secret)
    if database_url and schema:
        settings.update(DATABASE_URL=database_url, DATABASE_SCHEMA=schema)
    server = OvozServer(workdir=workdir, var_dir=var_dir, env=server_env(var_dir, **settings))
    try:
        server.serve()
        built = Live(server, jwt_secret, tokens={}, user_ids={})
        for phone in (ALICE, BOB):
            built.sign_in(phone)
        yield built
    finally:
        server.stop()
        server.kill()
        stop_embedded_postgres(var_dir)
        if database_url and schema:
            _drop_schema(database_url, schema)


# -- WebSocket (graphql-transport-ws) ----------------------------------------------------------


async def open_socket(url: str, payload: dict[str, Any] | None) -> ClientConnection:
    """Connect and send connection_init; the caller reads the ack (or the close)."""
    ws = await connect(url, subprotocols=[PROTOCOL], open_timeout=30, max_queue=None)
    init: dict[str, Any] = {"type": "connection_init"}
    if payload is not None:
        init["payload"] = payload
    await ws.send(json.dumps(init))
    return ws


async def connected(url: str, token: str, key: str = "Authorization") -> ClientConnection:
    ws = await open_socket(url, {key: f"Bearer {token}"})
    ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
    assert ack["type"] == "connection_ack", ack
    return ws


async def close_code(ws: ClientConnection, timeout: float = 15.0) -> int | None:
    """Wait for the server to close the socket; its close code."""
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = json.loads(await ws.recv())
                assert message["type"] in {"ping", "pong"}, message
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


async def subscribe(
    ws: ClientConnection, op_id: str, query: str, variables: dict[str, Any] | None = None
) -> None:
    message: dict[str, Any] = {"id": op_id, "type": "subscribe", "payload": {"query": query}}
    if variables:
        message["payload"]["variables"] = variables
    await ws.send(json.dumps(message))


async def next_message(ws: ClientConnection, timeout: float = EVENT_TIMEOUT) -> dict[str, Any]:
    """The next message that is not a ping (answered) or pong."""
    async with asyncio.timeout(timeout):
        while True:
            message: dict[str, Any] = json.loads(await ws.recv())
            if message["type"] == "ping":
                await ws.send(json.dumps({"type": "pong"}))
                continue
            if message["type"] == "pong":
                continue
            return message


async def events_until_done(
    ws: ClientConnection, audio_id: str, timeout: float = EVENT_TIMEOUT
) -> list[dict[str, Any]]:
    """Every event about ``audio_id`` up to and including COMPLETED or FAILED."""
    events: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while True:
            message = await next_message(ws)
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            data = message["payload"]["data"]
            event = data.get("audioStatus") or data.get("myAudioEvents")
            if event["audioId"] != audio_id:
                continue
            events.append(event)
            if event["status"] in {"COMPLETED", "FAILED"}:
                return events


def collapsed(events: list[dict[str, Any]]) -> list[str]:
    statuses: list[str] = []
    for e in events:
        if not statuses or statuses[-1] != e["status"]:
            statuses.append(e["status"])
    return statuses


def check_sequence(events: list[dict[str, Any]], *, first: str = "QUEUED") -> None:
    """QUEUED → PROCESSING (progress rising) → COMPLETED with the transcript, in order."""
    assert events[0]["status"] == first, events
    assert collapsed(events) == ["QUEUED", "PROCESSING", "COMPLETED"], events
    processing = [e for e in events if e["status"] == "PROCESSING"]
    progress = [e["progress"] for e in processing if e["progress"] is not None]
    assert progress, events
    assert progress == sorted(progress), progress
    assert all(0.0 <= p <= 1.0 for p in progress), progress
    versions = [e["version"] for e in events]
    assert versions == sorted(versions), versions
    done = events[-1]
    assert done["error"] is None
    assert done["progress"] == 1.0
    assert "ask not" in done["audio"]["transcriptText"].lower(), done


# -- live status ------------------------------------------------------------------------------


def test_audio_status_and_my_audio_events_follow_a_transcription(
    live: Live, blocker: bytes
) -> None:
    alice = live.tokens[ALICE]

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
        mine = await connected(live.ws_url, alice)
        await subscribe(mine, "mine", MY_EVENTS)
        await asyncio.sleep(0.3)  # let the subscription start listening
        await asyncio.to_thread(live.upload, alice, blocker, "blocker.wav")
        audio_id = await asyncio.to_thread(live.upload, alice, JFK.read_bytes(), "jfk.flac")
        status = await connected(live.ws_url, alice)
        await subscribe(status, "status", AUDIO_STATUS, {"id": audio_id})
        followed, owned = await asyncio.gather(
            events_until_done(status, audio_id), events_until_done(mine, audio_id)
        )
        await status.close()
        await mine.close()
        return followed, owned, audio_id

    followed, owned, audio_id = asyncio.run(scenario())
    check_sequence(followed)
    check_sequence(owned)
    assert collapsed(followed) == collapsed(owned)
    assert followed[-1] == owned[-1]
    assert followed[0]["version"] == 1  # the current state first: still as uploaded
    done = live.gql(AUDIO, alice, id=audio_id)["audio"]
    assert done["status"] == "COMPLETED"
    assert done["version"] == followed[-1]["version"]


def test_a_hundred_subscribers_all_receive_the_completion(live: Live, blocker: bytes) -> None:
    alice = live.tokens[ALICE]
    count = 100

    async def one(audio_id: str) -> list[dict[str, Any]]:
        ws = await connected(live.ws_url, alice)
        try:
            await subscribe(ws, "1", AUDIO_STATUS, {"id": audio_id})
            return await events_until_done(ws, audio_id)
        finally:
            await ws.close()

    async def scenario() -> list[list[dict[str, Any]] | BaseException]:
        await asyncio.to_thread(live.upload, alice, blocker, "blocker.wav")
        audio_id = await asyncio.to_thread(live.upload, alice, JFK.read_bytes(), "jfk.flac")
        return await asyncio.gather(*(one(audio_id) for _ in range(count)), return_exceptions=True)

    results = asyncio.run(scenario())
    failures = [r for r in results if isinstance(r, BaseException)]
    assert not failures, failures[:3]
    assert len(results) == count
    for events in results:
        assert isinstance(events, list)
        # Each subscribed while the recording was still waiting, and saw it through.
        assert events[0]["status"] in {"QUEUED", "PROCESSING"}, events[0]
        assert events[-1]["status"] == "COMPLETED"
        assert "ask not" in events[-1]["audio"]["transcriptText"].lower()


# -- rejected handshakes and subscriptions ---------------------------------------------------


def test_handshakes_without_a_valid_token_are_closed_with_4403(live: Live) -> None:
    alice_id = live.user_ids[ALICE]
    expired = live.mint(alice_id, -60)
    forged = jwt.encode(
        jwt.decode(live.mint(alice_id, 600), options={"verify_signature": False}),
        _secret(),
        algorithm="HS256",
    )

    async def rejected(payload: dict[str, Any] | None) -> int | None:
        ws = await open_socket(live.ws_url, payload)
        return await close_code(ws)

    async def scenario() -> dict[str, int | None]:
        return {
            "no payload": await rejected(None),
            "no token": await rejected({}),
            "not bearer": await rejected({"Authorization": f"Basic {live.tokens[ALICE]}"}),
            "garbage": await rejected({"Authorization": "Bearer not-a-token"}),
            "forged": await rejected({"Authorization": f"Bearer {forged}"}),
            "expired": await rejected({"Authorization": f"Bearer {expired}"}),
        }

    assert asyncio.run(scenario()) == dict.fromkeys(
        ("no payload", "no token", "not bearer", "garbage", "forged", "expired"), 4403
    )

    # The same tokens, made valid, are accepted (so the rejections were about the token),
    # and the key is case-insensitive.
    async def accepted() -> None:
        for key in ("Authorization", "authorization", "AUTHORIZATION"):
            ws = await connected(live.ws_url, live.mint(alice_id, 600), key=key)
            await ws.close()

    asyncio.run(accepted())


def test_another_users_recording_looks_like_a_missing_one(live: Live) -> None:
    alice, bob = live.tokens[ALICE], live.tokens[BOB]
    audio_id = live.upload(alice, JFK.read_bytes(), "jfk.flac")

    async def first_message(token: str, target: str) -> dict[str, Any]:
        ws = await connected(live.ws_url, token)
        try:
            await subscribe(ws, "op", AUDIO_STATUS, {"id": target})
            return await next_message(ws, 30)
        finally:
            await ws.close()

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        return (
            await first_message(bob, audio_id),
            await first_message(bob, str(uuid.uuid4())),
            await first_message(alice, audio_id),
        )

    others, missing, own = asyncio.run(scenario())
    # graphql-transport-ws: an "error" message, or a "next" whose payload has only errors.
    assert others["type"] in {"error", "next"}, others
    errors = others["payload"] if others["type"] == "error" else others["payload"]["errors"]
    assert others["type"] == "error" or others["payload"]["data"] is None, others
    assert [e["extensions"]["code"] for e in errors] == ["NOT_FOUND"], others
    assert others == missing
    assert own["type"] == "next", own
    assert own["payload"]["data"]["audioStatus"]["audioId"] == audio_id
    live.wait_status(audio_id, alice)


def test_the_socket_is_closed_when_its_token_expires(live: Live) -> None:
    alice_id = live.user_ids[ALICE]

    async def scenario() -> tuple[float, int | None]:
        token = live.mint(alice_id, 3)
        ws = await connected(live.ws_url, token)
        connected_at = time.monotonic()
        await subscribe(ws, "mine", MY_EVENTS)
        code = await close_code(ws, timeout=15)
        return time.monotonic() - connected_at, code

    elapsed, code = asyncio.run(scenario())
    assert code == 4403
    # exp has one-second resolution: closed about 2-3 s after connecting, not much later.
    assert 1.0 <= elapsed <= 6.0, elapsed


# -- audit trail ------------------------------------------------------------------------------


def test_the_audit_trail_lists_every_event_in_order_without_personal_data(live: Live) -> None:
    alice, bob = live.tokens[ALICE], live.tokens[BOB]
    audio_id = live.upload(alice, JFK.read_bytes(), "secret-meeting.flac")
    done = live.wait_status(audio_id, alice)
    new_text = "Completely different words from the editor about turnips"
    edited = live.gql(UPDATE_TEXT, alice, id=audio_id, text=new_text)["updateAudio"]
    assert edited["__typename"] == "Audio", edited

    trail = live.gql(AUDIT, alice, id=audio_id)["auditTrail"]
    assert [e["version"] for e in trail] == list(range(1, len(trail) + 1))
    assert trail[-1]["version"] == edited["version"]
    assert [e["type"] for e in trail] == [
        "AudioUploaded",
        "TranscriptionStarted",
        "TranscriptionCompleted",
        "TranscriptEdited",
    ]
    times = [e["at"] for e in trail]
    assert times == sorted(times)
    assert trail[0]["actor"] == live.user_ids[ALICE]
    assert trail[-1]["actor"] == live.user_ids[ALICE]
    assert not any(e["redacted"] for e in trail)
    assert all(e["summary"].strip() for e in trail)
    summaries = " ".join(e["summary"] for e in trail).lower()
    for private in ("ask not", "country", "americans", "turnips", "editor", "secret-meeting"):
        assert private not in summaries, (private, summaries)
    assert "ask not" in done["transcriptText"].lower()

    # Another user gets what a missing recording gets: nothing.
    assert live.gql(AUDIT, bob, id=audio_id)["auditTrail"] == []
    assert live.gql(AUDIT, bob, id=str(uuid.uuid4()))["auditTrail"] == []


# -- exports ----------------------------------------------------------------------------------

_SRT_TIME = r"(\d{2}):(\d{2}):(\d{2}),(\d{3})"
_VTT_TIME = r"(\d{2}):(\d{2}):(\d{2})\.(\d{3})"


def _seconds(h: str, m: str, s: str, ms: str) -> float:
    assert int(m) < 60
    assert int(s) < 60
    return int(h) * 3600 + int(m) * 60 + int(s) + int(ms) / 1000


def _cues(
    blocks: list[str], time_pattern: str, *, numbered: bool
) -> list[tuple[float, float, str]]:
    timing = re.compile(rf"^{time_pattern} --> {time_pattern}$")
    cues: list[tuple[float, float, str]] = []
    previous_end = 0.0
    for number, block in enumerate(blocks, start=1):
        lines = block.split("\n")
        if numbered:
            assert lines[0] == str(number), block
            lines = lines[1:]
        match = timing.match(lines[0])
        assert match, block
        start, end = _seconds(*match.groups()[:4]), _seconds(*match.groups()[4:])
        assert previous_end <= start <= end, block  # monotonic, never overlapping
        text = " ".join(line.strip() for line in lines[1:])
        assert text.strip(), block
        assert all(len(line) <= 60 for line in lines[1:]), block
        cues.append((start, end, text))
        previous_end = end
    assert cues
    return cues


def parse_srt(body: str) -> list[tuple[float, float, str]]:
    """SubRip: numbered cues from 1, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, text, blank line."""
    assert "\r" not in body
    blocks = body.strip("\n").split("\n\n")
    return _cues(blocks, _SRT_TIME, numbered=True)


def parse_vtt(body: str) -> list[tuple[float, float, str]]:
    """WebVTT: the ``WEBVTT`` header, a blank line, then cues with ``HH:MM:SS.mmm``."""
    header, _, rest = body.partition("\n\n")
    assert header == "WEBVTT", body[:40]
    blocks = rest.strip("\n").split("\n\n")
    return _cues(blocks, _VTT_TIME, numbered=False)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z']+", text.lower())


def test_transcript_exports_parse_back_and_follow_edits(live: Live) -> None:
    alice, bob = live.tokens[ALICE], live.tokens[BOB]
    audio_id = live.upload(alice, JFK.read_bytes(), "jfk.flac")
    done = live.wait_status(audio_id, alice)
    segments = [s for s in done["segments"] if s["text"].strip()]
    assert segments

    def export(fmt: str, token: str | None = alice) -> httpx.Response:
        return live.get(f"/audio/{audio_id}/transcript.{fmt}", token)

    srt = export("srt")
    assert srt.status_code == 200, srt.text
    assert srt.headers["content-type"].startswith("application/x-subrip")
    cues = parse_srt(srt.text)
    _assert_cues_follow(cues, segments)
    _assert_readable(srt.text)
    assert "ask not" in " ".join(c[2] for c in cues).lower()

    vtt = export("vtt")
    assert vtt.status_code == 200
    assert vtt.headers["content-type"].startswith("text/vtt")
    assert parse_vtt(vtt.text) == cues

    txt = export("txt")
    assert txt.status_code == 200
    assert txt.headers["content-type"].startswith("text/plain")
    assert _words(txt.text) == _words(done["transcriptText"])
    assert "ask not" in txt.text.lower()

    as_json = export("json")
    assert as_json.status_code == 200
    document = as_json.json()
    assert document["text"] == done["transcriptText"]
    assert [s["id"] for s in document["segments"]] == [s["id"] for s in done["segments"]]
    assert document["id"] == audio_id

    # Another user, no token, a missing id, an unknown format.
    for fmt in ("txt", "srt", "vtt", "json"):
        assert export(fmt, bob).status_code == 404
        assert export(fmt, None).status_code == 401
        assert live.get(f"/audio/{uuid.uuid4()}/transcript.{fmt}", alice).status_code == 404
    assert export("docx").status_code == 404

    # A segment edit: that cue's text changes, every timing stays.
    first = segments[0]
    fixed = "And so, my fellow Americans, EDITED first segment"
    edited = live.gql(
        UPDATE_SEGMENTS, alice, id=audio_id, segments=[{"id": first["id"], "text": fixed}]
    )["updateAudio"]
    assert edited["__typename"] == "Audio", edited
    after_segment = parse_srt(export("srt").text)
    _assert_cues_follow(after_segment, [{**first, "text": fixed}, *segments[1:]])
    later = [c for c in cues if c[0] >= first["end"]]  # the other segments' cues stay
    assert [c for c in after_segment if c[0] >= first["end"]] == later
    assert parse_vtt(export("vtt").text) == after_segment
    assert "EDITED first segment" in export("txt").text

    # A whole-text edit: the words are spread over the same cues, timings kept.
    count = sum(len(s["text"].split()) for s in segments)
    new_words = [f"word{i}" for i in range(count)]
    replaced = live.gql(UPDATE_TEXT, alice, id=audio_id, text=" ".join(new_words))["updateAudio"]
    assert replaced["__typename"] == "Audio", replaced
    after_text = parse_srt(export("srt").text)
    assert " ".join(t for _, _, t in after_text).split() == new_words
    assert after_text[0][0] == pytest.approx(segments[0]["start"], abs=0.0015)
    assert after_text[-1][1] == pytest.approx(segments[-1]["end"], abs=0.0015)
    assert parse_vtt(export("vtt").text) == after_text
    assert export("json").json()["text"] == " ".join(new_words)
    assert export("srt", bob).status_code == 404


def _assert_cues_follow(cues: list[tuple[float, float, str]], segments: list[Any]) -> None:
    """Subtitle cues made from ``segments``: the same words in the same order, within the
    segments' time, in order, and none on screen longer than 7 s."""
    assert " ".join(t for _, _, t in cues).split() == " ".join(s["text"] for s in segments).split()
    assert cues[0][0] == pytest.approx(segments[0]["start"], abs=0.0015)
    assert cues[-1][1] <= segments[-1]["end"] + 0.0015
    for (start, end, _text), following in zip(cues, [*cues[1:], None], strict=True):
        assert start <= end <= start + 7.0 + 0.0015
        assert following is None or end <= following[0] + 0.0015


def _assert_readable(srt: str) -> None:
    """Every SubRip cue has at most 2 lines of text of at most 42 characters."""
    for block in srt.strip("\n").split("\n\n"):
        text = block.split("\n")[2:]
        assert 1 <= len(text) <= 2, block
        assert all(len(line) <= 42 for line in text), block


# -- roles in separate processes --------------------------------------------------------------


class Background:
    """``ovoz projector`` or ``ovoz worker`` as a process of its own."""

    def __init__(self, role: str, workdir: Path, env: dict[str, str]) -> None:
        self.log_path = workdir / f"{role}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*ovoz_command(), role],
                cwd=workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-5000:]


def test_status_from_a_worker_process_reaches_the_api_process(
    make_server: Any, workdir: Path
) -> None:
    database_url = os.environ.get("OVOZ_TEST_DATABASE_URL")
    if not database_url:
        pytest.skip("needs OVOZ_TEST_DATABASE_URL: the processes share one external database")
    if not JFK.exists():
        pytest.skip(f"real audio missing under {AUDIO_DIR}")
    schema = f"e2e_{uuid.uuid4().hex[:12]}"
    jwt_secret = _secret()
    settings = base_settings(jwt_secret)
    settings.update(DATABASE_URL=database_url, DATABASE_SCHEMA=schema)
    server: OvozServer = make_server(**settings)
    background: list[Background] = []
    try:
        server.start("api")  # no projector, no worker
        server.wait_healthy()
        background.append(Background("projector", workdir, dict(server.env)))
        api = Live(server, jwt_secret, tokens={}, user_ids={})
        api.sign_in(ALICE)  # read-your-writes: needs the projector to be running
        alice = api.tokens[ALICE]

        async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
            mine = await connected(api.ws_url, alice)
            await subscribe(mine, "mine", MY_EVENTS)
            await asyncio.sleep(0.3)
            audio_id = await asyncio.to_thread(api.upload, alice, JFK.read_bytes(), "jfk.flac")
            status = await connected(api.ws_url, alice)
            await subscribe(status, "status", AUDIO_STATUS, {"id": audio_id})
            first = await next_message(status, 30)
            # Nobody transcribes yet: the recording waits in the queue.
            assert first["type"] == "next", first
            assert first["payload"]["data"]["audioStatus"]["status"] == "QUEUED", first
            background.append(Background("worker", workdir, dict(server.env)))
            rest, owned = await asyncio.gather(
                events_until_done(status, audio_id), events_until_done(mine, audio_id)
            )
            await status.close()
            await mine.close()
            return [first["payload"]["data"]["audioStatus"], *rest], owned, audio_id

        try:
            followed, owned, audio_id = asyncio.run(scenario())
        except BaseException:
            for b in background:
                print(b.log_path.name, b.log())
            print(server.log())
            raise
        check_sequence(followed)
        check_sequence(owned)
        assert collapsed(followed) == collapsed(owned)
        # The blob the API stored is the one the worker read: same var dir.
        assert (server.var_dir / "blobs").exists()
        assert api.gql(AUDIO, alice, id=audio_id)["audio"]["status"] == "COMPLETED"
    finally:
        for b in reversed(background):
            b.stop()
        server.stop()
        _drop_schema(database_url, schema)
