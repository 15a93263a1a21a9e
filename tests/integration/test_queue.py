"""queuePosition and etaSeconds: positions in the order workers claim jobs, across users,
as jobs are claimed, cancelled and completed; the ETA from this deployment's recent jobs;
subscriptions told as the queue moves, for the price of one read per process. Real
PostgreSQL."""

from __future__ import annotations

import json
import queue
import threading
from datetime import timedelta
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from domain.access import Principal
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from projections.jobs import ClaimedJob
from projections.queue import fitted_speed
from tests.factories import transcript_facts
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import (
    ALICE,
    BOB,
    USERS_ENV,
    gql,
    settle_every_projection,
    sign_in,
    token_of,
    upload,
)

LEASE = timedelta(seconds=30)
LIST_Q = "{ audios { items { id status queuePosition etaSeconds } } }"
ONE_Q = "query($id: ID!) { audio(id: $id) { status queuePosition etaSeconds } }"
CANCEL_M = "mutation($id: ID!) { cancelTranscription(id: $id) { __typename } }"
STATUS_S = """subscription($id: ID!) { audioStatus(id: $id) {
  audioId status queuePosition etaSeconds audio { queuePosition } } }"""
MINE_S = "subscription { myAudioEvents { audioId status queuePosition etaSeconds } }"


@pytest.fixture
def store(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**USERS_ENV)


@pytest.fixture
def app(store: Ovoz) -> Starlette:
    return create_app(services_of(store), production=False)


def _positions(app: Starlette, token: str) -> dict[str, Any]:
    items = gql(app, token, LIST_Q)["audios"]["items"]
    return {i["id"]: i["queuePosition"] for i in items}


def _upload(store: Ovoz, who: Principal, clip: bytes) -> str:
    written = upload(store, who, clip)
    assert store.wait_for(store.recordings.name, written.position)  # as a mutation does
    return str(written.recording.id)


def _claim(store: Ovoz, worker: str = "w1") -> ClaimedJob:
    settle_every_projection(store)
    job = store.jobs.claim(worker, LEASE)
    assert job is not None
    return job


def _run(store: Ovoz, job: ClaimedJob, worker: str = "w1", seconds: float = 0.1) -> None:
    """What a worker records for ``job``: started, then completed in ``seconds``."""
    store.recordings.start_transcription(job.recording_id, worker, job.attempt)
    store.recordings.complete_transcription(
        job.recording_id, job.attempt, transcript_facts(processing_seconds=seconds)
    )
    settle_every_projection(store)


