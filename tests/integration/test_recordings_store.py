"""Recordings on real PostgreSQL: the event log, the audios projection, authorization,
concurrency, search, history and erasure, through the use cases and the ASGI app."""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable
from functools import partial
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import AggregateNotFoundError
from starlette.applications import Starlette

from domain.access import Principal
from domain.errors import SubjectErasedError
from domain.identity import Role
from domain.recordings import (
    AudioFacts,
    Recording,
    RecordingNotFoundError,
    TranscriptionStatus,
    VersionConflictError,
)
from domain.recordings_app import Written
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from projections.audios import AudioFilter
from tests.conftest import AUDIO_DIR, shared_or_noise
from tests.integration.conftest import MakeOvoz
from tests.integration.documents import AUDIO_Q, DELETE_M, LIST_Q, UPDATE_M
from tests.integration.helpers import (
    ADMIN,
    ALICE,
    BOB,
    USERS_ENV,
    asgi,
    edit,
    gql,
    not_found_message,
    settle,
    sign_in,
    token_of,
    upload,
    wait_until,
)

CLIP = AUDIO_DIR / "en_librispeech_1089-134686-0001.flac"  # 3.3 s, 58 kB

_COLUMNS = (
    "id, owner_id, filename, content_type, size_bytes, sha256, duration_seconds, status, "
    "progress, language, transcript_text, segments, error, version, created_at, updated_at"
)


# -- fixtures and helpers -------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip() -> bytes:
    return shared_or_noise(CLIP, 3.3, seed=3)


@pytest.fixture
def store(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**USERS_ENV)


def table_rows(ovoz: Ovoz, *, with_search: bool = False) -> dict[UUID, dict[str, Any]]:
    extra = ", search::text AS search_text" if with_search else ""
    with ovoz.datastore.transaction(commit=False) as curs:
        curs.execute(f"SELECT {_COLUMNS}{extra} FROM audios ORDER BY id")
        return {r["id"]: dict(r) for r in curs.fetchall()}


def owner_positions(ovoz: Ovoz) -> dict[UUID, int]:
    with ovoz.datastore.transaction(commit=False) as curs:
        curs.execute("SELECT owner_id, position FROM audio_owner_positions")
        return {r["owner_id"]: r["position"] for r in curs.fetchall()}


def log_rows(ovoz: Ovoz) -> dict[UUID, dict[str, Any]]:
    """What the audios table must hold according to the event log: one row per recording
    that is neither deleted nor erased, as the aggregate rebuilt from its events says."""
    notifications = ovoz.recordings.recorder.select_notifications(start=1, limit=1_000_000)
    expected: dict[UUID, dict[str, Any]] = {}
    for recording_id in dict.fromkeys(UUID(str(n.originator_id)) for n in notifications):
        try:
            r: Recording = ovoz.recordings.repository.get(recording_id)
        except (AggregateNotFoundError, SubjectErasedError):
            continue
        if r.deleted:
            continue
        expected[recording_id] = {
            "id": r.id,
            "owner_id": r.owner_id,
            "filename": r.filename,
            "content_type": r.content_type,
            "size_bytes": r.size_bytes,
            "sha256": r.sha256,
            "duration_seconds": r.duration_seconds,
            "status": r.status.value,
            "progress": None,
            "language": r.language,
            "transcript_text": r.transcript_text,
            "segments": r.segments,
            "error": r.error,
            "version": r.version,
            "created_at": r.created_on,
            "updated_at": r.modified_on,
        }
    return expected


def _masked(value: Any, audio_id: str) -> Any:
    """A response with the asked-for id replaced, to compare answers for different ids."""
    if isinstance(value, dict):
        return {k: _masked(v, audio_id) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v, audio_id) for v in value]
    if isinstance(value, str):
        return value.replace(audio_id, "<id>")
    return value


# -- the projection: resume, replay --------------------------------------------------------


