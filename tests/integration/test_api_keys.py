"""API keys for programs (issue 11): shown once, kept only as a keyed hash, refused at
once everywhere when revoked, limited to their scopes, gone with their owner's account."""

from __future__ import annotations

import json
import re
import time
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import sql
from starlette.applications import Starlette
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from domain.access import Principal, Scope
from domain.api_keys import ApiKey, key_id_of
from domain.errors import SubjectErasedError
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from infrastructure.rebuild import rebuild
from tests.factories import transcript_facts
from tests.integration.api_keys import (
    AUDIOS_Q,
    CREATE_M,
    KEYS_Q,
    REVOKE_M,
    create_key,
    download,
    error_codes,
    post,
)
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import (
    ADMIN,
    ALICE,
    BOB,
    USERS_ENV,
    asgi,
    gql,
    settle,
    sign_in,
    token_of,
    upload,
)

KEY_PATTERN = re.compile(r"^ovoz_([a-z0-9]{8})_[A-Za-z0-9_-]{43}$")
UPLOAD_M = """mutation($file: Upload!) {
  uploadAudio(file: $file) { __typename ... on Audio { id ownerId } ... on Error { code } }
}"""


@pytest.fixture
def store(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**USERS_ENV)


@pytest.fixture
def app(store: Ovoz) -> Starlette:
    return create_app(services_of(store), production=False)


@pytest.fixture
def alice_in(store: Ovoz) -> Principal:
    return sign_in(store, ALICE)


@pytest.fixture
def alice(store: Ovoz, alice_in: Principal) -> str:
    return token_of(store, alice_in)


def _rows(database_url: str, schema: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        return conn.execute(
            sql.SQL("SELECT * FROM {}.api_keys").format(sql.Identifier(schema))
        ).fetchall()


def _identity_events(database_url: str, schema: str) -> int:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM {}.identity_events").format(sql.Identifier(schema))
        ).fetchone()
    assert row is not None
    return int(row[0])


def _audio_of(store: Ovoz, who: Principal, tone_clip: bytes) -> UUID:
    audio_id = upload(store, who, tone_clip).recording.id
    store.recordings.start_transcription(audio_id, "test-worker", 1)
    store.recordings.complete_transcription(audio_id, 1, transcript_facts("hello there"))
    settle(store)
    return audio_id


# -- shown once, stored as a hash ---------------------------------------------------------


def test_a_key_is_shown_once_and_only_its_hash_is_kept(
    store: Ovoz, app: Starlette, alice: str, database_url: str, schema: str
) -> None:
    made = create_key(app, alice, "RECORDINGS_READ", "RECORDINGS_WRITE", "RECORDINGS_READ")
    key, shown = made["key"], made["apiKey"]
    match = KEY_PATTERN.match(key)
    assert match, key
    assert shown["prefix"] == f"ovoz_{match.group(1)}" == key[:13]
    assert shown["scopes"] == ["RECORDINGS_READ", "RECORDINGS_WRITE"]  # deduplicated
    assert shown["name"] == "script"
    assert shown["lastUsedAt"] is None

    listed = gql(app, alice, KEYS_Q)["apiKeys"]
    assert listed == [shown]
    assert key not in json.dumps(listed)
    # The schema has no way to ask for it again.
    fields = post(app, alice, '{ __type(name: "ApiKey") { fields { name } } }')
    assert {f["name"] for f in fields["data"]["__type"]["fields"]} == {
        "id",
        "name",
        "prefix",
        "scopes",
        "createdAt",
        "lastUsedAt",
    }

    secret = key[14:]
    # The read model holds the hash, not the key or its secret.
    [row] = _rows(database_url, schema)
    assert not any(key in str(v) or secret in str(v) for v in row)
    # Nor does the event, decrypted.
    key_id = UUID(shown["id"])
    [stored] = store.identity.recorder.select_events(key_id)
    assert secret.encode() not in stored.state
    created = store.identity.mapper.to_domain_event(stored)
    assert isinstance(created, ApiKey.ApiKeyCreated)
    payload = vars(created)
    assert payload["public_id"] == match.group(1)
    assert re.fullmatch(r"[0-9a-f]{64}", payload["key_hash"])
    assert not any(secret in str(v) for v in payload.values())