def test_positions_follow_the_claim_order_across_users(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    alice, bob = sign_in(store, ALICE), sign_in(store, BOB)
    a1 = _upload(store, alice, tone_clip)
    b1 = _upload(store, bob, tone_clip)
    a2 = _upload(store, alice, tone_clip)
    b2 = _upload(store, bob, tone_clip)
    alice_t, bob_t = token_of(store, alice), token_of(store, bob)
    assert _positions(app, alice_t) == {a1: 1, a2: 3}
    assert _positions(app, bob_t) == {b1: 2, b2: 4}

    first = _claim(store)  # a1: held by a worker, no longer waiting
    assert str(first.recording_id) == a1
    assert _positions(app, alice_t) == {a1: None, a2: 2}
    assert _positions(app, bob_t) == {b1: 1, b2: 3}

    assert gql(app, bob_t, CANCEL_M, id=b1)["cancelTranscription"]["__typename"] == "Audio"
    settle_every_projection(store)
    assert _positions(app, alice_t) == {a1: None, a2: 1}
    assert _positions(app, bob_t) == {b1: None, b2: 2}

    _run(store, first)
    done = gql(app, alice_t, ONE_Q, id=a1)["audio"]
    assert done == {"status": "COMPLETED", "queuePosition": None, "etaSeconds": None}
    assert _positions(app, bob_t) == {b1: None, b2: 2}
    assert str(_claim(store).recording_id) == a2
    assert _positions(app, bob_t) == {b1: None, b2: 1}


def test_a_page_reads_the_queue_once(
    store: Ovoz, tone_clip: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = sign_in(store, ALICE)
    for _ in range(5):
        _upload(store, alice, tone_clip)
    reads: list[int] = []
    real = store.queue.snapshot

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(store.queue, "snapshot", counted)
    app = create_app(services_of(store), production=False)
    token = token_of(store, alice)
    settle_every_projection(store)
    assert sorted(_positions(app, token).values()) == [1, 2, 3, 4, 5]
    assert len(reads) == 1
    gql(app, token, "{ audios { items { id status } } }")
    assert len(reads) == 1  # not asked for: not read


def test_the_eta_comes_from_the_recent_jobs_and_the_work_ahead(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    alice = sign_in(store, ALICE)
    token = token_of(store, alice)
    for _ in range(3):  # history: a one-second clip takes two seconds here
        _upload(store, alice, tone_clip)
        _run(store, _claim(store), seconds=2.0)
    first, second, third = (_upload(store, alice, tone_clip) for _ in range(3))
    settle_every_projection(store)
    speed = fitted_speed([(1.0, 2.0)] * 3)  # those jobs, and the prior's weight
    one = speed.job_seconds(1.0)
    assert 1.5 < one < 2.5

    def eta(audio_id: str) -> float:
        seconds: float = gql(app, token, ONE_Q, id=audio_id)["audio"]["etaSeconds"]
        return seconds

    assert eta(first) == pytest.approx(one, abs=0.06)  # w1 is alive

    running = _claim(store)
    store.recordings.start_transcription(running.recording_id, "w1", running.attempt)
    settle_every_projection(store)
    assert store.audios.set_progress(running.recording_id, 0.5)
    running_now = gql(app, token, ONE_Q, id=first)["audio"]
    assert (running_now["status"], running_now["queuePosition"]) == ("PROCESSING", None)
    assert running_now["etaSeconds"] == pytest.approx(one / 2, abs=0.06)  # half of it left
    assert eta(second) == pytest.approx(one / 2 + one, abs=0.06)
    assert eta(third) == pytest.approx(one / 2 + one + one, abs=0.06)

    assert store.jobs.claim("w2", LEASE) is not None  # a second worker takes `second`
    settle_every_projection(store)
    # Ahead of `third`: half of `first` and all of `second`, shared by two workers.
    waiting = gql(app, token, ONE_Q, id=third)["audio"]
    assert (waiting["status"], waiting["queuePosition"]) == ("QUEUED", 1)
    assert waiting["etaSeconds"] == pytest.approx((one / 2 + one) / 2 + one, abs=0.06)


def test_with_no_live_worker_a_queued_recording_has_a_position_but_no_eta(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    alice = sign_in(store, ALICE)
    first, second = _upload(store, alice, tone_clip), _upload(store, alice, tone_clip)
    token = token_of(store, alice)
    assert gql(app, token, ONE_Q, id=second)["audio"] == {
        "status": "QUEUED",
        "queuePosition": 2,
        "etaSeconds": None,
    }
    assert str(_claim(store).recording_id) == first  # a worker is alive now
    assert gql(app, token, ONE_Q, id=second)["audio"]["etaSeconds"] > 0


def test_a_job_in_back_off_keeps_its_place_and_waits_for_it(
    make_ovoz: MakeOvoz, tone_clip: bytes
) -> None:
    store = make_ovoz(JOB_RETRY_BACKOFF_SECONDS="600", **USERS_ENV)
    app = create_app(services_of(store), production=False)
    alice = sign_in(store, ALICE)
    token = token_of(store, alice)
    failing = _upload(store, alice, tone_clip)
    job = _claim(store)
    store.recordings.start_transcription(job.recording_id, "w1", job.attempt)
    store.recordings.fail_transcription(job.recording_id, job.attempt, "DECODE", retryable=True)
    settle_every_projection(store)
    later = _upload(store, alice, tone_clip)
    settle_every_projection(store)
    assert _positions(app, token) == {later: 1, failing: 2}  # claimed after `later`
    eta = gql(app, token, ONE_Q, id=failing)["audio"]["etaSeconds"]
    assert 590 < eta < 610  # the back-off, then its own few seconds


def test_a_cached_answer_never_shows_a_stale_position(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    alice, bob = sign_in(store, ALICE), sign_in(store, BOB)
    _upload(store, bob, tone_clip)
    mine = _upload(store, alice, tone_clip)
    token = token_of(store, alice)
    assert _positions(app, token) == {mine: 2}
    assert _positions(app, token) == {mine: 2}
    _claim(store)  # bob's job: alice's own log position does not move
    assert _positions(app, token) == {mine: 1}


# -- subscriptions ----------------------------------------------------------------------------


class _Socket:
    """A graphql-transport-ws client whose reads time out (a reader thread)."""

    def __init__(self, ws: Any, token: str) -> None:
        self.ws = ws
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        ws.send_text(json.dumps({"type": "connection_init", "payload": {"Authorization": token}}))
        assert json.loads(ws.receive_text())["type"] == "connection_ack"
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            while True:
                self.inbox.put(json.loads(self.ws.receive_text()))
        except Exception:  # the socket closed: the test is over
            return

    def subscribe(self, sub_id: str, query: str, **variables: Any) -> None:
        payload = {"query": query, "variables": variables}
        self.ws.send_text(json.dumps({"id": sub_id, "type": "subscribe", "payload": payload}))

    def next(self, timeout: float = 20.0) -> dict[str, Any]:
        message = self.inbox.get(timeout=timeout)
        assert message["type"] == "next", message
        return message


def test_a_subscriber_sees_its_position_move_up_as_the_job_ahead_goes(
    store: Ovoz, app: Starlette, tone_clip: bytes
) -> None:
    assert store.jobs.claim("w0", LEASE) is None  # an idle worker, alive
    alice = sign_in(store, ALICE)
    ahead = _upload(store, alice, tone_clip)
    mine = _upload(store, alice, tone_clip)
    settle_every_projection(store)
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        socket = _Socket(ws, f"Bearer {token_of(store, alice)}")
        socket.subscribe("1", STATUS_S, id=mine)
        first = socket.next()["payload"]["data"]["audioStatus"]
        assert (first["status"], first["queuePosition"], first["audio"]["queuePosition"]) == (
            "QUEUED",
            2,
            2,
        )
        assert first["etaSeconds"] is not None  # w0 is alive

        job = _claim(store)  # the job ahead is taken
        assert str(job.recording_id) == ahead
        moved = socket.next()["payload"]["data"]["audioStatus"]
        assert (moved["audioId"], moved["status"], moved["queuePosition"]) == (mine, "QUEUED", 1)

        socket.subscribe("2", MINE_S)
        events = [socket.next()["payload"]["data"]["myAudioEvents"] for _ in range(2)]
        assert {e["audioId"]: e["queuePosition"] for e in events} == {ahead: None, mine: 1}


def test_one_move_of_the_queue_costs_one_read_for_all_subscribers(
    store: Ovoz, tone_clip: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = sign_in(store, ALICE)
    ids = [_upload(store, alice, tone_clip) for _ in range(6)]
    settle_every_projection(store)
    reads: list[int] = []
    real = store.queue.snapshot

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(store.queue, "snapshot", counted)
    app = create_app(services_of(store), production=False)
    with (
        TestClient(app) as client,
        client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws,
    ):
        socket = _Socket(ws, f"Bearer {token_of(store, alice)}")
        for n, audio_id in enumerate(ids[1:]):
            socket.subscribe(str(n), STATUS_S, id=audio_id)
        firsts = [socket.next()["payload"]["data"]["audioStatus"] for _ in ids[1:]]
        assert sorted(f["queuePosition"] for f in firsts) == [2, 3, 4, 5, 6]
        before = len(reads)

        _claim(store)
        moved = [socket.next()["payload"]["data"]["audioStatus"] for _ in ids[1:]]
        assert sorted(m["queuePosition"] for m in moved) == [1, 2, 3, 4, 5]
        assert len(reads) - before <= 2  # one read (two if a notice came late), not five