def test_a_projection_stopped_half_way_resumes_with_no_row_missed_or_doubled(
    make_ovoz: MakeOvoz, clip: bytes
) -> None:
    first = make_ovoz(start=False, **USERS_ENV)
    alice, bob = sign_in(first, ALICE, wait=False), sign_in(first, BOB, wait=False)
    ids: list[UUID] = []
    for i in range(12):
        ids.append(upload(first, alice if i % 2 else bob, clip, f"first-{i}.flac").recording.id)
    for i in (0, 1, 2, 3, 8, 9):
        who = alice if i % 2 else bob
        edit(first, who, ids[i], f"birinchi tahrir {i}", expected=1)
    first.recordings.delete(bob, ids[4])
    first.recordings.delete(alice, ids[11])
    head_before = first.recordings.recorder.max_notification_id() or 0
    assert head_before == 12 + 6 + 2

    # Run the audios projection alone and stop it after a part of the log.
    runner = first.projections["audios"]
    original = runner.projection.process_event
    processed = 0
    reached, gate = threading.Event(), threading.Event()

    def pausing(domain_event: Any, tracking: Any) -> None:
        nonlocal processed
        if processed == 7:
            reached.set()
            gate.wait(10)
        original(domain_event, tracking)
        processed += 1

    runner.projection.process_event = pausing
    runner.start()
    assert reached.wait(10), "the projection did not start"
    stopper = threading.Thread(target=runner.stop)
    stopper.start()
    time.sleep(0.3)  # stop() has asked the subscription to end; let the event in hand finish
    gate.set()
    stopper.join(15)
    assert not stopper.is_alive()
    stopped_at = runner.position()
    assert 0 < stopped_at < head_before, (stopped_at, head_before)
    partial = table_rows(first)
    assert 0 < len(partial) < 10

    # More writes while no projection runs: new uploads, edits of rows already projected
    # and of rows not yet projected, a deletion of each kind.
    for i in range(5):
        ids.append(upload(first, alice if i % 2 else bob, clip, f"second-{i}.flac").recording.id)
    edit(first, bob, ids[0], "ikkinchi tahrir 0", expected=2)
    edit(first, alice, ids[9], "ikkinchi tahrir 9", expected=2)
    edit(first, bob, ids[10], "birinchi tahrir 10", expected=1)
    edit(first, alice, ids[13], "birinchi tahrir 13", expected=1)
    first.recordings.delete(alice, ids[1])
    first.recordings.delete(bob, ids[14])

    second = make_ovoz(**USERS_ENV)  # a fresh process: catches up from the tracking record
    head = settle(second)
    assert head == head_before + 5 + 4 + 2
    assert second.projections["audios"].position() == head
    assert second.projections["audios"].failures == 0, "an event was processed twice"
    rows, expected = table_rows(second), log_rows(second)
    assert set(rows) == set(expected)
    assert len(rows) == 17 - 4
    for audio_id, row in rows.items():
        assert row == expected[audio_id]
    assert rows[ids[0]]["transcript_text"] == "ikkinchi tahrir 0"
    assert rows[ids[0]]["version"] == 3
    assert rows[ids[13]]["version"] == 2


def test_replaying_the_log_from_zero_rebuilds_identical_read_models(
    make_ovoz: MakeOvoz, clip: bytes
) -> None:
    live = make_ovoz(**USERS_ENV)
    alice, bob = sign_in(live, ALICE), sign_in(live, BOB)
    ids = [
        upload(live, alice if i % 3 else bob, clip, f"r{i}.flac", "uz").recording.id
        for i in range(8)
    ]
    edit(live, bob, ids[0], "Men o'zbek tilida gapiraman")
    edit(live, alice, ids[1], "Привет, как дела?")
    edit(live, alice, ids[1], "Привет, мир!", expected=2)
    edit(live, alice, ids[2], "to be deleted")
    live.recordings.delete(alice, ids[2])
    live.recordings.delete(bob, ids[3])
    head = settle(live)
    before = table_rows(live, with_search=True)
    assert len(before) == 6
    assert before[ids[1]]["version"] == 3

    live.projections["audios"].stop()
    with live.datastore.transaction(commit=True) as curs:
        curs.execute("DELETE FROM audios")
        curs.execute("DELETE FROM audio_owner_positions")
        curs.execute("DELETE FROM audios_tracking WHERE application_name = 'recordings'")
    assert table_rows(live) == {}

    replayed = make_ovoz(**USERS_ENV)
    assert settle(replayed) == head
    assert replayed.projections["audios"].failures == 0
    assert table_rows(replayed, with_search=True) == before
    assert set(before) == set(log_rows(replayed))