def test_a_key_works_as_a_bearer_credential_and_records_its_last_use(
    make_ovoz: MakeOvoz, store: Ovoz, app: Starlette, alice: str
) -> None:
    key = create_key(app, alice, "RECORDINGS_READ")["key"]
    assert post(app, key, AUDIOS_Q)["data"] == {"audios": {"total": 0, "items": []}}
    [first] = gql(app, alice, KEYS_Q)["apiKeys"]
    assert first["lastUsedAt"] is not None
    # Used again within the minute, here (checked anew) and in another process: the
    # column is not written again.
    store.api_keys.forget_all()
    assert "errors" not in post(app, key, AUDIOS_Q)
    there = create_app(services_of(make_ovoz(start=False, **USERS_ENV)), production=False)
    assert "errors" not in post(there, key, AUDIOS_Q)
    [again] = gql(app, alice, KEYS_Q)["apiKeys"]
    assert again["lastUsedAt"] == first["lastUsedAt"]


# -- revocation -------------------------------------------------------------------------------


def test_a_revoked_key_stops_at_once_in_this_process_and_the_others(
    make_ovoz: MakeOvoz,
    store: Ovoz,
    alice_in: Principal,
    app: Starlette,
    alice: str,
    tone_clip: bytes,
) -> None:
    """Process B checked the key a moment ago and would trust that for seconds; the
    revocation in process A reaches it by NOTIFY well before."""
    audio_id = _audio_of(store, alice_in, tone_clip)
    made = create_key(app, alice, "RECORDINGS_READ")
    key = made["key"]
    there = create_app(services_of(make_ovoz(start=False, **USERS_ENV)), production=False)
    assert post(there, key, AUDIOS_Q)["data"]["audios"]["total"] == 1
    assert download(there, key, f"/audio/{audio_id}/file").status_code == 200

    revoked = gql(app, alice, REVOKE_M, id=made["apiKey"]["id"])["revokeApiKey"]
    assert revoked == {"__typename": "RevokedApiKey", "id": made["apiKey"]["id"]}
    assert error_codes(post(app, key, AUDIOS_Q)) == ["UNAUTHENTICATED"]
    assert gql(app, alice, KEYS_Q)["apiKeys"] == []
    deadline = time.monotonic() + 2.0  # well inside the 5 s the check is remembered
    while error_codes(post(there, key, AUDIOS_Q)) != ["UNAUTHENTICATED"]:
        assert time.monotonic() < deadline, "process B still honours a revoked key"
        time.sleep(0.05)
    assert download(there, key, f"/audio/{audio_id}/file").status_code == 401


def test_revoking_what_is_not_a_live_key_of_the_caller_changes_nothing(
    store: Ovoz, app: Starlette, alice: str, database_url: str, schema: str
) -> None:
    bob = token_of(store, sign_in(store, BOB))
    bobs = create_key(app, bob, "RECORDINGS_READ")
    gone = create_key(app, alice, "RECORDINGS_READ")
    gql(app, alice, REVOKE_M, id=gone["apiKey"]["id"])
    events = _identity_events(database_url, schema)
    for bad in [
        bobs["apiKey"]["id"],  # someone else's
        gone["apiKey"]["id"],  # already revoked
        str(uuid4()),
        str(key_id_of("zzzzzzzz")),
        "not-an-id",
        "",
        "\x00" * 3,
    ]:
        answer = gql(app, alice, REVOKE_M, id=bad)["revokeApiKey"]
        assert answer["__typename"] == "ApiKeyNotFound", (bad, answer)
        assert answer["code"] == "API_KEY_NOT_FOUND"
    assert _identity_events(database_url, schema) == events
    assert "errors" not in post(app, bobs["key"], AUDIOS_Q)
    assert [k["id"] for k in gql(app, bob, KEYS_Q)["apiKeys"]] == [bobs["apiKey"]["id"]]


