"""End-to-end service time: upload → COMPLETED seen by the client, through a real
``ovoz serve`` with one worker, against bare faster-whisper on the same files.

The bare side (``python -m bench.e2e bare``, a process of its own, model loaded once)
does what a person using faster-whisper directly would: ``decode_audio``, then
``WhisperModel.transcribe`` — or ``BatchedInferencePipeline.transcribe`` with the
engine's batch size when the server's settings choose batching — with the server's
model, device, compute type, threads, beam size, VAD on, word timestamps on and
``condition_on_previous_text`` off, language detected (the uploads carry no hint), every
segment and word consumed. The settings come from the same environment as the server's,
through the same ``EngineSettings``.

Files alternate: for each clip one side goes first, the other next, swapping each time,
so that a slow moment of the (shared, noisy) machine falls on both; the ratio of each
round is Σ service ÷ Σ bare, and the table shows the median round.
"""

from __future__ import annotations

import csv
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from bench.recordings import upload_sync
from bench.report import Row
from bench.servers import ServerProcess

AUDIO_DIR = Path(__file__).resolve().parents[2] / "shared" / "audio"
POLL_SECONDS = 0.1
_STATUS = "query($id: ID!) { audio(id: $id) { status error } }"


def shared_clips(audio_dir: Path = AUDIO_DIR) -> list[tuple[Path, float]]:
    with open(audio_dir / "manifest.csv", newline="") as f:
        return [(audio_dir / r["file"], float(r["duration_seconds"])) for r in csv.DictReader(f)]


class Bare:
    """The bare faster-whisper process: one path per line in, one JSON line out."""

    def __init__(self, env: Mapping[str, str], warm_up: Path) -> None:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.e2e", "bare", str(warm_up)],
            env=dict(env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self._read()
        self.settings = ready["settings"]

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the bare faster-whisper process died")
        result: dict[str, Any] = json.loads(line)
        return result

    def transcribe(self, path: Path) -> float:
        assert self._process.stdin is not None
        self._process.stdin.write(f"{path}\n")
        self._process.stdin.flush()
        return float(self._read()["seconds"])

    def close(self) -> None:
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(5)


def _status(client: httpx.Client, token: str, audio_id: str) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json={"query": _STATUS, "variables": {"id": audio_id}},
        headers={"Authorization": f"Bearer {token}"},
    )
    response.raise_for_status()
    audio: dict[str, Any] = response.json()["data"]["audio"]
    return audio


def service_time(server: ServerProcess, token: str, path: Path, timeout: float = 600.0) -> float:
    """Seconds from the start of the upload until the client sees COMPLETED."""
    started = time.perf_counter()
    with open(path, "rb") as f:
        audio_id = upload_sync(server.url, token, f, path.name)["id"]
    with httpx.Client(base_url=server.url, timeout=30.0) as client:
        while time.perf_counter() - started < timeout:
            audio = _status(client, token, audio_id)
            if audio["status"] == "COMPLETED":
                return time.perf_counter() - started
            if audio["status"] == "FAILED":
                raise RuntimeError(f"{path.name} FAILED: {audio['error']}")
            time.sleep(POLL_SECONDS)
    raise RuntimeError(f"{path.name} not COMPLETED in {timeout:.0f} s")


def bench_e2e(
    server: ServerProcess, bare: Bare, token: str, model: str, rounds: int, audio_dir: Path
) -> list[Row]:
    clips = shared_clips(audio_dir)
    service_time(server, token, clips[0][0])  # the worker loads its model on its first job
    ratios, services, bares = [], [], []
    for r in range(rounds):
        service = base = 0.0
        for k, (path, _) in enumerate(clips):
            if (r + k) % 2 == 0:
                service += service_time(server, token, path)
                base += bare.transcribe(path)
            else:
                base += bare.transcribe(path)
                service += service_time(server, token, path)
        services.append(service)
        bares.append(base)
        ratios.append(service / base)
    audio = sum(d for _, d in clips)
    s = bare.settings
    note = (
        f"{len(clips)} clips, {audio:.0f} s audio, {rounds} round(s), median round; rounds "
        + "/".join(f"{x:.3f}" for x in ratios)
        + f"; {s['device']} {s['compute_type']} {s['threads']} threads beam {s['beam_size']} "
        f"batched={s['batched']}; status polled every {POLL_SECONDS:.1f} s"
    )
    return [
        Row(
            f"e2e upload→COMPLETED, {model} (Σ 9 clips)",
            statistics.median(services),
            statistics.median(bares),
            statistics.median(ratios),
            "s",
            note,
        )
    ]


# ------------------------------------------------------------------------ the bare side


def _bare_main(warm_up: str) -> None:
    from faster_whisper import BatchedInferencePipeline, WhisperModel, decode_audio

    from infrastructure.config import Settings
    from infrastructure.models import resolve_model
    from infrastructure.whisper import BATCH_SIZE, EngineSettings

    s = EngineSettings.from_settings(Settings.from_env())
    resolved = resolve_model(s.default_model, s.models_dir, allow_download=s.allow_download)
    model = WhisperModel(
        str(resolved.path),
        device=s.resolved_device,
        compute_type=s.resolved_compute_type,
        cpu_threads=s.resolved_threads,
        local_files_only=True,
    )
    options: dict[str, Any] = {
        "language": None,
        "beam_size": s.beam_size,
        "vad_filter": True,
        "word_timestamps": True,
        "condition_on_previous_text": False,
    }

    def run(path: str) -> dict[str, Any]:
        started = time.perf_counter()
        audio = decode_audio(path, sampling_rate=16_000)
        if s.use_batched:
            segments, info = BatchedInferencePipeline(model).transcribe(
                audio, batch_size=BATCH_SIZE, **options
            )
        else:
            segments, info = model.transcribe(audio, **options)
        words = 0
        texts = []
        for segment in segments:
            texts.append(segment.text.strip())
            words += len(segment.words or ())
        return {
            "seconds": time.perf_counter() - started,
            "language": info.language,
            "words": words,
            "text": " ".join(texts),
        }

    run(warm_up)
    settings = {
        "device": s.resolved_device,
        "compute_type": s.resolved_compute_type,
        "threads": s.resolved_threads,
        "beam_size": s.beam_size,
        "batched": s.use_batched,
    }
    print(json.dumps({"settings": settings}), flush=True)
    for line in sys.stdin:
        print(json.dumps(run(line.strip())), flush=True)


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "bare":
        _bare_main(sys.argv[2])
    else:
        sys.exit("usage: python -m bench.e2e bare WARM_UP_FILE")