def test_replaying_the_log_rebuilds_the_owner_positions_too(
    make_ovoz: MakeOvoz, clip: bytes
) -> None:
    live = make_ovoz(**USERS_ENV)
    alice = sign_in(live, ALICE)
    doomed = upload(live, alice, clip).recording.id
    upload(live, alice, clip)
    live.recordings.delete(alice, doomed)
    head = settle(live)
    before = owner_positions(live)
    assert before == {alice.user_id: head}

    live.projections["audios"].stop()
    with live.datastore.transaction(commit=True) as curs:
        curs.execute("DELETE FROM audios")
        curs.execute("DELETE FROM audio_owner_positions")
        curs.execute("DELETE FROM audios_tracking WHERE application_name = 'recordings'")
    replayed = make_ovoz(**USERS_ENV)
    settle(replayed)
    assert owner_positions(replayed) == before


# -- authorization ------------------------------------------------------------------------


def test_two_users_never_see_each_others_recordings_in_any_operation(
    store: Ovoz, clip: bytes
) -> None:
    alice, bob = sign_in(store, ALICE), sign_in(store, BOB)
    mine = upload(store, alice, clip, "alice.flac").recording.id
    theirs = upload(store, bob, clip, "bob.flac").recording.id
    edit(store, bob, theirs, "bobning maxfiy zebra so'zi")
    settle(store)
    missing = uuid.uuid4()
    recordings = store.recordings

    for audio_id in (theirs, missing):
        calls: list[Callable[[], object]] = [
            partial(recordings.get, alice, audio_id),
            partial(recordings.get, alice, audio_id, 1),
            partial(recordings.get, alice, audio_id, 2),
            partial(edit, store, alice, audio_id, "hijacked"),
            partial(edit, store, alice, audio_id, "hijacked", expected=1),  # no conflict
            partial(recordings.delete, alice, audio_id),
        ]
        for call in calls:
            assert not_found_message(call) == str(audio_id)

    # The read side: lists and searches show only the caller's own.
    mine_only = store.audios.page(AudioFilter(owner_id=alice.user_id), 0, 100)
    assert [r.id for r in mine_only.items] == [mine]
    assert mine_only.total == 1
    assert store.audios.page(AudioFilter(owner_id=alice.user_id, search="zebra"), 0, 100).total == 0

    # Bob's recording is untouched by all of that.
    theirs_now = recordings.get(bob, theirs)
    assert (theirs_now.version, theirs_now.transcript_text) == (2, "bobning maxfiy zebra so'zi")
    assert store.blobs.exists(theirs_now.blob_key)
    assert not store.keys.is_destroyed(theirs)

    # The same through GraphQL and the download endpoint: byte-for-byte the answer for
    # an id that does not exist.
    app = create_app(services_of(store), production=False)
    token = token_of(store, alice)
    answers = []
    for asked in (str(theirs), str(missing)):
        answer = [
            gql(app, token, AUDIO_Q, id=asked),
            gql(app, token, AUDIO_Q, id=asked, v=1),
            gql(app, token, UPDATE_M, id=asked, text="hijacked"),
            gql(app, token, UPDATE_M, id=asked, text="hijacked", v=2),
            gql(app, token, DELETE_M, id=asked),
        ]
        download = asgi(
            app, "GET", f"/audio/{asked}/file", headers={"Authorization": f"Bearer {token}"}
        )
        ranged = asgi(
            app,
            "GET",
            f"/audio/{asked}/file",
            headers={"Authorization": f"Bearer {token}", "Range": "bytes=0-9"},
        )
        answer.append({"status": download.status_code, "body": download.text})
        answer.append({"status": ranged.status_code, "body": ranged.text})
        answers.append(_masked(answer, asked))
    assert answers[0] == answers[1]
    assert answers[0][0] == {"audio": None}
    assert answers[0][2]["updateAudio"]["__typename"] == "NotFound"
    assert answers[0][4]["deleteAudio"]["__typename"] == "NotFound"
    assert answers[0][5]["status"] == 404
    listed = gql(app, token, LIST_Q)["audios"]
    assert [i["id"] for i in listed["items"]] == [str(mine)]
    assert listed["total"] == 1
    assert gql(app, token, LIST_Q, search="zebra")["audios"] == {
        "total": 0,
        "skip": 0,
        "limit": 100,
        "items": [],
    }
    own = asgi(app, "GET", f"/audio/{mine}/file", headers={"Authorization": f"Bearer {token}"})
    assert own.status_code == 200
    assert own.content == clip
    assert recordings.get(bob, theirs).version == 2


