"""The exact response cache: repeated reads are served from memory, never stale."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.applications import Starlette

from domain.access import Principal
from domain.identity import Role
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from tests.conftest import AUDIO_DIR, shared_or_noise
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import ADMIN, ALICE, BOB, USERS_ENV, asgi, sign_in, token_of, upload

LIST = "{ audios(limit: 10) { total items { id transcriptText version } } }"


@pytest.fixture
def ovoz(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**USERS_ENV)


@pytest.fixture
def app(ovoz: Ovoz) -> Starlette:
    return create_app(services_of(ovoz), production=False)


def signed_in(ovoz: Ovoz, phone: str) -> tuple[Principal, str]:
    principal = sign_in(ovoz, phone)
    return principal, token_of(ovoz, principal)


def uploaded(ovoz: Ovoz, owner: Principal) -> str:
    data = shared_or_noise(AUDIO_DIR / "en_deepspeech_LDC93S1.wav", 2.9, seed=4)
    written = upload(ovoz, owner, data, "a.wav", "en")
    assert ovoz.wait_for("recordings", written.position)
    return str(written.recording.id)


def query(app: Starlette, token: str, document: str, variables: Any = None) -> Any:
    r = asgi(
        app,
        "POST",
        json={"query": document, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert r.status_code == 200
    return r.json()


def stats(app: Starlette) -> tuple[int, int]:
    cache = app.state.graphql.cache
    return cache.hits, cache.misses


def test_a_repeated_read_is_served_from_the_cache(ovoz: Ovoz, app: Starlette) -> None:
    alice, token = signed_in(ovoz, ALICE)
    uploaded(ovoz, alice)
    first = query(app, token, LIST)
    hits, _ = stats(app)
    second = query(app, token, LIST)
    assert second == first
    assert stats(app)[0] == hits + 1


def test_a_write_changes_what_the_next_read_sees(ovoz: Ovoz, app: Starlette) -> None:
    alice, token = signed_in(ovoz, ALICE)
    audio_id = uploaded(ovoz, alice)
    before = query(app, token, LIST)
    written = ovoz.recordings.edit_transcript(alice, _uuid(audio_id), "fresh words", [], None)
    assert ovoz.wait_for("recordings", written.position)
    after = query(app, token, LIST)
    assert after != before
    assert after["data"]["audios"]["items"][0]["transcriptText"] == "fresh words"


def test_callers_never_share_entries(ovoz: Ovoz, app: Starlette) -> None:
    alice, alice_token = signed_in(ovoz, ALICE)
    _, bob_token = signed_in(ovoz, BOB)
    uploaded(ovoz, alice)
    assert query(app, alice_token, LIST)["data"]["audios"]["total"] == 1
    assert query(app, bob_token, LIST)["data"]["audios"]["total"] == 0
    assert query(app, bob_token, LIST)["data"]["audios"]["total"] == 0


def test_an_admin_sees_every_users_change(ovoz: Ovoz, app: Starlette) -> None:
    alice, _ = signed_in(ovoz, ALICE)
    admin, admin_token = signed_in(ovoz, ADMIN)
    assert admin.role is Role.ADMIN
    uploaded(ovoz, alice)
    assert query(app, admin_token, LIST)["data"]["audios"]["total"] == 1
    uploaded(ovoz, alice)
    assert query(app, admin_token, LIST)["data"]["audios"]["total"] == 2


def test_other_fields_and_mutations_are_never_cached(ovoz: Ovoz, app: Starlette) -> None:
    _, token = signed_in(ovoz, ALICE)
    query(app, token, "{ me { id } }")
    query(app, token, "{ me { id } audios { total } }")
    query(app, token, "{ me { id } audios { total } }")
    assert stats(app) == (0, 0)


def _uuid(value: str) -> Any:
    from uuid import UUID

    return UUID(value)


def test_progress_updates_are_never_served_stale(ovoz: Ovoz, app: Starlette) -> None:
    alice, token = signed_in(ovoz, ALICE)
    audio_id = uploaded(ovoz, alice)
    started = ovoz.recordings.start_transcription(_uuid(audio_id), "worker-1", 1)
    assert ovoz.wait_for("recordings", started.position)
    document = "{ audios { items { status progress } } }"
    assert query(app, token, document)["data"]["audios"]["items"][0]["progress"] == 0.0
    assert ovoz.audios.set_progress(_uuid(audio_id), 0.5)
    assert query(app, token, document)["data"]["audios"]["items"][0]["progress"] == 0.5
    hits, _ = stats(app)
    assert query(app, token, document)["data"]["audios"]["items"][0]["progress"] == 0.5
    assert stats(app)[0] == hits + 1  # unchanged since: served from the cache