# -- bad keys and bad input ------------------------------------------------------------------


def test_garbage_truncated_wrong_and_borrowed_keys_are_unauthenticated(
    store: Ovoz, alice_in: Principal, app: Starlette, alice: str, tone_clip: bytes
) -> None:
    audio_id = _audio_of(store, alice_in, tone_clip)
    key = create_key(app, alice, "RECORDINGS_READ")["key"]
    bob = token_of(store, sign_in(store, BOB))
    bobs = create_key(app, bob, "RECORDINGS_READ")["key"]
    wrong_secret = key[:-1] + ("A" if key[-1] != "A" else "B")
    borrowed = bobs[:14] + key[14:]  # Bob's public id with Alice's secret
    for bad in [
        "ovoz_",
        "ovoz_garbage",
        key[:-1],
        key + "x",
        key.upper(),
        wrong_secret,
        borrowed,
        "ovoz_" + "a" * 8 + "_" + "\x00" * 43,
    ]:
        assert error_codes(post(app, bad, AUDIOS_Q)) == ["UNAUTHENTICATED"], bad
        assert download(app, bad, f"/audio/{audio_id}/file").status_code == 401, bad
    with TestClient(app) as client:
        ws_codes = [_ws_connect(client, bad) for bad in (wrong_secret, borrowed, key[:-1])]
    assert ws_codes == ["rejected"] * 3
    # Nothing changed: both keys still work.
    assert post(app, key, AUDIOS_Q)["data"]["audios"]["total"] == 1
    assert "errors" not in post(app, bobs, AUDIOS_Q)


@pytest.mark.parametrize(
    ("name", "scopes", "argument"),
    [
        ("", ["RECORDINGS_READ"], "name"),
        ("   ", ["RECORDINGS_READ"], "name"),
        ("x" * 101, ["RECORDINGS_READ"], "name"),
        ("ok", [], "scopes"),
    ],
)
def test_bad_names_and_scopes_are_typed_errors_that_change_nothing(
    app: Starlette,
    alice: str,
    database_url: str,
    schema: str,
    name: str,
    scopes: list[str],
    argument: str,
) -> None:
    events = _identity_events(database_url, schema)
    response = asgi(
        app,
        "POST",
        json={"query": CREATE_M, "variables": {"name": name, "scopes": scopes}},
        headers={"Authorization": f"Bearer {alice}", "Accept-Language": "en"},
    )
    answer = response.json()["data"]["createApiKey"]
    assert answer["__typename"] == "InvalidApiKeyInput"
    assert answer["code"] == "INVALID_API_KEY_INPUT"
    assert answer["argument"] == argument
    assert answer["message"].startswith(("A key's name", "Choose at least one scope"))
    assert _identity_events(database_url, schema) == events
    assert gql(app, alice, KEYS_Q)["apiKeys"] == []


@pytest.mark.parametrize("name", ["bad\x00name", "\ud800"])
def test_unstorable_names_are_bad_user_input(
    app: Starlette, alice: str, database_url: str, schema: str, name: str
) -> None:
    events = _identity_events(database_url, schema)
    body = post(app, alice, CREATE_M, name=name, scopes=["RECORDINGS_READ"])
    assert error_codes(body) == ["BAD_USER_INPUT"]
    assert _identity_events(database_url, schema) == events


def test_unknown_scopes_are_refused_by_the_schema(app: Starlette, alice: str) -> None:
    body = post(app, alice, CREATE_M, name="x", scopes=["ADMIN"])
    assert body.get("data") is None
    assert body["errors"]


def test_a_user_has_at_most_fifty_live_keys(
    store: Ovoz, alice_in: Principal, app: Starlette, alice: str
) -> None:
    for n in range(49):
        store.api_keys.create(alice_in.user_id, f"key {n}", [Scope.RECORDINGS_READ])
    last = create_key(app, alice, "RECORDINGS_READ", name="fiftieth")
    refused = gql(app, alice, CREATE_M, name="one more", scopes=["RECORDINGS_READ"])
    assert refused["createApiKey"]["__typename"] == "ApiKeyLimitReached"
    assert refused["createApiKey"]["limit"] == 50
    gql(app, alice, REVOKE_M, id=last["apiKey"]["id"])
    assert create_key(app, alice, "RECORDINGS_READ", name="room again")["key"]


