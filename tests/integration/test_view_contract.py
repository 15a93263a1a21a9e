"""One contract, two implementations of each read-model view: the in-memory views a rebuild
replays into and the PostgreSQL views the projector writes. The same log, fed through the
same projections, must end in the same rows, the same owner positions and the same
tracking positions in both (parametrised: each must also meet what the domain says the
rows are)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import DictRow, dict_row

from domain.access import Principal
from domain.identity import Role
from domain.recordings import TranscriptionStatus
from infrastructure.bootstrap import Ovoz
from infrastructure.views.audios import AudiosView
from infrastructure.views.jobs import JobsView
from infrastructure.views.users import UsersView
from projections.audios import (
    AUDIO_COLUMNS,
    AudioRow,
    AudiosInMemory,
    AudiosProjection,
    AudioWrites,
)
from projections.columns import Columns
from projections.jobs import (
    DONE,
    FAILED,
    JOB_COLUMNS,
    QUEUED,
    JobsInMemory,
    JobsProjection,
    JobWrites,
)
from projections.users import USER_COLUMNS, UsersInMemory, UsersProjection, UserWrites
from tests.integration.conftest import MakeOvoz
from tests.integration.test_rebuild import ENV, PHONES, populate, replay, sign_in

IMPLEMENTATIONS = ("in_memory", "postgresql")


@dataclass(frozen=True)
class Ending:
    """Where a log left the three views."""

    audios: dict[UUID, Any]
    owners: dict[UUID, int]  # each owner's last log position in the audios view
    users: dict[UUID, Any]
    jobs: dict[UUID, Any]
    positions: dict[str, int | None]  # each view's tracking position


@dataclass(frozen=True)
class History:
    ovoz: Ovoz
    live: list[UUID]  # recordings that still exist
    users: dict[UUID, Principal]  # accounts that still exist
    failed: UUID  # finally failed
    retrying: UUID  # failed, retryable: queued again


@pytest.fixture
def history(make_ovoz: MakeOvoz) -> History:
    """A log with every event the three projections handle, erased subjects included."""
    ovoz = make_ovoz(**ENV)
    owners = [sign_in(ovoz, phone) for phone in PHONES[:4]]
    live = populate(ovoz, owners[:3], 20)
    recordings = ovoz.recordings
    processing = [i for i in live if recordings.load(i).status is TranscriptionStatus.PROCESSING]
    failed, retrying, requeued = processing[:3]
    recordings.fail_transcription(failed, 1, "ENGINE", retryable=False)
    recordings.fail_transcription(retrying, 1, "BUSY", retryable=True)
    recordings.fail_transcription(requeued, 1, "ENGINE", retryable=False)
    recordings.retry_transcription(owners[1], requeued)
    erased = owners[3]
    populate(ovoz, [erased], 3, offset=100)
    ovoz.accounts.delete_account(erased)
    return History(ovoz, live, {p.user_id: p for p in owners[:3]}, failed, retrying)


def _in_memory(ovoz: Ovoz) -> Ending:
    audios, users, jobs = AudiosInMemory(), UsersInMemory(), JobsInMemory(ovoz.jobs.backoff)
    _replay_into(ovoz, AudiosProjection(audios), UsersProjection(users), JobsProjection(jobs))
    return Ending(
        audios=dict(audios.rows),
        owners=dict(audios.owners),
        users=dict(users.rows),
        jobs=dict(jobs.rows),
        positions=_positions(audios, users, jobs),
    )


def _postgresql(ovoz: Ovoz) -> Ending:
    schema = f"{ovoz.params.schema}__contract"[:63]
    with ovoz.params.connect() as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {0} CASCADE").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    params = ovoz.params.in_schema(schema)
    datastore = params.datastore(pool_size=1)
    try:
        audios = AudiosView(datastore)
        audios.announce = False
        users = UsersView(datastore)
        jobs = JobsView(datastore, backoff=ovoz.jobs.backoff)
        for view in (audios, users, jobs):
            view.create_table()
        _replay_into(ovoz, AudiosProjection(audios), UsersProjection(users), JobsProjection(jobs))
        positions = _positions(audios, users, jobs)
    finally:
        datastore.close()
    with params.connect() as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        curs = conn.cursor(row_factory=dict_row)
        curs.execute("SELECT owner_id, position FROM audio_owner_positions")
        owners = {r["owner_id"]: r["position"] for r in curs.fetchall()}
        ending = Ending(
            audios=_load(curs, "audios", AUDIO_COLUMNS, "id"),
            owners=owners,
            users=_load(curs, "users", USER_COLUMNS, "id"),
            jobs=_load(curs, "transcription_jobs", JOB_COLUMNS, "recording_id"),
            positions=positions,
        )
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    return ending


def _load(
    curs: psycopg.Cursor[DictRow], table: str, columns: Columns[Any], key: str
) -> dict[UUID, Any]:
    curs.execute(sql.SQL(f"SELECT {columns.listed} FROM {table}"))
    return {record[key]: columns.load(record) for record in curs.fetchall()}


def _replay_into(
    ovoz: Ovoz, audios: AudiosProjection, users: UsersProjection, jobs: JobsProjection
) -> None:
    replay(audios, ovoz.projections["audios"].source)
    replay(users, ovoz.projections["users"].source)
    replay(jobs, ovoz.projections["jobs"].source)


def _positions(audios: AudioWrites, users: UserWrites, jobs: JobWrites) -> dict[str, int | None]:
    return {
        "audios": audios.max_tracking_id("recordings"),
        "users": users.max_tracking_id("identity"),
        "jobs": jobs.max_tracking_id("recordings"),
    }


ENDINGS = {"in_memory": _in_memory, "postgresql": _postgresql}


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_each_live_recording_ends_as_the_row_its_recording_converts_to(
    history: History, implementation: str
) -> None:
    ending = ENDINGS[implementation](history.ovoz)
    recordings = [history.ovoz.recordings.load(i) for i in history.live]
    assert ending.audios == {r.id: AudioRow.of(r, r.created_on) for r in recordings}
    assert set(ending.owners) >= set(history.users)


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_users_and_jobs_end_as_the_log_left_them(history: History, implementation: str) -> None:
    ending = ENDINGS[implementation](history.ovoz)
    assert {u: (row.role, row.id) for u, row in ending.users.items()} == {
        u: (Role.USER, u) for u in history.users
    }
    recordings = {i: history.ovoz.recordings.load(i) for i in history.live}
    expected = {
        i: FAILED if i == history.failed else DONE if r.transcript_text else QUEUED
        for i, r in recordings.items()
    }
    assert {i: job.state for i, job in ending.jobs.items()} == expected
    assert ending.jobs[history.retrying].available_at > ending.jobs[history.retrying].updated_at
    heads = {
        name: history.ovoz.projections[name].source.recorder.max_notification_id()
        for name in ("audios", "users", "jobs")
    }
    assert ending.positions == heads


def test_the_in_memory_views_end_exactly_where_the_postgresql_views_do(
    history: History,
) -> None:
    assert _in_memory(history.ovoz) == _postgresql(history.ovoz)
