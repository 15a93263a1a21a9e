"""Rebuilding read models while they are in use, against a real PostgreSQL.

Readers query ``audios`` and ``users`` in a loop and a writer keeps editing, uploading and
signing in while ``rebuild`` replays the log into fresh tables and swaps them in: no query
may fail, and once everything has caught up the tables must equal what a projection
built from scratch (written here, independently of the rebuild's own replay) gives.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import Tracking
from psycopg import sql

from domain.access import Principal
from domain.recordings_app import Written
from infrastructure.bootstrap import Ovoz
from infrastructure.projection_runner import LogSource
from infrastructure.rebuild import SPECS, rebuild
from infrastructure.views.audios import AudiosView
from infrastructure.views.jobs import JobsView
from infrastructure.views.users import UsersView
from projections.audios import AudioFilter, AudiosProjection
from projections.jobs import ClaimedJob, JobsProjection
from projections.users import UsersProjection
from tests.factories import spoken_by, talk_facts, talk_transcript
from tests.integration.conftest import MakeOvoz

PHONES = [f"+9989010{i:05d}" for i in range(24)]
ENV = {"OTP_TEST_NUMBERS": ",".join(f"{p}:123456" for p in PHONES)}
RECORDINGS = 150

_TABLES = {
    "audios": "SELECT * , search::text AS search_text FROM audios ORDER BY id",
    "audio_owner_positions": "SELECT * FROM audio_owner_positions ORDER BY owner_id",
    "users": "SELECT * FROM users ORDER BY id",
    "transcription_jobs": "SELECT * FROM transcription_jobs ORDER BY recording_id",
}


def sign_in(ovoz: Ovoz, phone: str) -> Principal:
    ovoz.identity.send_code(phone)
    signed_in = ovoz.identity.verify_code(phone, "123456")
    return Principal(signed_in.user_id, signed_in.role, 0)


def populate(ovoz: Ovoz, owners: list[Principal], count: int, offset: int = 0) -> list[uuid.UUID]:
    """Recordings in every state: queued, processing, completed (some with a speaker
    named), edited, cancelled (and some retried after), deleted."""
    ids = []
    for n in range(offset, offset + count):
        owner = owners[n % len(owners)]
        recording_id = ovoz.recordings.new_id()
        ovoz.recordings.upload(recording_id, owner.user_id, talk_facts(n))
        if n % 5 != 0:
            ovoz.recordings.start_transcription(recording_id, "test-worker", 1)
        if n % 5 not in (0, 1):
            facts = talk_transcript(n)
            if n % 5 == 2:  # two speakers, the second named
                facts = spoken_by(facts, "S1", "S2", "S1")
            ovoz.recordings.complete_transcription(recording_id, 1, facts)
        if n % 5 == 2:
            ovoz.recordings.rename_speaker(owner, recording_id, "S2", f"Guest {n}", None)
        if n % 5 == 3:
            ovoz.recordings.edit_transcript(owner, recording_id, f"edited talk {n}", [], None)
        if n % 5 == 1 and n % 3 == 0:  # processing, then cancelled; some queued again
            ovoz.recordings.cancel_transcription(owner, recording_id)
            if n % 2 == 0:
                ovoz.recordings.retry_transcription(owner, recording_id)
        if n % 7 == 6:
            ovoz.recordings.delete(owner, recording_id)
        else:
            ids.append(recording_id)
    return ids


def head(ovoz: Ovoz, application: str) -> int:
    source = ovoz.projections["audios" if application == "recordings" else "users"].source
    return source.recorder.max_notification_id() or 0


def caught_up(ovoz: Ovoz) -> None:
    assert ovoz.wait_for("recordings", head(ovoz, "recordings"))  # the jobs view too
    assert ovoz.wait_for("identity", head(ovoz, "identity"))


def dump(conn: psycopg.Connection[Any], schema: str) -> dict[str, list[tuple[Any, ...]]]:
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    return {name: conn.execute(query).fetchall() for name, query in _TABLES.items()}


def from_scratch(ovoz: Ovoz, reference: str) -> None:
    """Project the whole log into ``reference`` with fresh views, one event at a time."""
    with ovoz.params.connect() as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(reference)))
    datastore = ovoz.params.in_schema(reference).datastore(pool_size=1)
    try:
        audios = AudiosView(datastore)
        audios.announce = False
        audios.create_table()
        users = UsersView(datastore)
        users.create_table()
        jobs = JobsView(datastore, backoff=ovoz.jobs.backoff)
        jobs.create_table()
        for projection, source in (
            (AudiosProjection(audios), ovoz.projections["audios"].source),
            (UsersProjection(users), ovoz.projections["users"].source),
            (JobsProjection(jobs), ovoz.projections["jobs"].source),
        ):
            replay(projection, source)
    finally:
        datastore.close()


def replay(projection: Any, source: LogSource) -> None:
    position = 0
    while True:
        page = source.recorder.select_notifications(position + 1, 500, inclusive_of_start=True)
        if not page:
            return
        for notification in page:
            event = source.mapper.to_domain_event(notification)
            projection.process_event(event, Tracking(source.name, notification.id))
        position = page[-1].id


class Loop(threading.Thread):
    """Runs ``action`` until stopped; keeps every failure."""

    def __init__(self, name: str, action: Callable[[int], object]) -> None:
        super().__init__(name=name, daemon=True)
        self.action = action
        self.stopping = threading.Event()
        self.done = 0
        self.failures: list[str] = []
        self.times: list[float] = []  # when each call finished

    def run(self) -> None:
        n = 0
        while not self.stopping.is_set():
            try:
                self.action(n)
                self.done += 1
                self.times.append(time.monotonic())
            except Exception:
                self.failures.append(traceback.format_exc())
            n += 1
            time.sleep(0.002)

    def stop(self) -> None:
        self.stopping.set()
        self.join(30)


@pytest.fixture
def ovoz(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**ENV)


def test_rebuild_while_queries_run_loses_nothing_and_equals_a_fresh_projection(
    ovoz: Ovoz, database_url: str, schema: str
) -> None:
    owners = [sign_in(ovoz, p) for p in PHONES[:4]]
    ids = populate(ovoz, owners, RECORDINGS)
    caught_up(ovoz)
    expected_total = ovoz.audios.page(AudioFilter(owner_id=None), 0, 1).total
    assert expected_total == len(ids)
    edited: dict[uuid.UUID, str] = {}

    def read_audios(n: int) -> None:
        page = ovoz.audios.page(AudioFilter(owner_id=None), 0, 100)
        # Only the writer adds recordings (and never deletes): the count never drops.
        assert page.total >= expected_total, page.total
        assert len(page.items) == 100
        mine = ovoz.audios.page(AudioFilter(owner_id=owners[n % 4].user_id, search="talk"), 0, 10)
        assert mine.total > 0
        row = ovoz.audios.get(ids[n % len(ids)])
        assert row is not None
        assert row.id == ids[n % len(ids)]

    def read_users(n: int) -> None:
        owner = owners[n % len(owners)]
        row = ovoz.users.get(owner.user_id)
        assert row is not None
        assert row.id == owner.user_id

    def write(n: int) -> None:
        if n % 10 == 0:
            populate(ovoz, owners, 1, offset=RECORDINGS + n)
            return
        if n % 25 == 1 and len(owners) < len(PHONES):
            new = sign_in(ovoz, PHONES[len(owners)])
            assert ovoz.wait_for("identity", head(ovoz, "identity"))  # read-your-writes
            owners.append(new)
            return
        recording_id = ids[n % len(ids)]
        owner = next(o for o in owners if o.user_id == ovoz.recordings.load(recording_id).owner_id)
        text = f"live edit {n}"
        written = ovoz.recordings.edit_transcript(owner, recording_id, text, [], None)
        edited[recording_id] = text
        assert ovoz.wait_for("recordings", written.position)

    threads = [
        Loop("audios-reader-1", read_audios),
        Loop("audios-reader-2", read_audios),
        Loop("users-reader", read_users),
        Loop("writer", write),
    ]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        started = time.monotonic()
        reports = [rebuild(ovoz, "audios"), rebuild(ovoz, "users"), rebuild(ovoz, "jobs")]
        finished = time.monotonic()
        time.sleep(0.5)
    finally:
        for t in threads:
            t.stop()

    for t in threads:
        assert t.failures == [], f"{t.name}: {len(t.failures)} failed, first:\n{t.failures[0]}"
        # Queries went on while the rebuild ran, not only before and after.
        assert any(started <= at <= finished for at in t.times), t.name
    assert reports[0].events >= head(ovoz, "recordings") - 200
    assert all(r.events > 0 for r in reports)

    caught_up(ovoz)
    for recording_id, text in edited.items():
        row = ovoz.audios.get(recording_id)
        assert row is not None
        assert row.transcript_text == text
    reference = f"{schema}_ref"
    try:
        from_scratch(ovoz, reference)
        with psycopg.connect(database_url, autocommit=True) as conn:
            rebuilt, fresh = dump(conn, schema), dump(conn, reference)
    finally:
        with psycopg.connect(database_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(reference))
            )
    assert len(rebuilt["audios"]) > RECORDINGS // 2
    assert len(rebuilt["users"]) >= 4
    for name in _TABLES:
        assert rebuilt[name] == fresh[name], name
    # No staging or retired schema is left behind.
    with psycopg.connect(database_url, autocommit=True) as conn:
        leftovers = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (f"{schema}\\_\\_%",)
        ).fetchall()
    assert leftovers == []


def test_the_cli_rebuilds_every_read_model_and_reports_its_speed(
    make_ovoz: MakeOvoz, database_url: str, schema: str, tmp_path: Path
) -> None:
    ovoz = make_ovoz(**ENV)
    owners = [sign_in(ovoz, p) for p in PHONES[:2]]
    populate(ovoz, owners, 40)
    caught_up(ovoz)
    with psycopg.connect(database_url, autocommit=True) as conn:
        before = dump(conn, schema)

    script = Path(sys.executable).with_name("ovoz")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "infrastructure.cli"]
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"JWT_SECRET", "MASTER_KEY", "OTP_PEPPER", "PHONE_HMAC_KEY", "DATABASE_SCHEMA"}
    }
    # The same var dir as make_ovoz: the same (generated) master key.
    env.update(
        DATABASE_URL=database_url,
        DATABASE_SCHEMA=schema,
        OVOZ_VAR_DIR=str(tmp_path),
        LOG_LEVEL="WARNING",
        **ENV,
    )
    done = subprocess.run(
        [*command, "projections", "rebuild"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = [line for line in done.stdout.splitlines() if "events/s" in line]
    assert [line.split(":", 1)[0] for line in lines] == list(SPECS), done.stdout
    for line in lines:
        assert "swapped in" in line
        rate = line.split("(", 1)[1].split(" events/s", 1)[0].replace(",", "")
        assert float(rate) > 0, line
    assert "events/s" in done.stderr  # the progress bar

    with psycopg.connect(database_url, autocommit=True) as conn:
        after = dump(conn, schema)
    assert after == before

    one = subprocess.run(
        [*command, "projections", "rebuild", "audios"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert one.returncode == 0, one.stderr
    assert one.stdout.startswith("audios: ")
    assert "users" not in one.stdout


# -- every view, jobs included ---------------------------------------------------------------


def tables_in(conn: psycopg.Connection[Any], schema: str) -> set[str]:
    rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))
    return {r[0] for r in rows.fetchall()}


def test_every_view_declares_every_table_it_creates_and_the_rebuild_covers_every_view(
    ovoz: Ovoz, schema: str
) -> None:
    # Every projection of the log is a read model to rebuild, but the processors: the
    # erasure processor holds no rows (replaying it would only erase again), and the
    # webhook fan-out's messages are promises made once (replaying would send again).
    assert set(SPECS) == set(ovoz.projections) - {"erasure", "webhook_fanout"}
    for name, spec in SPECS.items():
        empty = f"{schema}_{name}"
        with ovoz.params.connect() as conn:
            conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(empty)))
        datastore = ovoz.params.in_schema(empty).datastore(pool_size=1)
        try:
            view = spec.view(ovoz, datastore)
            view.create_table()
            with ovoz.params.connect() as conn:
                assert tables_in(conn, empty) == set(view.tables), name
        finally:
            datastore.close()
            with ovoz.params.connect() as conn:
                conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(empty)))


LEASE = timedelta(minutes=5)


def uploaded(ovoz: Ovoz, owner: Principal, n: int) -> uuid.UUID:
    recording_id = ovoz.recordings.new_id()
    jobs_know(ovoz, ovoz.recordings.upload(recording_id, owner.user_id, talk_facts(n)))
    return recording_id


def jobs_know(ovoz: Ovoz, written: Written) -> None:
    assert ovoz.projections["jobs"].wait(written.position, 10)


def claimed(ovoz: Ovoz, worker: str, expected: uuid.UUID) -> ClaimedJob:
    """Claim the oldest ready job and start it, as a worker does."""
    job = ovoz.jobs.claim(worker, LEASE)
    assert job is not None
    assert job.recording_id == expected
    ovoz.recordings.start_transcription(job.recording_id, worker, job.attempt)
    return job


def jobs_table(ovoz: Ovoz) -> list[tuple[Any, ...]]:
    with ovoz.params.connect() as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(ovoz.params.schema)))
        return conn.execute("SELECT * FROM transcription_jobs ORDER BY recording_id").fetchall()


def test_a_rebuilt_jobs_view_reruns_no_finished_job_and_leaves_running_ones_leased(
    ovoz: Ovoz,
) -> None:
    owner = sign_in(ovoz, PHONES[0])
    done = uploaded(ovoz, owner, 0)
    job = claimed(ovoz, "worker-a", done)
    jobs_know(ovoz, ovoz.recordings.complete_transcription(done, job.attempt, talk_transcript(0)))
    failed = uploaded(ovoz, owner, 1)
    job = claimed(ovoz, "worker-a", failed)
    jobs_know(ovoz, ovoz.recordings.fail_transcription(failed, job.attempt, "x", retryable=False))
    running = uploaded(ovoz, owner, 2)
    held = claimed(ovoz, "worker-a", running)
    queued = uploaded(ovoz, owner, 3)
    deleted = uploaded(ovoz, owner, 4)
    jobs_know(ovoz, Written(ovoz.recordings.load(deleted), ovoz.recordings.delete(owner, deleted)))
    before = jobs_table(ovoz)
    assert [r[0] for r in before] == sorted([done, failed, running, queued])

    report = rebuild(ovoz, "jobs")
    assert report.events == head(ovoz, "recordings")
    # What workers wrote (attempts, the running job's lease) survives the rebuild.
    assert jobs_table(ovoz) == before
    # So the only job a worker can take is the one still waiting; the one running stays
    # with its worker, which can go on renewing its lease.
    assert claimed(ovoz, "worker-b", queued).attempt == 1
    assert ovoz.jobs.claim("worker-b", LEASE) is None
    assert ovoz.jobs.renew(held, "worker-a", LEASE)

    # Where the live table went wrong, the log decides: a finished job marked waiting
    # again and a waiting job lost both come back as the log has them.
    with ovoz.params.connect() as conn:
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(ovoz.params.schema)))
        conn.execute(
            "UPDATE transcription_jobs SET state = 'queued' WHERE recording_id = %s", (done,)
        )
        conn.execute("DELETE FROM transcription_jobs WHERE recording_id = %s", (queued,))
    rebuild(ovoz, "jobs")
    assert ovoz.jobs.state_of(done) == {**(ovoz.jobs.state_of(done) or {}), "state": "done"}
    assert (ovoz.jobs.state_of(queued) or {})["state"] == "queued"
    assert ovoz.jobs.claim("worker-b", LEASE) == ClaimedJob(queued, 1, "en")
    assert ovoz.jobs.claim("worker-b", LEASE) is None


def test_a_rebuilt_audios_view_keeps_live_progress_and_no_cached_answer_survives_it(
    ovoz: Ovoz,
) -> None:
    owner = sign_in(ovoz, PHONES[0])
    recording_id = ovoz.recordings.new_id()
    ovoz.recordings.upload(recording_id, owner.user_id, talk_facts(0))
    written = ovoz.recordings.start_transcription(recording_id, "worker-a", 1)
    assert ovoz.wait_for("recordings", written.position)
    assert ovoz.audios.set_progress(recording_id, 0.4)
    position, ticks = ovoz.audios.freshness(owner.user_id)
    everyone = ovoz.audios.freshness(None)

    rebuild(ovoz, "audios")
    row = ovoz.audios.get(recording_id)
    assert row is not None
    assert (row.status.value, row.progress) == ("PROCESSING", 0.4)
    # The same log position, but the key of every response cached before has moved on.
    assert ovoz.audios.freshness(owner.user_id) == (position, ticks + 1)
    assert ovoz.audios.freshness(None)[1] > everyone[1]
    assert ovoz.audios.set_progress(recording_id, 0.5)  # progress goes on in the new tables
    assert ovoz.audios.freshness(owner.user_id) == (position, ticks + 2)
