"""Text PostgreSQL cannot hold, and events a view cannot apply: refused at the boundary,
and survived by the projections when they reach the log anyway (issue 9, item 2)."""

from __future__ import annotations

import json
import time
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from eventsourcing.persistence import OperationalError
from starlette.applications import Starlette

from domain.recordings import Recording
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from infrastructure.projection_runner import PARK_AFTER, PARKED_TABLE
from infrastructure.rebuild import rebuild
from tests.factories import transcript_facts
from tests.integration.conftest import MakeOvoz
from tests.integration.documents import EDIT_M
from tests.integration.helpers import (
    ALICE,
    BOB,
    USERS_ENV,
    asgi,
    settle,
    sign_in,
    token_of,
    upload,
)


@pytest.fixture
def store(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**USERS_ENV)


def transcribed(ovoz: Ovoz, owner: UUID, tone_clip: bytes) -> UUID:
    """A recording of ``owner`` with a finished transcript (no model needed)."""
    from domain.access import Principal
    from domain.identity import Role

    who = Principal(user_id=owner, role=Role.USER, expires_at=time.time() + 60)
    audio_id = upload(ovoz, who, tone_clip).recording.id
    ovoz.recordings.start_transcription(audio_id, "test-worker", 1)
    ovoz.recordings.complete_transcription(audio_id, 1, transcript_facts("hello there"))
    settle(ovoz)
    return audio_id


def post(app: Starlette, token: str, query: str, **variables: Any) -> httpx.Response:
    """A GraphQL POST whose JSON escapes everything, lone surrogates too (as \\ud800)."""
    return asgi(
        app,
        "POST",
        content=json.dumps({"query": query, "variables": variables}),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


def parked(ovoz: Ovoz) -> list[dict[str, Any]]:
    with ovoz.datastore.transaction(commit=False) as curs:
        curs.execute(f"SELECT to_regclass('{PARKED_TABLE}') AS t")
        found = curs.fetchone()
        if found is None or found["t"] is None:
            return []
        curs.execute(f"SELECT * FROM {PARKED_TABLE} ORDER BY notification_id")
        return [dict(r) for r in curs.fetchall()]


@pytest.mark.parametrize("bad", ["hello\x00world", "lone \ud800 surrogate"])
def test_update_audio_refuses_unstorable_text_as_invalid_edit(
    store: Ovoz, tone_clip: bytes, bad: str
) -> None:
    alice = sign_in(store, ALICE)
    audio_id = transcribed(store, alice.user_id, tone_clip)
    app = create_app(services_of(store), production=False)
    head = store.recordings.recorder.max_notification_id()
    for given in ({"transcriptText": bad}, {"segments": [{"id": 0, "text": bad}]}):
        response = post(app, token_of(store, alice), EDIT_M, id=str(audio_id), input=given)
        assert response.status_code == 200, response.text
        result = response.json()["data"]["updateAudio"]
        assert result["__typename"] == "InvalidEdit"
        assert result["code"] == "INVALID_EDIT"
    assert store.recordings.recorder.max_notification_id() == head  # nothing recorded
    row = store.audios.get(audio_id)
    assert row is not None
    assert row.transcript_text == "hello there"


@pytest.mark.parametrize("bad", ["a\x00b", "\udc80"])
def test_search_with_unstorable_text_is_a_typed_400(store: Ovoz, bad: str) -> None:
    alice = sign_in(store, ALICE)
    app = create_app(services_of(store), production=False)
    response = post(
        app, token_of(store, alice), "query($s: String) { audios(search: $s) { total } }", s=bad
    )
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert errors[0]["extensions"]["argument"] == "search"


def test_nul_text_that_reached_the_log_is_shown_replaced_and_rebuilds(
    store: Ovoz, tone_clip: bytes
) -> None:
    alice = sign_in(store, ALICE)
    audio_id = transcribed(store, alice.user_id, tone_clip)
    # Planted below the rules, as an older version of ovoz (or a bug) could have done.
    recording: Recording = store.recordings.repository.get(audio_id)
    # (A lone surrogate cannot even be encoded into an event; NUL can.)
    recording._record_edit(text="bad\x00text here", segment_edits=[], editor_id=uuid4())
    store.recordings.save(recording)
    settle(store)
    row = store.audios.get(audio_id)
    assert row is not None
    assert row.transcript_text == "bad\ufffdtext here"
    assert "\x00" not in str(row.segments)
    assert parked(store) == []
    before = store.audios.get(audio_id)
    rebuild(store, "audios")
    assert store.audios.get(audio_id) == before


def test_an_event_the_view_cannot_apply_is_parked_and_other_users_go_on(
    store: Ovoz, tone_clip: bytes
) -> None:
    alice, bob = sign_in(store, ALICE), sign_in(store, BOB)
    # An event whose value the audios table refuses whatever is done to its text: a
    # size that is not a number, planted directly in the store.
    poison = Recording(
        id=uuid4(),
        owner_id=alice.user_id,
        filename="poison.wav",
        content_type="audio/wav",
        size_bytes="not a number",  # type: ignore[arg-type]
        sha256="0" * 64,
        blob_key="nothing",
        duration_seconds=1.0,
        language=None,
        prompt=None,
    )
    poison_position = store.recordings.save(poison)[-1].notification.id
    assert poison_position is not None
    # Bob's upload, after it in the log, appears: the view did not stop at the poison.
    bobs = upload(store, bob, tone_clip)
    assert store.wait_for("recordings", bobs.position), "the view stalled behind the poison"
    assert store.audios.get(bobs.recording.id) is not None
    assert store.audios.get(poison.id) is None
    [record] = [p for p in parked(store) if p["projection"] == "audios"]
    assert record["notification_id"] == poison_position
    assert record["originator_id"] == poison.id
    assert record["topic"].endswith("Recording.AudioUploaded")
    assert record["error"].startswith("DataError")
    assert "not a number" not in record["error"]  # values stay out of the record
    assert store.projections["audios"].parked == 1


class _FlakyDatabase:
    """Wraps a projection: its first ``failures`` calls fail as a lost connection would."""

    def __init__(self, inner: Any, failures: int) -> None:
        self.inner = inner
        self.failures = failures
        self.name = inner.name
        self.view = inner.view
        self.topics = inner.topics

    def process_event(self, domain_event: Any, tracking: Any) -> None:
        if self.failures:
            self.failures -= 1
            raise OperationalError("server closed the connection unexpectedly")
        self.inner.process_event(domain_event, tracking)


def test_database_failures_are_retried_not_parked(make_ovoz: MakeOvoz, tone_clip: bytes) -> None:
    """A failure of the database says nothing about the event: the view retries until
    the database answers, and parks nothing, however often that takes."""
    store = make_ovoz(start=False, **USERS_ENV)
    audios = store.projections["audios"]
    audios.projection = _FlakyDatabase(audios.projection, failures=PARK_AFTER + 2)  # type: ignore[assignment]
    store.start_projections()
    bob = sign_in(store, BOB)
    written = upload(store, bob, tone_clip)
    assert audios.wait(written.position, 30)
    assert store.audios.get(written.recording.id) is not None
    assert audios.failures == PARK_AFTER + 2
    assert parked(store) == []