def test_an_admin_sees_and_deletes_everyones_recordings_but_edits_none(
    store: Ovoz, clip: bytes
) -> None:
    alice, bob, admin = sign_in(store, ALICE), sign_in(store, BOB), sign_in(store, ADMIN)
    assert admin.role is Role.ADMIN
    assert alice.role is Role.USER
    a = upload(store, alice, clip, "a.flac").recording.id
    b = upload(store, bob, clip, "b.flac").recording.id
    settle(store)
    assert store.recordings.get(admin, a).owner_id == alice.user_id
    everyone = store.audios.page(AudioFilter(owner_id=None), 0, 100)
    assert {r.id for r in everyone.items} == {a, b}
    assert everyone.total == 2

    app = create_app(services_of(store), production=False)
    token = token_of(store, admin)
    assert gql(app, token, AUDIO_Q, id=str(b))["audio"]["id"] == str(b)
    assert gql(app, token, AUDIO_Q, id=str(b), v=1)["audio"]["version"] == 1
    assert gql(app, token, LIST_Q)["audios"]["total"] == 2
    edited = gql(app, token, UPDATE_M, id=str(b), text="admin tuzatdi", v=1)["updateAudio"]
    assert edited["__typename"] == "NotPermitted"
    assert edited["code"] == "NOT_PERMITTED"
    download = asgi(app, "GET", f"/audio/{a}/file", headers={"Authorization": f"Bearer {token}"})
    assert download.status_code == 200
    assert download.content == clip
    assert gql(app, token, DELETE_M, id=str(a))["deleteAudio"] == {
        "__typename": "DeletedAudio",
        "id": str(a),
    }
    # Bob's transcript is untouched; Alice's recording is gone.
    assert store.recordings.get(bob, b).version == 1
    assert not_found_message(lambda: store.recordings.get(alice, a)) == str(a)


# -- edits ----------------------------------------------------------------------------------


def test_twenty_concurrent_edits_with_one_expected_version_give_one_success(
    store: Ovoz, clip: bytes
) -> None:
    alice = sign_in(store, ALICE)
    audio_id = upload(store, alice, clip).recording.id
    barrier = threading.Barrier(20)
    lock = threading.Lock()
    won: list[tuple[int, Written]] = []
    conflicts: list[VersionConflictError] = []
    other: list[BaseException] = []

    def attempt(i: int) -> None:
        barrier.wait(10)
        try:
            written = edit(store, alice, audio_id, f"tahrir {i}", expected=1)
        except VersionConflictError as e:
            with lock:
                conflicts.append(e)
        except BaseException as e:
            with lock:
                other.append(e)
        else:
            with lock:
                won.append((i, written))

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert other == []
    assert len(won) == 1
    assert len(conflicts) == 19
    assert all((e.expected, e.actual) == (1, 2) for e in conflicts)
    winner, written = won[0]
    current = store.recordings.get(alice, audio_id)
    assert (current.version, current.transcript_text) == (2, f"tahrir {winner}")
    assert store.wait_for("recordings", written.position)
    row = store.audios.get(audio_id)
    assert row is not None
    assert (row.version, row.transcript_text) == (2, f"tahrir {winner}")
    events = store.recordings.recorder.select_notifications(start=1, limit=100)
    assert [e.originator_version for e in events if e.originator_id == audio_id] == [1, 2]


def test_a_deleted_recording_cannot_be_edited(store: Ovoz, clip: bytes) -> None:
    alice = sign_in(store, ALICE)
    written = upload(store, alice, clip)
    audio_id = written.recording.id
    stale = store.recordings.get(alice, audio_id)  # read before the deletion
    store.recordings.delete(alice, audio_id)

    assert not_found_message(lambda: edit(store, alice, audio_id, "late")) == str(audio_id)
    assert not_found_message(lambda: edit(store, alice, audio_id, "late", expected=2)) == str(
        audio_id
    )
    assert not_found_message(lambda: store.recordings.delete(alice, audio_id)) == str(audio_id)
    # The aggregate's own rule, for a copy that was read before the deletion.
    stale.delete(alice.user_id)
    with pytest.raises(RecordingNotFoundError):
        stale.edit_transcript(alice.user_id, "late", [], None)
    # The log ends with the deletion.
    events = store.recordings.recorder.select_notifications(start=1, limit=100)
    assert [e.topic.rsplit(".", 1)[-1] for e in events] == ["AudioUploaded", "AudioDeleted"]


