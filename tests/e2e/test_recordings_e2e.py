"""End to end: recordings through ``ovoz serve`` over real HTTP.

One server for the module (PostgreSQL from ``OVOZ_TEST_DATABASE_URL`` in a fresh schema
when set, else the embedded one), with small limits so that the limits can be tested:
uploads through the GraphQL multipart request spec, lists, reads, edits, downloads with
ranges, deletion, and every kind of bad upload, each of which must leave no blob, no
staging file and no event behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import socket
import struct
import time
import uuid
import wave
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.conftest import AUDIO_DIR
from tests.e2e.api_client import graphql_data, post_upload, sign_in
from tests.e2e.conftest import OvozServer, server_env, stop_embedded_postgres
from tests.integration.documents import UPDATE_M

pytestmark = pytest.mark.e2e

MAX_UPLOAD_BYTES = 3_000_000
MAX_AUDIO_SECONDS = 60
MULTIPART_SLACK = 1024 * 1024  # what the server allows around the file in a request body
ALICE, BOB, ADMIN = "+998901111111", "+998902222222", "+998903333333"
CODES = {ALICE: "111111", BOB: "222222", ADMIN: "333333"}
JFK = AUDIO_DIR / "jfk.flac"
UZ_WAV = AUDIO_DIR / "uz_usc_1126542829_1_33727_1.wav"

AUDIO_FIELDS = """id ownerId filename contentType sizeBytes sha256 durationSeconds status
  progress language transcriptText segments { id text } error version createdAt updatedAt"""
UPLOAD = f"""mutation($file: Upload!, $language: String) {{
  uploadAudio(file: $file, language: $language) {{
    __typename
    ... on Audio {{ {AUDIO_FIELDS} }}
    ... on Error {{ code message }}
    ... on InvalidAudio {{ reason }}
    ... on FileTooLarge {{ maxBytes }}
  }}
}}"""
AUDIO = f"""query($id: ID!, $v: Int) {{ audio(id: $id, atVersion: $v) {{ {AUDIO_FIELDS} }} }}"""
AUDIOS = """query($search: String, $skip: Int! = 0, $limit: Int! = 100) {
  audios(search: $search, skip: $skip, limit: $limit) {
    total skip limit items { id filename version transcriptText }
  }
}"""
DELETE = """mutation($id: ID!) {
  deleteAudio(id: $id) { __typename ... on DeletedAudio { id } ... on Error { code } }
}"""


# -- the server ---------------------------------------------------------------------------


@dataclass
class Site:
    """The running server and what the tests need to look at behind it."""

    server: OvozServer
    database_url: str | None
    schema: str | None
    tokens: dict[str, str]
    user_ids: dict[str, str]

    @property
    def blob_dir(self) -> Path:
        return self.server.var_dir / "blobs"

    def blobs(self) -> set[Path]:
        """Every stored blob (staging excluded)."""
        root = self.blob_dir
        return {
            p
            for p in root.rglob("*")
            if p.is_file() and ".staging" not in p.relative_to(root).parts
        }

    def staging(self) -> list[Path]:
        staging = self.blob_dir / ".staging"
        return sorted(staging.iterdir()) if staging.exists() else []

    def events(self) -> tuple[int, int] | None:
        """How many recordings the log knows and how many uploads it recorded (None with
        the embedded database). The transcription worker may add events to recordings
        that exist; a refused upload must add neither a recording nor an upload."""
        if self.database_url is None or self.schema is None:
            return None
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            query = sql.SQL(
                "SELECT count(DISTINCT originator_id), "
                "count(*) FILTER (WHERE topic LIKE '%%.AudioUploaded') FROM {}.recordings_events"
            ).format(sql.Identifier(self.schema))
            row = conn.execute(query).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def gql(self, query: str, token: str | None = None, **variables: Any) -> dict[str, Any]:
        return graphql_data(self.server, query, token, **variables)

    def total(self, token: str) -> int:
        return int(self.gql(AUDIOS, token, limit=1)["audios"]["total"])

    def upload(
        self,
        token: str | None,
        content: bytes,
        filename: str,
        *,
        language: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        return post_upload(
            self.server, UPLOAD, token, content, filename, language=language, headers=headers
        )

    def uploaded(self, token: str, content: bytes, filename: str, **kw: Any) -> dict[str, Any]:
        response = self.upload(token, content, filename, **kw)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body
        result: dict[str, Any] = body["data"]["uploadAudio"]
        return result

    def wait_settled(self, audio_id: str, token: str, timeout: float = 60.0) -> dict[str, Any]:
        """The recording once transcription has finished with it (COMPLETED or FAILED)."""
        deadline = time.monotonic() + timeout
        while True:
            audio: dict[str, Any] = self.gql(AUDIO, token, id=audio_id)["audio"]
            if audio["status"] in {"COMPLETED", "FAILED"} or time.monotonic() > deadline:
                assert audio["status"] in {"COMPLETED", "FAILED"}, audio
                return audio
            time.sleep(0.2)

    def download(self, audio_id: str, token: str | None, **headers: str) -> httpx.Response:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.get(f"{self.server.url}/audio/{audio_id}/file", headers=headers, timeout=30)


def _sign_in(site: Site, phone: str) -> None:
    site.tokens[phone], site.user_ids[phone] = sign_in(site.server, phone, CODES[phone])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not JFK.exists() or not UZ_WAV.exists():
        pytest.skip(f"real audio missing under {AUDIO_DIR} (the shared audio set)")
    workdir = tmp_path_factory.mktemp("recordings-e2e")
    var_dir = workdir / "var"
    database_url = os.environ.get("OVOZ_TEST_DATABASE_URL") or None
    schema = f"e2e_{uuid.uuid4().hex[:12]}" if database_url else None
    settings = {
        "OTP_TEST_NUMBERS": ",".join(f"{p}:{c}" for p, c in CODES.items()),
        "ADMIN_PHONE_NUMBERS": ADMIN,
        "MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        "MAX_AUDIO_SECONDS": str(MAX_AUDIO_SECONDS),
        "LOG_LEVEL": "WARNING",
        # `serve` runs a transcription worker too: the small English model keeps it quick.
        "WORKERS": "1",
        "WHISPER_MODEL": "tiny.en",
        "WHISPER_THREADS": "1",
    }
    if database_url and schema:
        settings.update(DATABASE_URL=database_url, DATABASE_SCHEMA=schema)
    server = OvozServer(workdir=workdir, var_dir=var_dir, env=server_env(var_dir, **settings))
    try:
        server.serve()
        built = Site(server, database_url, schema, tokens={}, user_ids={})
        for phone in (ALICE, BOB, ADMIN):
            _sign_in(built, phone)
        yield built
    finally:
        server.stop()
        server.kill()
        stop_embedded_postgres(var_dir)
        if database_url and schema:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )


# -- files ----------------------------------------------------------------------------------


def synthetic_wav(seconds: float, rate: int = 8000) -> bytes:
    """A mono 8-bit WAV of a 440 Hz tone."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(
            bytes(
                128 + int(60 * math.sin(2 * math.pi * 440 * i / rate))
                for i in range(int(seconds * rate))
            )
        )
    return buffer.getvalue()


