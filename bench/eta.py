"""ETA error: how far ``etaSeconds``, as given when a recording is uploaded, is from when it
is actually done.

``python -m bench --only eta`` (or ``python -m bench.eta``). One ovoz (bootstrap on a fresh
schema) with one worker and the bundled ``base`` model, loaded before the first upload.
Three rounds, each uploaded at once (so the later ones wait behind the earlier ones):

1. the nine shared clips, with no history (the ETA is the prior's);
2. the nine clips again, with the first round's nine jobs as history;
3. a 10-minute file of the shared English speech, then one clip queued behind it.

For every recording the error is |predicted - actual| seconds from upload to COMPLETED,
and the error relative to the actual time. The baseline is the same prediction made from
the prior alone (no history), from the same queue snapshot: what the fitted speed adds.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from uuid import UUID

from bench.database import DEFAULT_URL, scratch_environment
from bench.e2e import AUDIO_DIR
from bench.report import Row, table
from domain.access import Principal
from infrastructure.bootstrap import Ovoz, bootstrap, services_of
from infrastructure.config import Settings
from projections.queue import estimate

PHONE = "+998901234568"
LONG_SECONDS = 600.0


@dataclass(frozen=True)
class Outcome:
    name: str
    predicted: float  # with this deployment's history
    prior: float  # from the prior alone
    actual: float

    def error(self, predicted: float) -> float:
        return abs(predicted - self.actual)


def _predict(ovoz: Ovoz, ids: list[UUID]) -> dict[UUID, tuple[float, float]]:
    """Each recording's ETA as the API would give it now, and the prior's."""
    rows = [row for row in map(ovoz.audios.get, ids) if row is not None]
    snapshot, _ = ovoz.queue.snapshot(ids)
    fresh = replace(snapshot.throughput, history=[])
    out = {}
    for row in rows:
        standing = snapshot.standings.get(row.id)
        fitted = estimate(
            row.status, row.duration_seconds, row.progress, standing, snapshot.throughput
        )
        prior = estimate(row.status, row.duration_seconds, row.progress, standing, fresh)
        assert fitted.eta_seconds is not None, row
        assert prior.eta_seconds is not None, row
        out[row.id] = (fitted.eta_seconds, prior.eta_seconds)
    return out


def _round(ovoz: Ovoz, owner: Principal, files: Sequence[Path]) -> list[Outcome]:
    """Upload ``files`` at once, predict each one's ETA, and time each until COMPLETED."""
    intake = services_of(ovoz).intake
    started = time.monotonic()
    rows, names = [], {}
    for path in files:
        written = intake.accept(owner, io.BytesIO(path.read_bytes()), path.name, None)
        assert ovoz.wait_for(ovoz.recordings.name, written.position)
        row = ovoz.audios.get(written.recording.id)
        assert row is not None
        rows.append(row)
        names[row.id] = path.name
    predicted = _predict(ovoz, [r.id for r in rows])  # within ms of the uploads
    done: dict[UUID, float] = {}
    while len(done) < len(rows):
        for row in rows:
            if row.id not in done:
                now = ovoz.audios.get(row.id)
                assert now is not None
                assert now.status.value != "FAILED", now
                if now.status.value == "COMPLETED":
                    done[row.id] = time.monotonic() - started
        time.sleep(0.05)
    return [Outcome(names[r.id], *predicted[r.id], done[r.id]) for r in rows]


def _row(name: str, outcomes: list[Outcome], note: str) -> Row:
    ours = statistics.mean(o.error(o.predicted) / o.actual for o in outcomes) * 100
    prior = statistics.mean(o.error(o.prior) / o.actual for o in outcomes) * 100
    detail = ", ".join(f"{o.predicted:.0f}/{o.actual:.0f}" for o in outcomes)
    worst = max(o.error(o.predicted) for o in outcomes)
    return Row(
        name,
        ours,
        prior,
        ours / prior if prior else None,
        "% error",
        f"mean |pred-actual|/actual; worst {worst:.1f} s; predicted/actual s: {detail}; {note}",
    )


def measure(database_url: str, long_file: Path) -> list[Row]:
    clips = sorted(p for p in AUDIO_DIR.iterdir() if p.suffix in {".flac", ".wav"})
    extra = {"OTP_TEST_NUMBERS": f"{PHONE}:123456"}
    with scratch_environment(database_url, "bench_eta_", **extra) as env:
        ovoz = bootstrap(Settings.from_env(env))
        try:
            ovoz.start_projections()
            ovoz.identity.send_code(PHONE)
            signed = ovoz.identity.verify_code(PHONE, "123456")
            owner = Principal(signed.user_id, signed.role, time.time() + 3600)
            ovoz.start_workers(1)
            _ = ovoz.workers[0].engine  # the model loads once per worker, not per job
            time.sleep(3)  # the idle worker has polled: it is alive
            first = _round(ovoz, owner, clips)
            second = _round(ovoz, owner, clips)
            long = _round(ovoz, owner, [long_file, clips[0]])
        finally:
            ovoz.close()
    n = len(clips)
    return [
        _row(f"ETA error, {n} clips queued at once, no history", first, "both are the prior"),
        _row(f"ETA error, {n} clips queued at once, {n} jobs of history", second, "fitted"),
        _row(
            f"ETA error, {LONG_SECONDS / 60:.0f}-min file + a clip behind it",
            long,
            f"history: {2 * n} short clips",
        ),
    ]


def bench_eta(database_url: str = DEFAULT_URL) -> list[Row]:
    from tests.conftest import speech_wav

    with tempfile.TemporaryDirectory() as tmp:
        return measure(database_url, speech_wav(Path(tmp) / "talk-10min.wav", LONG_SECONDS))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.eta", description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args(argv)
    if not (AUDIO_DIR / "jfk.flac").exists():
        print(f"no shared audio at {AUDIO_DIR}", file=sys.stderr)
        return 2
    print(table(bench_eta(args.database_url)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