def delete_during_edits(
    store: Ovoz, app: Starlette, who: Principal, audio_id: UUID, editors: int = 8
) -> dict[str, Any]:
    """deleteAudio while ``editors`` threads edit the same recording as fast as they can."""
    stopping = threading.Event()
    lock = threading.Lock()
    edits: list[int] = []
    failures: list[BaseException] = []

    def storm(i: int) -> None:
        while not stopping.is_set():
            try:
                edit(store, who, audio_id, f"tahrir {i} {len(edits)}")
            except VersionConflictError:
                continue
            except RecordingNotFoundError:
                return  # the delete won
            except BaseException as e:
                with lock:
                    failures.append(e)
                return
            with lock:
                edits.append(i)

    threads = [threading.Thread(target=storm, args=(i,)) for i in range(editors)]
    for t in threads:
        t.start()
    try:
        assert wait_until(lambda: len(edits) >= 2 * editors), "the edits did not get going"
        answer: dict[str, Any] = gql(app, token_of(store, who), DELETE_M, id=str(audio_id))[
            "deleteAudio"
        ]
    finally:
        stopping.set()
        for t in threads:
            t.join(30)
    assert failures == []
    return answer


def test_a_delete_racing_a_storm_of_edits_answers_deleted_or_version_conflict(
    store: Ovoz, clip: bytes
) -> None:
    """deleteAudio names no version, so concurrent edits make it retry; whatever the
    race, the answer is a member of its union (never an internal error)."""
    alice = sign_in(store, ALICE)
    app = create_app(services_of(store), production=False)
    for _ in range(5):
        audio_id = upload(store, alice, clip).recording.id
        answer = delete_during_edits(store, app, alice, audio_id)
        if answer["__typename"] == "DeletedAudio":
            with pytest.raises(RecordingNotFoundError):
                store.recordings.get(alice, audio_id)
            assert store.keys.is_destroyed(audio_id)
        else:
            assert (answer["__typename"], answer["code"]) == ("VersionConflict", "VERSION_CONFLICT")
            assert not store.recordings.get(alice, audio_id).deleted


# -- lists and search -------------------------------------------------------------------------


def test_lists_are_newest_first_capped_at_100_and_count_every_match(
    store: Ovoz, clip: bytes
) -> None:
    alice, bob = sign_in(store, ALICE), sign_in(store, BOB)
    ids = [upload(store, alice, clip, f"n{i}.flac").recording.id for i in range(103)]
    upload(store, bob, clip, "bob.flac")
    edit(store, alice, ids[5], "birinchi")  # an edit does not move it up the list
    settle(store)
    newest_first = list(reversed(ids))
    mine = AudioFilter(owner_id=alice.user_id)
    page = store.audios.page(mine, 0, 1000)
    assert [r.id for r in page.items] == newest_first[:100]
    assert page.total == 103
    assert [r.id for r in store.audios.page(mine, 100, 100).items] == newest_first[100:]
    assert store.audios.page(mine, 100, 100).total == 103
    assert store.audios.page(mine, 500, 10).items == []
    assert store.audios.page(mine, 500, 10).total == 103
    assert store.audios.page(mine, 0, 0).total == 103
    assert [r.id for r in store.audios.page(mine, 10, 5).items] == newest_first[10:15]

    queued = store.audios.page(AudioFilter(alice.user_id, TranscriptionStatus.QUEUED), 0, 3)
    assert (len(queued.items), queued.total) == (3, 103)
    done = store.audios.page(AudioFilter(alice.user_id, TranscriptionStatus.COMPLETED), 0, 3)
    assert (done.items, done.total) == ([], 0)
    searched = store.audios.page(
        AudioFilter(alice.user_id, TranscriptionStatus.QUEUED, "birinchi"), 0, 100
    )
    assert [r.id for r in searched.items] == [ids[5]]
    assert searched.total == 1

    app = create_app(services_of(store), production=False)
    listed = gql(app, token_of(store, alice), LIST_Q, limit=1000)["audios"]
    assert (listed["limit"], listed["total"], len(listed["items"])) == (100, 103, 100)
    assert [i["id"] for i in listed["items"]] == [str(i) for i in newest_first[:100]]
    tail = gql(app, token_of(store, alice), LIST_Q, skip=101, limit=50)["audios"]
    assert [i["id"] for i in tail["items"]] == [str(ids[1]), str(ids[0])]
    assert (tail["total"], tail["skip"], tail["limit"]) == (103, 101, 50)
    filtered = gql(app, token_of(store, alice), LIST_Q, status="COMPLETED")["audios"]
    assert (filtered["total"], filtered["items"]) == (0, [])
    assert gql(app, token_of(store, bob), LIST_Q, limit=1000)["audios"]["total"] == 1


