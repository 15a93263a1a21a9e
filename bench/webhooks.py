"""Webhook delivery latency: from the commit of a TranscriptionCompleted to the receiver.

``bench_webhooks(database_url)``: one ovoz (projections and dispatcher running) with one
user whose webhook points at a local receiver; a writer completes transcriptions at 50 a
second for ~10 s. Latency is the receiver's arrival time minus the time the writer's
commit returned, on the same clock: fan-out from the recordings log, the queue, signing
and the POST. Baseline: the same receiver POSTed to straight after each commit by the
writer's side (one thread per POST), i.e. what an HTTP request alone costs here.

Run alone with ``python -m bench.webhooks [--database-url URL] [--seconds S]``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from uuid import UUID

from bench.database import DEFAULT_URL, scratch_environment
from bench.report import Row, table
from domain.access import Principal
from domain.recordings_app import Recordings
from domain.webhooks import WebhookEvent
from infrastructure.bootstrap import Ovoz, bootstrap
from infrastructure.config import Settings
from tests.factories import talk_facts, talk_transcript
from tests.integration.webhook_receiver import Receiver

RATE = 50  # completions per second
SECONDS = 10.0
PHONE, CODE = "+998909999998", "999998"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def _prepare(ovoz: Ovoz, owner: Principal, count: int) -> list[UUID]:
    ids = []
    for n in range(count):
        recording_id = Recordings.new_id()
        ovoz.recordings.upload(recording_id, owner.user_id, talk_facts(n))
        ovoz.recordings.start_transcription(recording_id, "bench", 1)
        ids.append(recording_id)
    return ids


def _arrivals(receiver: Receiver) -> dict[str, float]:
    return {json.loads(r.body)["data"]["audioId"]: r.at for r in list(receiver.requests)}


def _through_ovoz(ovoz: Ovoz, ids: list[UUID], receiver: Receiver) -> list[float]:
    committed: dict[str, float] = {}
    start = time.monotonic()
    for n, recording_id in enumerate(ids):
        time.sleep(max(0.0, start + n / RATE - time.monotonic()))
        ovoz.recordings.complete_transcription(recording_id, 1, talk_transcript(n))
        committed[str(recording_id)] = time.monotonic()
    deadline = time.monotonic() + 30
    while len(receiver.requests) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.05)
    arrived = _arrivals(receiver)
    return [(arrived[k] - t) * 1000 for k, t in committed.items() if k in arrived]


def _direct(ovoz: Ovoz, ids: list[UUID], receiver: Receiver) -> list[float]:
    committed: dict[str, float] = {}

    def post(recording_id: UUID) -> None:
        body = json.dumps({"data": {"audioId": str(recording_id)}})
        connection = http.client.HTTPConnection("127.0.0.1", receiver.port, timeout=5)
        connection.request("POST", "/hook", body=body, headers={"content-type": "application/json"})
        connection.getresponse().read()
        connection.close()

    threads = []
    start = time.monotonic()
    for n, recording_id in enumerate(ids):
        time.sleep(max(0.0, start + n / RATE - time.monotonic()))
        ovoz.recordings.complete_transcription(recording_id, 1, talk_transcript(n))
        committed[str(recording_id)] = time.monotonic()
        thread = threading.Thread(target=post, args=(recording_id,))
        thread.start()
        threads.append(thread)
    for thread in threads:
        thread.join()
    arrived = _arrivals(receiver)
    return [(arrived[k] - t) * 1000 for k, t in committed.items() if k in arrived]


def bench_webhooks(database_url: str, seconds: float = SECONDS) -> list[Row]:
    count = int(RATE * seconds)
    extra = {"OTP_TEST_NUMBERS": f"{PHONE}:{CODE}"}
    with scratch_environment(database_url, "bench_webhooks_", **extra) as env:
        ovoz = bootstrap(Settings.from_env(env))
        hooked, direct = Receiver(), Receiver()
        try:
            ovoz.start_projections()
            ovoz.identity.send_code(PHONE)
            signed = ovoz.identity.verify_code(PHONE, CODE)
            ovoz.wait_for("identity", signed.position)
            owner = Principal(signed.user_id, signed.role, time.time() + 3600)
            base = _direct(ovoz, _prepare(ovoz, owner, count), direct)
            # Created after the baseline: only later completions reach the webhook.
            new = ovoz.webhooks.create(owner, hooked.url, [WebhookEvent.TRANSCRIPTION_COMPLETED])
            ovoz.wait_for("identity", new.position)
            through = _through_ovoz(ovoz, _prepare(ovoz, owner, count), hooked)
        finally:
            hooked.close()
            direct.close()
            ovoz.close()
    note = f"{len(through)}/{count} delivered at {RATE}/s; baseline: a POST right after commit"
    rows = []
    for label, q in (("p50", 0.5), ("p99", 0.99)):
        value, baseline = _percentile(through, q), _percentile(base, q)
        rows.append(
            Row(f"webhook commit→receiver {label}", value, baseline, value / baseline, "ms", note)
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args(argv)
    print(table(bench_webhooks(args.database_url, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
