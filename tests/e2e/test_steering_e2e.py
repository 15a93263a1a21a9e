"""End to end, from outside: the operations of issue 13 against a real ``ovoz serve`` over
HTTP (its worker runs the bundled base model in its own process, with speaker labels).

setVocabulary steers the transcription of the committed rare-names clip; the upload's
prompt is kept; queuePosition and etaSeconds answer; the recording gets one speaker, who
can be renamed; a queued recording is cancelled and retried; an Uzbek upload is flagged;
serverInfo says what this server does. Needs no shared recordings."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from tests.e2e.api_client import graphql_data, sign_in
from tests.e2e.conftest import OvozServer, server_env, stop_embedded_postgres

pytestmark = pytest.mark.e2e

ALICE = "+998901111111"
ASSETS = Path(__file__).resolve().parents[1] / "assets"
NAMES = ASSETS / "synthetic-names-en.ogg"
SPEECH = ASSETS / "synthetic-speech-en.ogg"

UPLOAD = """mutation($file: Upload!, $language: String, $prompt: String) {
  uploadAudio(file: $file, language: $language, prompt: $prompt) { __typename
    ... on Audio { id status prompt languageUnsupported queuePosition etaSeconds }
    ... on Error { code message } } }"""
AUDIO = """query($id: ID!) { audio(id: $id) { status transcriptText prompt version
  segments { speaker text } speakers { id name renamed } } }"""
SET_VOCABULARY = """mutation($terms: [String!]!) { setVocabulary(terms: $terms) {
  __typename ... on User { vocabulary } ... on Error { code } } }"""
RENAME = """mutation($id: ID!, $speaker: String!, $name: String!, $v: Int) {
  renameSpeaker(audioId: $id, speaker: $speaker, name: $name, expectedVersion: $v) {
    __typename ... on Audio { version speakers { id name renamed } } ... on Error { code } } }"""
CANCEL = """mutation($id: ID!) { cancelTranscription(id: $id) { __typename
  ... on Audio { status } ... on Error { code } } }"""
RETRY = """mutation($id: ID!) { retryTranscription(id: $id) { __typename
  ... on Audio { status } ... on Error { code } } }"""
SERVER_INFO = """{ serverInfo { speakerLabels refusesUnsupportedLanguages
  languages { code supported } } }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OvozServer]:
    workdir = tmp_path_factory.mktemp("steering-e2e")
    var_dir = workdir / "var"
    database_url = os.environ.get("OVOZ_TEST_DATABASE_URL") or None
    schema = f"e2e_{uuid.uuid4().hex[:12]}" if database_url else None
    settings = {"OTP_TEST_NUMBERS": f"{ALICE}:111111", "LOG_LEVEL": "WARNING", "WORKERS": "1"}
    if database_url and schema:
        settings.update(DATABASE_URL=database_url, DATABASE_SCHEMA=schema)
    running = OvozServer(workdir=workdir, var_dir=var_dir, env=server_env(var_dir, **settings))
    try:
        running.serve()
        yield running
    finally:
        running.stop()
        running.kill()
        stop_embedded_postgres(var_dir)
        if database_url and schema:
            with psycopg.connect(database_url, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
                )


def upload(server: OvozServer, token: str, path: Path, **variables: Any) -> dict[str, Any]:
    operations = {"query": UPLOAD, "variables": {"file": None, **variables}}
    response = httpx.post(
        f"{server.url}/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (path.name, path.read_bytes(), "audio/ogg")},
        headers={"Authorization": f"Bearer {token}", "Apollo-Require-Preflight": "true"},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["uploadAudio"]
    assert result["__typename"] == "Audio", result
    return result


def settled(server: OvozServer, token: str, audio_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 180
    while True:
        audio: dict[str, Any] = graphql_data(server, AUDIO, token, id=audio_id)["audio"]
        if audio["status"] in {"COMPLETED", "FAILED", "CANCELLED"}:
            return audio
        assert time.monotonic() < deadline, audio
        time.sleep(0.3)


@pytest.fixture(scope="module")
def token(server: OvozServer) -> str:
    return sign_in(server, ALICE, "111111")[0]


def test_what_a_user_steers_reaches_the_transcript(server: OvozServer, token: str) -> None:
    info = graphql_data(server, SERVER_INFO)["serverInfo"]
    assert info["speakerLabels"] is True  # ./dev installs the voice encoder
    assert {lang["code"]: lang["supported"] for lang in info["languages"]}["uz"] is False

    terms = ["Tursunboyev", "Gulnora Abdurakhmonova", "Chorsu bazaar"]
    saved = graphql_data(server, SET_VOCABULARY, token, terms=terms)["setVocabulary"]
    assert saved == {"__typename": "User", "vocabulary": terms}

    names = upload(server, token, NAMES, language="en", prompt="A meeting at the bazaar.")
    assert names["prompt"] == "A meeting at the bazaar."
    assert names["languageUnsupported"] is False
    assert names["status"] in {"QUEUED", "PROCESSING"}
    # 1, or null once the idle worker holds the job (before it records the start)
    assert names["queuePosition"] in {1, None}
    assert names["etaSeconds"] is None or names["etaSeconds"] > 0

    done = settled(server, token, names["id"])
    assert done["status"] == "COMPLETED", done
    for name in ("Tursunboyev", "Abdurakhmonova"):
        assert name in done["transcriptText"], done["transcriptText"]
    assert {s["speaker"] for s in done["segments"]} == {"S1"}
    assert done["speakers"] == [{"id": "S1", "name": "Soʻzlovchi 1", "renamed": False}]

    renamed = graphql_data(
        server, RENAME, token, id=names["id"], speaker="S1", name="Gulnora", v=done["version"]
    )["renameSpeaker"]
    assert renamed["__typename"] == "Audio", renamed
    assert renamed["speakers"] == [{"id": "S1", "name": "Gulnora", "renamed": True}]
    stale = graphql_data(
        server, RENAME, token, id=names["id"], speaker="S1", name="Aziz", v=done["version"]
    )["renameSpeaker"]
    assert stale == {"__typename": "VersionConflict", "code": "VERSION_CONFLICT"}


def test_a_queued_upload_is_cancelled_and_retried_and_uzbek_is_flagged(
    server: OvozServer, token: str
) -> None:
    first = upload(server, token, SPEECH, language="en")
    second = upload(server, token, SPEECH, language="uz")  # waits behind the first
    assert second["languageUnsupported"] is True
    assert second["queuePosition"] in {1, 2}  # 2 while the worker has not taken the first
    assert second["etaSeconds"] > 0
    cancelled = graphql_data(server, CANCEL, token, id=second["id"])["cancelTranscription"]
    if cancelled["__typename"] == "Audio":
        assert cancelled["status"] == "CANCELLED"
    else:  # the worker finished the first and took the second meanwhile, and is done
        assert cancelled == {"__typename": "NotCancellable", "code": "NOT_CANCELLABLE"}
    assert settled(server, token, first["id"])["status"] == "COMPLETED"
    if cancelled["__typename"] == "Audio":
        assert settled(server, token, second["id"])["status"] == "CANCELLED"
        retried = graphql_data(server, RETRY, token, id=second["id"])["retryTranscription"]
        assert retried == {"__typename": "Audio", "status": "QUEUED"}
        assert settled(server, token, second["id"])["status"] == "COMPLETED"