def test_search_is_full_text_over_the_transcript_in_uzbek_russian_and_english(
    store: Ovoz, clip: bytes
) -> None:
    alice, bob, admin = sign_in(store, ALICE), sign_in(store, BOB), sign_in(store, ADMIN)
    uz, ru, en, plain = (upload(store, alice, clip, f"{n}.flac").recording.id for n in "abcd")
    theirs = upload(store, bob, clip, "e.flac").recording.id
    edit(store, alice, uz, "Men o'zbek tilida gapiraman, g'alaba bizniki")
    edit(store, alice, ru, "Привет, как дела? Всё хорошо.")
    edit(store, alice, en, "Ask not what your country can do for you")
    edit(store, bob, theirs, "O'zbek tili va adabiyoti")
    settle(store)

    def found(who: Principal, search: str, status: TranscriptionStatus | None = None) -> list[UUID]:
        owner = None if who.is_admin else who.user_id
        page = store.audios.page(AudioFilter(owner, status, search), 0, 100)
        assert page.total == len(page.items)
        return [r.id for r in page.items]

    assert found(alice, "o'zbek") == [uz]
    assert found(alice, "O'ZBEK") == [uz]
    assert found(alice, "g'alaba") == [uz]
    assert found(alice, "gapiraman") == [uz]
    assert found(alice, "привет") == [ru]
    assert found(alice, "ПРИВЕТ") == [ru]
    assert found(alice, "дела хорошо") == [ru]
    assert found(alice, "country") == [en]
    assert found(alice, '"your country"') == [en]
    assert found(alice, "country -ask") == []
    assert found(alice, "tili") == []  # only in Bob's transcript
    assert found(alice, "yo'q") == []
    assert found(alice, "country", TranscriptionStatus.QUEUED) == [en]
    assert found(alice, "country", TranscriptionStatus.FAILED) == []
    assert found(bob, "o'zbek") == [theirs]
    assert set(found(admin, "o'zbek")) == {uz, theirs}
    assert plain not in found(alice, "o'zbek country привет")

    # Search follows edits: the old words stop matching.
    edit(store, alice, ru, "Здравствуйте")
    settle(store)
    assert found(alice, "привет") == []
    assert found(alice, "здравствуйте") == [ru]

    app = create_app(services_of(store), production=False)
    listed = gql(app, token_of(store, alice), LIST_Q, search="o'zbek")["audios"]
    assert [i["id"] for i in listed["items"]] == [str(uz)]
    assert listed["total"] == 1


def test_search_matches_uzbek_words_whichever_apostrophe_they_are_written_with(
    store: Ovoz, clip: bytes
) -> None:
    alice = sign_in(store, ALICE)
    spellings = {
        "o'zbek": "ASCII apostrophe",
        "o\u2018zbek": "left single quotation mark (phones)",
        "o\u2019zbek": "right single quotation mark (phones)",
        "o\u02bbzbek": "modifier letter turned comma (the official Uzbek Latin letter)",
        "o\u02bczbek": "modifier letter apostrophe",
    }
    ids = {}
    for word in spellings:
        ids[word] = upload(store, alice, clip).recording.id
        edit(store, alice, ids[word], f"{word} tili")
    settle(store)
    for query in ("o'zbek", "o\u02bbzbek"):
        page = store.audios.page(AudioFilter(alice.user_id, search=query), 0, 100)
        missed = [spellings[w] for w, i in ids.items() if i not in {r.id for r in page.items}]
        assert missed == [], f"search {query!r} missed {missed}"


# -- history --------------------------------------------------------------------------------


