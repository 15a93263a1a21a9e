"""One principal check for GraphQL, the file endpoints and every WebSocket subscription:
a deleted account stops at once, a demoted admin is a user from the next request on,
whatever their token says (issue 9, item 3)."""

from __future__ import annotations

import json
import time
from typing import Any
from uuid import UUID

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from domain.access import Principal
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from tests.factories import transcript_facts
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import (
    ADMIN,
    ALICE,
    USERS_ENV,
    asgi,
    settle,
    sign_in,
    token_of,
    upload,
)

ME_Q = "{ me { id role } }"
LIST_Q = "{ audios { total items { id } } }"


def alices_transcribed_audio(ovoz: Ovoz, tone_clip: bytes) -> UUID:
    alice = sign_in(ovoz, ALICE)
    audio_id = upload(ovoz, alice, tone_clip).recording.id
    ovoz.recordings.start_transcription(audio_id, "test-worker", 1)
    ovoz.recordings.complete_transcription(audio_id, 1, transcript_facts("hello there"))
    settle(ovoz)
    return audio_id


def query(app: Starlette, token: str, document: str) -> dict[str, Any]:
    response = asgi(
        app, "POST", json={"query": document}, headers={"Authorization": f"Bearer {token}"}
    )
    body: dict[str, Any] = response.json()
    return body


def files(app: Starlette, token: str, audio_id: UUID) -> list[int]:
    headers = {"Authorization": f"Bearer {token}"}
    return [
        asgi(app, "GET", path, headers=headers).status_code
        for path in (f"/audio/{audio_id}/file", f"/audio/{audio_id}/transcript.txt")
    ]


def test_a_deleted_admins_token_opens_nothing(store: Ovoz, tone_clip: bytes) -> None:
    audio_id = alices_transcribed_audio(store, tone_clip)
    admin = sign_in(store, ADMIN)
    token = token_of(store, admin)
    app = create_app(services_of(store), production=False)
    assert files(app, token, audio_id) == [200, 200]
    store.accounts.delete_account(admin)
    assert files(app, token, audio_id) == [401, 401]
    body = query(app, token, LIST_Q)
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_a_deleted_account_is_refused_by_another_process_at_once(
    make_ovoz: MakeOvoz, tone_clip: bytes
) -> None:
    """The deletion happens in process A; process B, which checked the token a moment
    ago (and would remember that for seconds), refuses it as soon as the key is gone."""
    here, there = make_ovoz(**USERS_ENV), make_ovoz(**USERS_ENV)
    audio_id = alices_transcribed_audio(here, tone_clip)
    admin = sign_in(here, ADMIN)
    token = token_of(here, admin)
    app_there = create_app(services_of(there), production=False)
    assert files(app_there, token, audio_id) == [200, 200]  # remembered as alive there
    here.accounts.delete_account(admin)
    deadline = time.monotonic() + 2.0
    while files(app_there, token, audio_id) != [401, 401]:
        assert time.monotonic() < deadline, "process B still honours a deleted account"
        time.sleep(0.05)


def test_an_admin_removed_from_the_configuration_is_a_user_at_once(
    make_ovoz: MakeOvoz, tone_clip: bytes
) -> None:
    before = make_ovoz(**USERS_ENV)
    audio_id = alices_transcribed_audio(before, tone_clip)
    admin = sign_in(before, ADMIN)
    token = token_of(before, admin)  # says ADMIN, valid for an hour
    assert query(create_app(services_of(before), production=False), token, ME_Q)["data"] == {
        "me": {"id": str(admin.user_id), "role": "ADMIN"}
    }
    after = make_ovoz(OTP_TEST_NUMBERS=USERS_ENV["OTP_TEST_NUMBERS"])  # no ADMIN_PHONE_NUMBERS
    app = create_app(services_of(after), production=False)
    assert query(app, token, ME_Q)["data"]["me"]["role"] == "USER"
    assert query(app, token, LIST_Q)["data"]["audios"]["total"] == 0
    assert files(app, token, audio_id) == [404, 404]


def _ws_messages(ws: Any, until: str) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    while True:
        message = json.loads(ws.receive_text())
        seen.append(message)
        if message["type"] in {until, "error", "complete"}:
            return seen


def test_an_open_socket_of_a_deleted_admin_cannot_subscribe_to_others_recordings(
    store: Ovoz, tone_clip: bytes
) -> None:
    audio_id = alices_transcribed_audio(store, tone_clip)
    admin: Principal = sign_in(store, ADMIN)
    token = token_of(store, admin)
    app = create_app(services_of(store), production=False)
    subscribe: dict[str, Any] = {
        "type": "subscribe",
        "payload": {"query": "subscription($id: ID!) { audioStatus(id: $id) { status } }"},
    }
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        ws.send_text(
            json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
        )
        assert json.loads(ws.receive_text())["type"] == "connection_ack"
        first = {**subscribe, "id": "1"}
        first["payload"] = {**subscribe["payload"], "variables": {"id": str(audio_id)}}
        ws.send_text(json.dumps(first))
        [answer] = _ws_messages(ws, "next")[-1:]
        assert answer["payload"]["data"]["audioStatus"]["status"] == "COMPLETED"
        ws.send_text(json.dumps({"id": "1", "type": "complete"}))

        store.accounts.delete_account(admin)
        second = {**first, "id": "2"}
        ws.send_text(json.dumps(second))
        replies = _ws_messages(ws, "next")
        assert all(
            m["type"] != "next" or "data" not in m["payload"] or m["payload"]["data"] is None
            for m in replies
        ), replies
        errors = [e for m in replies for e in m.get("payload", {}).get("errors", [])] + [
            e for m in replies if m["type"] == "error" for e in m["payload"]
        ]
        assert any(e.get("extensions", {}).get("code") == "UNAUTHENTICATED" for e in errors)


@pytest.fixture
def store(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**USERS_ENV)
