"""Live delivery latency and rebuild speed.

``bench_delivery(database_url)``: 100 WebSocket subscribers (``audioStatus`` on one
PROCESSING recording) on one ``ovoz api`` process, and a writer in this process that
records 50 progress changes a second for ~10 s through ``AudiosView.set_progress`` (what
the transcription worker does: an UPDATE and a NOTIFY in one transaction). Latency is
receipt time in a client minus the time the writer's commit returned, on the same
clock. Baseline: a plain psycopg ``LISTEN`` connection receiving the same notifications
(PostgreSQL's own delivery, no API process or WebSocket in between).

``bench_rebuild(database_url, events)``: ``rebuild(ovoz, "audios")`` over ``events``
recordings events (real, encrypted, written through ``Recordings.save`` many aggregates
at a time), against a plain ``SELECT * FROM recordings_events`` scan of the same rows
through psycopg, in the same run.

Both return :class:`bench.report.Row` rows; both create a
schema of their own on ``database_url`` and drop it afterwards. Run alone with
``python -m bench.live [--database-url URL] [--events N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import threading
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import Any

from psycopg import sql

from bench.database import DEFAULT_URL, scratch_environment
from bench.harness import free_port
from bench.report import Row, table
from bench.servers import ServerProcess
from domain.recordings import Recording, TranscriptFacts
from infrastructure.bootstrap import Ovoz, bootstrap
from infrastructure.config import Settings
from tests.factories import talk_facts, talk_transcript

SUBSCRIBERS = 100
RATE = 50  # status changes per second
SECONDS = 10.0
PHONE = "+998909999999"
CODE = "999999"
_QUERY = "subscription($id: ID!) { audioStatus(id: $id) { status progress version } }"


def _facts(n: int) -> dict[str, Any]:
    return asdict(talk_facts(n, size_bytes=100_000 + n, duration_seconds=30.0))


def _transcript(n: int) -> TranscriptFacts:
    return talk_transcript(
        n,
        segments=4,
        every=3.0,
        length=2.5,
        language_probability=0.97,
        duration=30.0,
        processing_seconds=2.0,
    )


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# -- delivery -----------------------------------------------------------------------------------


async def _subscriber(
    url: str,
    token: str,
    audio_id: str,
    ready: asyncio.Event,
    ready_count: list[int],
    stop: asyncio.Event,
    received: dict[float, list[float]],
) -> None:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    async with connect(url, subprotocols=[Subprotocol("graphql-transport-ws")]) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": token}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": _QUERY, "variables": {"id": audio_id}},
                }
            )
        )
        first = json.loads(await ws.recv())
        assert first["type"] == "next", first
        ready_count[0] += 1
        if ready_count[0] == SUBSCRIBERS:
            ready.set()
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            now = time.time()
            message = json.loads(raw)
            if message.get("type") == "ping":
                await ws.send(json.dumps({"type": "pong"}))
                continue
            if message.get("type") != "next":
                continue
            progress = message["payload"]["data"]["audioStatus"]["progress"]
            if progress is not None:
                received.setdefault(progress, []).append(now)


def _plain_listener(
    params: Any, channel: str, stop: threading.Event, started: threading.Event, got: dict
) -> None:
    with params.connect() as conn:
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        started.set()
        while not stop.is_set():
            for notice in conn.notifies(timeout=0.5):
                now = time.time()
                payload = json.loads(notice.payload)
                if payload.get("progress") is not None:
                    got[payload["progress"]] = now


def bench_delivery(database_url: str = DEFAULT_URL) -> list[Row]:
    """Commit-to-receipt latency of status changes, p50 and p99 (ms)."""
    from domain.identity import Role
    from projections.audios import AUDIO_EVENTS_CHANNEL

    with scratch_environment(
        database_url, "bench_live_", OTP_TEST_NUMBERS=f"{PHONE}:{CODE}"
    ) as env:
        settings = Settings.from_env(env)
        ovoz = bootstrap(settings)
        try:
            ovoz.start_projections()
            ovoz.identity.send_code(PHONE)
            signed_in = ovoz.identity.verify_code(PHONE, CODE)
            token = "Bearer " + ovoz.tokens.issue(signed_in.user_id, Role.USER, uuid.uuid4()).token
            recording = Recording(
                id=ovoz.recordings.new_id(), owner_id=signed_in.user_id, **_facts(0)
            )
            recording.start_transcription("bench-writer", 1)
            ovoz.recordings.save(recording)
            position = ovoz.recordings.recorder.max_notification_id() or 0
            assert ovoz.wait_for("recordings", position)
            assert ovoz.wait_for("identity", ovoz.identity.recorder.max_notification_id() or 0)
            port = free_port()
            command = [str(Path(sys.executable).with_name("ovoz")), "api", "--port", str(port)]
            with ServerProcess("ovoz-api", port, env, argv=command) as server:
                server.wait_healthy()
                latencies, baseline, sent, lost = _measure(
                    ovoz, server.port, token, str(recording.id), AUDIO_EVENTS_CHANNEL
                )
        finally:
            ovoz.close()
    p50, p99 = _percentile(latencies, 0.5), _percentile(latencies, 0.99)
    b50, b99 = _percentile(baseline, 0.5), _percentile(baseline, 0.99)
    note = (
        f"{SUBSCRIBERS} subscribers, {sent} changes at {RATE}/s; {len(latencies)} deliveries, "
        f"{lost} progress ticks not sent (a subscriber behind gets only the latest tick "
        "for a recording, never a backlog); baseline: plain LISTEN in the "
        "writer's process (can be < 0: the commit time is taken after COMMIT returns)"
    )
    return [
        Row("live delivery p50 (ms)", p50, b50, p50 / b50 if b50 > 0 else None, "ms", note),
        Row(
            "live delivery p99 (ms)",
            p99,
            b99,
            p99 / b99 if b99 > 0 else None,
            "ms",
            f"target p99 <= 100 ms: {'met' if p99 <= 100 else 'MISSED'}",
        ),
        Row(
            "live delivery mean (ms)",
            statistics.fmean(latencies),
            statistics.fmean(baseline),
            None,
            "ms",
        ),
    ]


def _measure(
    ovoz: Ovoz, port: int, token: str, audio_id: str, channel: str
) -> tuple[list[float], list[float], int, int]:
    committed: dict[float, float] = {}
    plain: dict[float, float] = {}
    received: dict[float, list[float]] = {}

    def writer(go: threading.Event) -> None:
        go.wait()
        count = int(RATE * SECONDS)
        start = time.monotonic()
        for i in range(1, count + 1):
            target = start + i / RATE
            delay = target - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            progress = round(i / (count + 1), 6)
            assert ovoz.audios.set_progress(uuid.UUID(audio_id), progress)
            committed[progress] = time.time()  # set_progress returns once committed

    async def run() -> None:
        ready, stop = asyncio.Event(), asyncio.Event()
        ready_count = [0]
        url = f"ws://127.0.0.1:{port}/graphql"
        tasks = [
            asyncio.create_task(
                _subscriber(url, token, audio_id, ready, ready_count, stop, received)
            )
            for _ in range(SUBSCRIBERS)
        ]
        await asyncio.wait_for(ready.wait(), 60)
        listen_stop, listening = threading.Event(), threading.Event()
        listener = threading.Thread(
            target=_plain_listener,
            args=(ovoz.params, channel, listen_stop, listening, plain),
            daemon=True,
        )
        listener.start()
        listening.wait(10)
        go = threading.Event()
        writing = threading.Thread(target=writer, args=(go,), daemon=True)
        writing.start()
        go.set()
        await asyncio.to_thread(writing.join)
        await asyncio.sleep(2.0)  # the last deliveries
        stop.set()
        listen_stop.set()
        await asyncio.gather(*tasks)
        listener.join(5)

    asyncio.run(run())
    latencies = [
        (at - committed[p]) * 1000
        for p, times in received.items()
        if p in committed
        for at in times
    ]
    baseline = [(at - committed[p]) * 1000 for p, at in plain.items() if p in committed]
    expected = len(committed) * SUBSCRIBERS
    return latencies, baseline, len(committed), expected - len(latencies)


# -- rebuild ------------------------------------------------------------------------------------


def _generate(ovoz: Ovoz, owner: uuid.UUID, events: int, batch: int = 250) -> int:
    """``events`` recordings events: per recording uploaded, started, completed, edited
    (4 events), saved ``batch`` recordings per ``save`` (one transaction)."""
    written = 0
    n = 0
    while written < events:
        aggregates = []
        for _ in range(min(batch, (events - written + 3) // 4)):
            recording = Recording(id=ovoz.recordings.new_id(), owner_id=owner, **_facts(n))
            recording.start_transcription("bench", 1)
            recording.complete_transcription(1, _transcript(n))
            recording.edit_transcript(owner, f"edited talk {n}", [], None)
            aggregates.append(recording)
            n += 1
        ovoz.recordings.save(*aggregates)
        written += 4 * len(aggregates)
    return written


def _scan(params: Any) -> tuple[int, float]:
    """Every row of recordings_events through psycopg, as a client reads a table."""
    started = time.perf_counter()
    rows = 0
    with params.connect(autocommit=False) as conn:
        with conn.cursor(name="scan") as cursor:
            cursor.itersize = 2000
            cursor.execute(
                sql.SQL("SELECT * FROM {}.recordings_events ORDER BY notification_id").format(
                    sql.Identifier(params.schema)
                )
            )
            for _ in cursor:
                rows += 1
        conn.rollback()
    return rows, time.perf_counter() - started


def bench_rebuild(database_url: str = DEFAULT_URL, events: int = 100_000) -> list[Row]:
    """Rebuild speed of the audios read model (events/s) against a plain SQL scan.

    Writing the events through the real application costs about as long as 40 rebuilds,
    so the default is 100,000; ``--events 1000000`` takes about half an hour here."""
    from infrastructure.rebuild import rebuild

    with scratch_environment(
        database_url, "bench_live_", OTP_TEST_NUMBERS=f"{PHONE}:{CODE}"
    ) as env:
        settings = Settings.from_env(env)
        ovoz = bootstrap(settings)
        try:
            owner = uuid.uuid4()
            started = time.perf_counter()
            generated = _generate(ovoz, owner, events)
            generating = time.perf_counter() - started
            with ovoz.params.connect() as conn:
                conn.execute(
                    sql.SQL("VACUUM ANALYZE {}.recordings_events").format(
                        sql.Identifier(ovoz.params.schema)
                    )
                )
            _scan(ovoz.params)  # warm the cache for both
            rows, scan_seconds = _scan(ovoz.params)
            report = rebuild(ovoz, "audios")
            rows_again, scan_again = _scan(ovoz.params)
        finally:
            ovoz.close()
    scan_rate = (rows + rows_again) / (scan_seconds + scan_again)
    rate = report.events_per_second
    ratio = rate / scan_rate if scan_rate else None
    met = "met" if ratio is not None and ratio >= 0.5 else "MISSED"
    return [
        Row(
            "rebuild audios (events/s)",
            rate,
            scan_rate,
            ratio,
            "events/s",
            f"{report.events} events in {report.seconds:.1f} s vs plain SELECT * scan; "
            f"target >= 50% of the scan: {met}; generated {generated} events in "
            f"{generating:.0f} s",
        )
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live")
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_URL)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--only", choices=("delivery", "rebuild"))
    args = parser.parse_args(argv)
    rows: list[Row] = []
    if args.only != "rebuild":
        rows += bench_delivery(args.database_url)
    if args.only != "delivery":
        rows += bench_rebuild(args.database_url, args.events)
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