def test_audio_at_version_rebuilds_older_versions_from_the_log(store: Ovoz, clip: bytes) -> None:
    alice, bob = sign_in(store, ALICE), sign_in(store, BOB)
    audio_id = upload(store, alice, clip, "tarix.flac", "uz").recording.id
    edit(store, alice, audio_id, "birinchi", expected=1)
    edit(store, alice, audio_id, "ikkinchi", expected=2)
    settle(store)
    texts = {v: store.recordings.get(alice, audio_id, v).transcript_text for v in (1, 2, 3)}
    assert texts == {1: None, 2: "birinchi", 3: "ikkinchi"}
    assert [store.recordings.get(alice, audio_id, v).version for v in (1, 2, 3)] == [1, 2, 3]
    first = store.recordings.get(alice, audio_id, 1)
    assert (first.filename, first.language, first.owner_id) == ("tarix.flac", "uz", alice.user_id)

    app = create_app(services_of(store), production=False)
    token = token_of(store, alice)
    assert gql(app, token, AUDIO_Q, id=str(audio_id), v=2)["audio"] == {
        "id": str(audio_id),
        "version": 2,
        "transcriptText": "birinchi",
    }
    assert gql(app, token, AUDIO_Q, id=str(audio_id))["audio"]["version"] == 3
    assert gql(app, token, AUDIO_Q, id=str(audio_id), v=0)["audio"] is None
    assert gql(app, token_of(store, bob), AUDIO_Q, id=str(audio_id), v=1)["audio"] is None

    store.recordings.delete(alice, audio_id)
    for v in (1, 2, 3, 4):
        assert not_found_message(partial(store.recordings.get, alice, audio_id, v)) == str(audio_id)
    assert gql(app, token, AUDIO_Q, id=str(audio_id), v=1)["audio"] is None


def test_audio_at_a_version_that_never_existed_is_null(store: Ovoz, clip: bytes) -> None:
    alice = sign_in(store, ALICE)
    audio_id = upload(store, alice, clip).recording.id
    edit(store, alice, audio_id, "birinchi", expected=1)
    settle(store)
    app = create_app(services_of(store), production=False)
    assert gql(app, token_of(store, alice), AUDIO_Q, id=str(audio_id), v=99)["audio"] is None


# -- deletion and erasure -------------------------------------------------------------------


def test_deleting_removes_the_blob_the_rows_and_the_key(store: Ovoz, clip: bytes) -> None:
    alice = sign_in(store, ALICE)
    kept = upload(store, alice, clip).recording
    written = upload(store, alice, clip, language="en")
    audio_id, key = written.recording.id, written.recording.blob_key
    edit(store, alice, audio_id, "maxfiy matn")
    settle(store)
    assert store.blobs.exists(key)
    assert store.blobs.path(key).read_bytes() == clip
    assert store.audios.get(audio_id) is not None
    assert not store.keys.is_destroyed(audio_id)
    before = owner_positions(store)[alice.user_id]

    position = store.recordings.delete(alice, audio_id)
    assert store.wait_for("recordings", position)
    assert not store.blobs.path(key).exists()
    assert store.audios.get(audio_id) is None
    assert store.keys.is_destroyed(audio_id)
    assert owner_positions(store)[alice.user_id] == position > before
    page = store.audios.page(AudioFilter(alice.user_id), 0, 100)
    assert [r.id for r in page.items] == [kept.id]
    assert page.total == 1
    # The history's payloads (the transcript among them) can no longer be read.
    with pytest.raises(SubjectErasedError):
        store.recordings.repository.get(audio_id)
    # The other recording is untouched.
    assert store.blobs.exists(kept.blob_key)
    assert not store.keys.is_destroyed(kept.id)
    with store.datastore.transaction(commit=False) as curs:
        curs.execute("SELECT count(*) AS n FROM audios WHERE id = %s", (audio_id,))
        assert curs.fetchone()["n"] == 0  # type: ignore[index]

    app = create_app(services_of(store), production=False)
    token = token_of(store, alice)
    gone = asgi(app, "GET", f"/audio/{audio_id}/file", headers={"Authorization": f"Bearer {token}"})
    assert gone.status_code == 404
    assert gql(app, token, DELETE_M, id=str(audio_id))["deleteAudio"]["__typename"] == "NotFound"