# -- what a key may do -------------------------------------------------------------------------


def _ws_connect(client: TestClient, credential: str) -> str:
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {credential}"}}
        ws.send_text(json.dumps(init))
        try:
            message = json.loads(ws.receive_text())
        except WebSocketDisconnect:  # closed with 4403
            return "rejected"
        return "ack" if message["type"] == "connection_ack" else "rejected"


def _subscribe(client: TestClient, credential: str, audio_id: UUID) -> list[dict[str, Any]]:
    """The messages a subscription to ``audio_id`` gets up to its first event or error."""
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {credential}"}}
        ws.send_text(json.dumps(init))
        assert json.loads(ws.receive_text())["type"] == "connection_ack"
        query = "subscription($id: ID!) { audioStatus(id: $id) { status } }"
        payload = {"query": query, "variables": {"id": str(audio_id)}}
        ws.send_text(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        seen = []
        while True:
            message = json.loads(ws.receive_text())
            seen.append(message)
            if message["type"] in {"next", "error", "complete"}:
                return seen


def _upload(app: Starlette, credential: str, content: bytes) -> dict[str, Any]:
    operations = {"query": UPLOAD_M, "variables": {"file": None}}
    response = asgi(
        app,
        "POST",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": ("clip.wav", content, "audio/wav")},
        headers={"Authorization": f"Bearer {credential}", "Apollo-Require-Preflight": "true"},
    )
    body: dict[str, Any] = response.json()
    return body


def test_a_read_key_reads_downloads_and_subscribes_but_cannot_upload(
    store: Ovoz, alice_in: Principal, app: Starlette, alice: str, tone_clip: bytes
) -> None:
    audio_id = _audio_of(store, alice_in, tone_clip)
    key = create_key(app, alice, "RECORDINGS_READ")["key"]
    listed = post(app, key, AUDIOS_Q)["data"]["audios"]
    assert listed == {"total": 1, "items": [{"id": str(audio_id)}]}
    one = post(app, key, "query($id: ID!) { audio(id: $id) { transcriptText } }", id=str(audio_id))
    assert one["data"]["audio"]["transcriptText"] == "hello there"
    file = download(app, key, f"/audio/{audio_id}/file")
    assert file.status_code == 200
    assert file.content == tone_clip
    assert download(app, key, f"/audio/{audio_id}/transcript.txt").status_code == 200
    with TestClient(app) as client:
        [*_, event] = _subscribe(client, key, audio_id)
    assert event["type"] == "next"
    assert event["payload"]["data"]["audioStatus"]["status"] == "COMPLETED"

    refused = _upload(app, key, tone_clip)
    assert error_codes(refused) == ["FORBIDDEN"]
    assert refused["errors"][0]["extensions"]["requiredScope"] == "RECORDINGS_WRITE"
    assert post(app, key, AUDIOS_Q)["data"]["audios"]["total"] == 1


def test_a_write_key_uploads_but_cannot_read_or_download(
    store: Ovoz, alice_in: Principal, app: Starlette, alice: str, tone_clip: bytes
) -> None:
    audio_id = _audio_of(store, alice_in, tone_clip)
    key = create_key(app, alice, "RECORDINGS_WRITE")["key"]
    uploaded = _upload(app, key, tone_clip)["data"]["uploadAudio"]
    assert uploaded["__typename"] == "Audio"
    assert uploaded["ownerId"] == str(alice_in.user_id)
    assert error_codes(post(app, key, AUDIOS_Q)) == ["FORBIDDEN"]
    assert download(app, key, f"/audio/{audio_id}/file").status_code == 403
    # What a write returns: enough to follow the job, none of the recording's content.
    edit = """mutation($id: ID!) { updateAudio(id: $id, input: {transcriptText: "mine"}) {
      ... on Audio { id status version %s } } }"""
    followed = post(app, key, edit % "", id=str(audio_id))["data"]["updateAudio"]
    assert followed["id"] == str(audio_id)
    for content in ("transcriptText", "filename", "error", "segments { text }"):
        body = post(app, key, edit % content, id=str(audio_id))
        assert error_codes(body) == ["FORBIDDEN"], content
        assert "hello there" not in json.dumps(body)
    with TestClient(app) as client:
        [*_, refused] = _subscribe(client, key, audio_id)
    errors = refused["payload"] if refused["type"] == "error" else refused["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]


def test_an_answer_cached_for_the_owner_is_not_served_to_a_key_without_read_scope(
    store: Ovoz, alice_in: Principal, app: Starlette, alice: str, tone_clip: bytes
) -> None:
    _audio_of(store, alice_in, tone_clip)
    key = create_key(app, alice, "RECORDINGS_WRITE")["key"]
    for _ in range(2):  # the second answer comes from the response cache
        assert post(app, alice, AUDIOS_Q)["data"]["audios"]["total"] == 1
    assert error_codes(post(app, key, AUDIOS_Q)) == ["FORBIDDEN"]


def test_an_admins_key_sees_only_the_admins_own_recordings(
    store: Ovoz, alice_in: Principal, app: Starlette, tone_clip: bytes
) -> None:
    _audio_of(store, alice_in, tone_clip)
    admin = token_of(store, sign_in(store, ADMIN))
    assert post(app, admin, AUDIOS_Q)["data"]["audios"]["total"] == 1  # the admin sees all
    key = create_key(app, admin, "RECORDINGS_READ")["key"]
    assert post(app, key, AUDIOS_Q)["data"]["audios"]["total"] == 0


# -- erasure -----------------------------------------------------------------------------------


def test_deleting_the_account_ends_its_keys_and_erases_them(
    store: Ovoz, app: Starlette, alice: str, database_url: str, schema: str
) -> None:
    made = [create_key(app, alice, "RECORDINGS_READ", name=f"k{n}") for n in range(2)]
    gql(app, alice, REVOKE_M, id=made[1]["apiKey"]["id"])  # revoked keys are erased too
    bob = token_of(store, sign_in(store, BOB))
    bobs = create_key(app, bob, "RECORDINGS_READ")
    key = made[0]["key"]
    assert "errors" not in post(app, key, AUDIOS_Q)

    assert gql(app, alice, "mutation { deleteAccount { __typename } }")
    assert error_codes(post(app, key, AUDIOS_Q)) == ["UNAUTHENTICATED"]
    assert [row[0] for row in _rows(database_url, schema)] == [UUID(bobs["apiKey"]["id"])]
    for m in made:
        key_id = UUID(m["apiKey"]["id"])
        assert store.keys.is_destroyed(key_id)
        with pytest.raises(SubjectErasedError):
            store.identity.repository.get(key_id)
    assert "errors" not in post(app, bobs["key"], AUDIOS_Q)


def test_a_rebuilt_api_keys_view_keeps_every_key_revocation_and_last_use(
    store: Ovoz, app: Starlette, alice: str
) -> None:
    kept, gone = (create_key(app, alice, "RECORDINGS_READ", name=n) for n in ("kept", "gone"))
    gql(app, alice, REVOKE_M, id=gone["apiKey"]["id"])
    assert "errors" not in post(app, kept["key"], AUDIOS_Q)
    before = gql(app, alice, KEYS_Q)["apiKeys"]
    assert before[0]["lastUsedAt"] is not None

    rebuild(store, "api_keys")
    store.api_keys.forget_all()
    assert gql(app, alice, KEYS_Q)["apiKeys"] == before
    assert "errors" not in post(app, kept["key"], AUDIOS_Q)
    assert error_codes(post(app, gone["key"], AUDIOS_Q)) == ["UNAUTHENTICATED"]