def png_image() -> bytes:
    """A real 16x16 PNG: a media file FFmpeg opens, with a picture and no sound."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 16 for _ in range(16))
    header = struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _half(path: Path) -> bytes:
    data = path.read_bytes()
    return data[: len(data) // 2]


BAD_UPLOADS: dict[str, tuple[Any, str, str | None, str]] = {
    # case: (content or a maker, filename, language, expected reason or FileTooLarge)
    "text file": (b"This is a shopping list, not audio.\n" * 40, "notes.txt", None, "NOT_AUDIO"),
    "image, no audio stream": (png_image, "picture.png", None, "NO_AUDIO_STREAM"),
    "zero-length file": (b"", "empty.flac", None, "EMPTY"),
    "wav without samples": (lambda: synthetic_wav(0), "silence.wav", None, "EMPTY"),
    "flac cut in half": (lambda: _half(JFK), "cut.flac", None, "TRUNCATED"),
    "wav cut in half": (lambda: _half(UZ_WAV), "cut.wav", None, "TRUNCATED"),
    "over the duration limit": (
        lambda: synthetic_wav(MAX_AUDIO_SECONDS + 10),
        "long.wav",
        None,
        "TOO_LONG",
    ),
    "over the size limit": (
        lambda: JFK.read_bytes() * 2 + b"\x00" * (MAX_UPLOAD_BYTES + 10 - 2 * JFK.stat().st_size),
        "big.flac",
        None,
        "FileTooLarge",
    ),
    "unknown language": (JFK.read_bytes, "jfk.flac", "xx-klingon", "UNKNOWN_LANGUAGE"),
}


# -- the life of a recording ----------------------------------------------------------------


def test_upload_list_read_edit_download_and_delete(site: Site) -> None:
    alice, bob = site.tokens[ALICE], site.tokens[BOB]
    original = JFK.read_bytes()
    blobs_before, total_before = site.blobs(), site.total(alice)

    audio = site.uploaded(alice, original, "../../private/jfk.flac", language="EN")
    assert audio["__typename"] == "Audio", audio
    audio_id = audio["id"]
    assert audio["ownerId"] == site.user_ids[ALICE]
    assert audio["filename"] == "jfk.flac"  # no directories from the client's name
    assert audio["contentType"] == "audio/flac"
    assert audio["sizeBytes"] == len(original)
    assert audio["sha256"] == hashlib.sha256(original).hexdigest()
    assert audio["durationSeconds"] == pytest.approx(11.0, abs=0.1)
    assert audio["language"] == "en"
    assert audio["error"] is None
    assert audio["version"] >= 1  # the worker may have started on it already
    assert audio["status"] in {"QUEUED", "PROCESSING"}

    # The audio itself is stored once, under a key not derived from the file name.
    new_blobs = site.blobs() - blobs_before
    assert len(new_blobs) == 1
    (blob,) = new_blobs
    assert blob.read_bytes() == original
    assert blob.name == uuid.UUID(audio_id).hex
    assert site.staging() == []

    # Read-your-writes: the list and the detail show it at once.
    listed = site.gql(AUDIOS, alice)["audios"]
    assert listed["total"] == total_before + 1
    assert listed["items"][0]["id"] == audio_id
    read = site.gql(AUDIO, alice, id=audio_id)["audio"]
    stable = ("id", "ownerId", "filename", "contentType", "sizeBytes", "sha256")
    assert {k: read[k] for k in stable} == {k: audio[k] for k in stable}
    assert (read["durationSeconds"], read["createdAt"]) == (
        audio["durationSeconds"],
        audio["createdAt"],
    )

    # The transcription worker of `serve` takes it; wait until it is done with it.
    done = site.wait_settled(audio_id, alice)
    version = done["version"]
    assert version > 1

    # Edit, with optimistic concurrency.
    text = "And so, my fellow Americans: ask not what your country can do for you."
    edited = site.gql(UPDATE_M, alice, id=audio_id, text=text, v=version)["updateAudio"]
    assert edited == {
        "__typename": "Audio",
        "id": audio_id,
        "version": version + 1,
        "transcriptText": text,
    }
    stale = site.gql(UPDATE_M, alice, id=audio_id, text="stale", v=version)["updateAudio"]
    assert stale["__typename"] == "VersionConflict"
    assert (stale["code"], stale["expectedVersion"], stale["currentVersion"]) == (
        "VERSION_CONFLICT",
        version,
        version + 1,
    )
    assert site.gql(AUDIO, alice, id=audio_id)["audio"]["transcriptText"] == text
    assert site.gql(AUDIO, alice, id=audio_id, v=1)["audio"]["transcriptText"] is None
    before_edit = site.gql(AUDIO, alice, id=audio_id, v=version)["audio"]
    assert before_edit["transcriptText"] == done["transcriptText"]
    found = site.gql(AUDIOS, alice, search="americans")["audios"]
    assert [i["id"] for i in found["items"]] == [audio_id]

    # Download: the original bytes, and ranges for players.
    full = site.download(audio_id, alice)
    assert full.status_code == 200
    assert full.content == original
    assert full.headers["content-type"].startswith("audio/flac")
    ranged = site.download(audio_id, alice, Range="bytes=1000-1999")
    assert ranged.status_code == 206
    assert ranged.content == original[1000:2000]
    assert ranged.headers["content-range"] == f"bytes 1000-1999/{len(original)}"
    tail = site.download(audio_id, alice, Range="bytes=-100")
    assert tail.status_code == 206
    assert tail.content == original[-100:]
    assert site.download(audio_id, None).status_code == 401

    # Another user: exactly what a missing id gets.
    missing = str(uuid.uuid4())
    for other_id in (audio_id, missing):
        assert site.gql(AUDIO, bob, id=other_id)["audio"] is None
        assert site.gql(AUDIO, bob, id=other_id, v=1)["audio"] is None
        assert (
            site.gql(UPDATE_M, bob, id=other_id, text="x", v=2)["updateAudio"]["code"]
            == "NOT_FOUND"
        )
        assert site.gql(DELETE, bob, id=other_id)["deleteAudio"]["code"] == "NOT_FOUND"
        assert site.download(other_id, bob).status_code == 404
        assert site.download(other_id, bob, Range="bytes=0-9").status_code == 404
    assert audio_id not in [i["id"] for i in site.gql(AUDIOS, bob)["audios"]["items"]]
    assert site.gql(AUDIOS, bob, search="americans")["audios"]["total"] == 0
    # ...and an admin sees it.
    assert site.gql(AUDIO, site.tokens[ADMIN], id=audio_id)["audio"]["id"] == audio_id

    # Delete: gone from every read, the file gone from disk.
    deleted = site.gql(DELETE, alice, id=audio_id)["deleteAudio"]
    assert deleted == {"__typename": "DeletedAudio", "id": audio_id}
    assert site.download(audio_id, alice).status_code == 404
    assert site.gql(AUDIO, alice, id=audio_id)["audio"] is None
    assert site.gql(AUDIO, alice, id=audio_id, v=1)["audio"] is None
    assert site.total(alice) == total_before
    assert site.gql(UPDATE_M, alice, id=audio_id, text="x")["updateAudio"]["code"] == "NOT_FOUND"
    assert not blob.exists()
    assert site.blobs() == blobs_before
    assert site.staging() == []


# -- bad uploads ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(BAD_UPLOADS))
def test_a_bad_upload_is_refused_with_a_typed_error_and_leaves_nothing(
    site: Site, case: str
) -> None:
    make, filename, language, expected = BAD_UPLOADS[case]
    content: bytes = make() if callable(make) else make
    alice = site.tokens[ALICE]
    blobs_before, total_before, events_before = site.blobs(), site.total(alice), site.events()

    result = site.uploaded(alice, content, filename, language=language)

    if expected == "FileTooLarge":
        assert len(content) > MAX_UPLOAD_BYTES
        assert result["__typename"] == "FileTooLarge", result
        assert (result["code"], result["maxBytes"]) == ("FILE_TOO_LARGE", MAX_UPLOAD_BYTES)
    else:
        assert result["__typename"] == "InvalidAudio", result
        assert (result["code"], result["reason"]) == ("INVALID_AUDIO", expected)
    assert result["message"].strip()
    assert site.blobs() == blobs_before
    assert site.staging() == []
    assert site.total(alice) == total_before
    assert site.events() == events_before


def test_a_grossly_oversized_body_is_refused_before_it_is_read(site: Site) -> None:
    alice = site.tokens[ALICE]
    blobs_before, total_before, events_before = site.blobs(), site.total(alice), site.events()
    declared = MAX_UPLOAD_BYTES + MULTIPART_SLACK + 5_000_000

    # The server answers 413 from the headers alone: send them and only a little body.
    boundary = "ovoz-e2e-boundary"
    head = (
        "POST /graphql HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{site.server.port}\r\n"
        f"Authorization: Bearer {alice}\r\n"
        "Apollo-Require-Preflight: true\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {declared}\r\n"
        "\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", site.server.port), timeout=15) as conn:
        conn.sendall(head + b"--" + boundary.encode() + b"\r\n" + b"\x00" * 10_000)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = conn.recv(65536)
            if not chunk:
                break
            reply += chunk
    status_line = reply.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 413"), reply[:500]

    # Without a Content-Length (chunked), the server counts while it reads.
    def chunks() -> Iterator[bytes]:
        yield b"--" + boundary.encode() + b"\r\n"
        yield b'Content-Disposition: form-data; name="operations"\r\n\r\n'
        yield json.dumps({"query": UPLOAD, "variables": {"file": None}}).encode() + b"\r\n"
        yield b"--" + boundary.encode() + b"\r\n"
        yield b'Content-Disposition: form-data; name="map"\r\n\r\n'
        yield b'{"0": ["variables.file"]}\r\n'
        yield b"--" + boundary.encode() + b"\r\n"
        yield b'Content-Disposition: form-data; name="0"; filename="huge.flac"\r\n\r\n'
        for _ in range(declared // 65536):
            yield b"\x00" * 65536

    try:
        response = httpx.post(
            f"{site.server.url}/graphql",
            content=chunks(),
            headers={
                "Authorization": f"Bearer {alice}",
                "Apollo-Require-Preflight": "true",
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
            timeout=60.0,
        )
    except (httpx.WriteError, httpx.RemoteProtocolError, httpx.ReadError):
        response = None  # the server closed the connection on us: also a refusal
    if response is not None:
        assert response.status_code == 413, response.text[:500]
        assert response.json()["errors"][0]["extensions"]["code"] == "FILE_TOO_LARGE"
    assert site.blobs() == blobs_before
    assert site.staging() == []
    assert site.total(alice) == total_before
    assert site.events() == events_before


def test_a_multipart_request_without_a_preflight_header_is_refused(site: Site) -> None:
    alice = site.tokens[ALICE]
    blobs_before, total_before, events_before = site.blobs(), site.total(alice), site.events()
    refused = site.upload(alice, JFK.read_bytes(), "jfk.flac", headers={})
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "PREFLIGHT_REQUIRED"
    assert "preflight" in refused.text.lower()
    assert site.blobs() == blobs_before
    assert site.staging() == []
    assert site.total(alice) == total_before
    assert site.events() == events_before

    # Either header lets a multipart request through to the resolver.
    passed = site.upload(alice, b"", "empty.flac", headers={"X-Apollo-Operation-Name": "Upload"})
    assert passed.status_code == 200, passed.text
    assert passed.json()["data"]["uploadAudio"]["reason"] == "EMPTY"
    # And without a token it is an authentication error, answered before the body is read.
    anonymous = site.upload(None, JFK.read_bytes(), "jfk.flac")
    assert anonymous.status_code == 401
    errors = anonymous.json()["errors"]
    assert errors[0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert site.blobs() == blobs_before
    assert site.staging() == []
    assert site.events() == events_before