@pytest.fixture
def failing_blob_deletes(
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[[Ovoz, int], list[str]]:
    """Make the next ``n`` blob deletions of an ovoz raise, as a full or failing disk would."""

    def arm(ovoz: Ovoz, n: int) -> list[str]:
        failed: list[str] = []
        real = ovoz.blobs.delete

        def flaky(key: str) -> None:
            if len(failed) < n:
                failed.append(key)
                raise OSError(5, "Input/output error (injected)")
            real(key)

        monkeypatch.setattr(ovoz.blobs, "delete", flaky)
        assert ovoz.recordings.blobs is ovoz.blobs
        return failed

    return arm


def test_the_erasure_processor_finishes_a_deletion_whose_inline_erase_failed(
    store: Ovoz, clip: bytes, failing_blob_deletes: Callable[[Ovoz, int], list[str]]
) -> None:
    alice = sign_in(store, ALICE)
    written = upload(store, alice, clip)
    audio_id, key = written.recording.id, written.recording.blob_key
    settle(store)
    failed = failing_blob_deletes(store, 2)  # the inline erase and the processor's first try

    store.recordings.delete(alice, audio_id)  # answers success; the processor finishes
    # The deletion is recorded all the same: the recording is gone for its owner at once.
    assert not_found_message(lambda: store.recordings.get(alice, audio_id)) == str(audio_id)
    assert wait_until(lambda: not store.blobs.path(key).exists()), "the blob was never removed"
    assert wait_until(lambda: store.keys.is_destroyed(audio_id)), "the key was never destroyed"
    assert failed == [key, key]
    assert store.projections["erasure"].failures >= 1
    settle(store)
    assert store.audios.get(audio_id) is None


def upload_under_a_key_of_its_own(store: Ovoz, who: Principal, data: bytes) -> tuple[UUID, str]:
    """A recording whose blob lies under a key not derived from its id (another store, or
    another rule, may choose keys so): whoever reads or removes the blob must take the key
    that its upload recorded."""
    key = uuid.uuid4().hex
    store.blobs.commit(store.blobs.stage(io.BytesIO(data), len(data)), key)
    recording_id = store.recordings.new_id()
    facts = AudioFacts(
        filename="own-key.flac",
        content_type="audio/flac",
        size_bytes=len(data),
        sha256="ab" * 32,
        blob_key=key,
        duration_seconds=3.3,
        language=None,
    )
    written = store.recordings.upload(recording_id, who.user_id, facts)
    assert store.wait_for("recordings", written.position)
    return recording_id, key


def test_downloads_and_erasure_find_the_blob_by_the_key_its_upload_recorded(
    store: Ovoz, clip: bytes, failing_blob_deletes: Callable[[Ovoz, int], list[str]]
) -> None:
    alice = sign_in(store, ALICE)
    audio_id, key = upload_under_a_key_of_its_own(store, alice, clip)
    app = create_app(services_of(store), production=False)
    auth = {"Authorization": f"Bearer {token_of(store, alice)}"}
    download = asgi(app, "GET", f"/audio/{audio_id}/file", headers=auth)
    assert download.status_code == 200
    assert download.content == clip

    failed = failing_blob_deletes(store, 1)  # the inline erase fails: the processor finishes
    store.recordings.delete(alice, audio_id)
    assert wait_until(lambda: not store.blobs.path(key).exists()), "the blob was never removed"
    assert wait_until(lambda: store.keys.is_destroyed(audio_id))
    assert failed == [key]


def test_the_erasure_processor_finishes_a_deletion_after_a_restart(
    make_ovoz: MakeOvoz, clip: bytes, failing_blob_deletes: Callable[[Ovoz, int], list[str]]
) -> None:
    crashed = make_ovoz(**USERS_ENV)
    alice = sign_in(crashed, ALICE)
    written = upload(crashed, alice, clip)
    audio_id, key = written.recording.id, written.recording.blob_key
    settle(crashed)
    failed = failing_blob_deletes(crashed, 1_000_000)  # this process can never delete it

    crashed.recordings.delete(alice, audio_id)  # recorded; the erasing is left to do
    erasure = crashed.projections["erasure"]
    assert wait_until(lambda: erasure.failures >= 2), "the processor did not retry"
    assert crashed.blobs.path(key).exists()
    assert not crashed.keys.is_destroyed(audio_id)
    head = crashed.recordings.recorder.max_notification_id()
    assert erasure.position() < (head or 0)  # not marked done
    for projection in crashed.projections.values():
        projection.stop()  # the process goes away with the work undone
    assert len(failed) >= 3

    restarted = make_ovoz(**USERS_ENV)
    assert restarted.projections["erasure"].wait(head, 15)
    assert not restarted.blobs.path(key).exists()
    assert restarted.keys.is_destroyed(audio_id)
    assert restarted.projections["erasure"].failures == 0
    settle(restarted)
    assert restarted.audios.get(audio_id) is None
    assert table_rows(restarted) == {}
