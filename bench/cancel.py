"""Cancel latency: how soon after ``cancelTranscription`` commits does the engine of the
job stop and its worker go free (issue 13 asks for 2 s)?

``python -m bench --only cancel`` (or ``python -m bench.cancel``). One ovoz (bootstrap on
a fresh schema) with one worker and the bundled ``base`` model transcribes 10 minutes of the
shared English speech; 3, 8 and 15 s into the job the recording is cancelled and the time
until the worker has left the job is measured, with the batched pipeline (the CPU default)
and the sequential one. The baseline is what the engine does between two chances to stop:
the time from one progress tick (a segment or a batch of them) to the next, measured on
the same job — a cancel can only take effect at such a boundary.
"""

from __future__ import annotations

import argparse
import io
import itertools
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.database import DEFAULT_URL, scratch_environment
from bench.e2e import AUDIO_DIR
from bench.report import Row, table
from infrastructure.bootstrap import bootstrap, services_of
from infrastructure.config import Settings

PHONE = "+998901234567"
SPEECH_SECONDS = 600.0
CANCEL_AFTER = (3.0, 8.0, 15.0)  # seconds into the job at which to cancel


def _speech(target: Path, seconds: float) -> Path:
    from tests.conftest import speech_wav

    return speech_wav(target, seconds)


def measure(database_url: str, batched: str, speech: Path) -> tuple[list[float], list[float]]:
    """(cancel→worker free seconds per try, seconds between progress ticks)."""
    waits: list[float] = []
    ticks: list[float] = []
    extra = {"OTP_TEST_NUMBERS": f"{PHONE}:123456", "WHISPER_BATCHED": batched}
    with scratch_environment(database_url, "bench_cancel_", **extra) as env:
        ovoz = bootstrap(Settings.from_env(env))
        try:
            ovoz.start_projections()
            ovoz.identity.send_code(PHONE)
            signed = ovoz.identity.verify_code(PHONE, "123456")
            from domain.access import Principal

            owner = Principal(signed.user_id, signed.role, time.time() + 3600)
            ovoz.start_workers(1)
            worker = ovoz.workers[0]
            intake = services_of(ovoz).intake
            for fraction in CANCEL_AFTER:
                written = intake.accept(owner, io.BytesIO(speech.read_bytes()), "talk.wav", "en")
                recording_id = written.recording.id
                last, seen = None, []
                began: float | None = None
                while began is None or time.monotonic() - began < fraction:
                    row = ovoz.audios.get(recording_id)
                    if row is not None and row.status.value == "PROCESSING" and began is None:
                        began = time.monotonic()
                    progress = row.progress if row is not None else None
                    if progress is not None and progress != last:
                        seen.append(time.monotonic())
                        last = progress
                    time.sleep(0.02)
                ticks += [b - a for a, b in itertools.pairwise(seen)]
                cancelled_at = time.monotonic()
                ovoz.recordings.cancel_transcription(owner, recording_id)
                while worker._running is not None and worker._running[0] == recording_id:
                    time.sleep(0.005)
                waits.append(time.monotonic() - cancelled_at)
        finally:
            ovoz.close()
    return waits, ticks


_MODES = {"on": "batched", "off": "sequential"}


def bench_cancel(database_url: str = DEFAULT_URL) -> list[Row]:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        speech = _speech(Path(tmp) / "talk.wav", SPEECH_SECONDS)
        for batched in ("on", "off"):
            waits, ticks = measure(database_url, batched, speech)
            tick = statistics.median(ticks) if ticks else None
            worst = max(waits)
            rows.append(
                Row(
                    f"cancel → engine stopped, worker free ({_MODES[batched]})",
                    worst,
                    tick,
                    worst / tick if tick else None,
                    "s",
                    f"worst of {len(waits)} ({', '.join(f'{w:.2f}' for w in waits)} s) on "
                    f"{SPEECH_SECONDS / 60:.0f} min of speech, base; baseline: median time "
                    "between progress ticks (the engine's stop points); target 2 s",
                )
            )
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cancel", description=__doc__)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args(argv)
    if not (AUDIO_DIR / "jfk.flac").exists():
        print(f"no shared audio at {AUDIO_DIR}", file=sys.stderr)
        return 2
    print(table(bench_cancel(args.database_url)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
