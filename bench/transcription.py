"""Transcription benchmarks: throughput (sequential vs batched, WER beside each) and the
peak memory of a worker transcribing long audio built from the shared clips.

    from bench.transcription import bench_engine
    for row in bench_engine():
        print(row)

Each row is a :class:`bench.report.Row`; the baseline is measured in the same
run (sequential decoding for throughput, the idle worker with its model loaded for memory).
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import wave
from collections.abc import Sequence
from pathlib import Path

from bench.report import Row

AUDIO_DIR = Path(
    os.environ.get("OVOZ_AUDIO_DIR", Path(__file__).resolve().parents[2] / "shared" / "audio")
)
SAMPLE_RATE = 16_000


def normalise(text: str) -> str:
    """Lower case, punctuation dropped (apostrophes kept), whitespace collapsed."""
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def clips(
    audio_dir: Path = AUDIO_DIR, languages: Sequence[str] = ("en", "ru")
) -> list[dict[str, str]]:
    with open(audio_dir / "manifest.csv", newline="") as f:
        return [r for r in csv.DictReader(f) if r["language"] in languages]


def write_concatenation(files: Sequence[Path], target: Path, seconds: float | None = None) -> float:
    """Decode ``files``, concatenate them (repeating until ``seconds`` if given) and write a
    16 kHz mono 16-bit WAV, streaming so that memory stays at one clip. Returns its length."""
    import numpy as np
    from faster_whisper import decode_audio

    decoded = [decode_audio(str(f), sampling_rate=SAMPLE_RATE) for f in files]
    pcm = [(np.clip(a, -1.0, 1.0) * 32767).astype("<i2").tobytes() for a in decoded]
    wanted = int((seconds or sum(len(a) for a in decoded) / SAMPLE_RATE) * SAMPLE_RATE) * 2
    written = 0
    with wave.open(str(target), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        while written < wanted:
            for chunk in pcm:
                part = chunk[: wanted - written]
                w.writeframes(part)
                written += len(part)
                if written >= wanted:
                    break
    return written / 2 / SAMPLE_RATE


def _throughput(model: str, batched: str, items: list[tuple[Path, str]]) -> tuple[float, float]:
    """(audio seconds per wall second, mean WER) over ``items`` (path, reference)."""
    import jiwer

    from infrastructure.whisper import EngineSettings, WhisperEngine

    engine = WhisperEngine(
        EngineSettings(default_model=model, batched=batched, models_dir=_models_dir())
    )
    engine.transcribe(items[0][0])  # load and warm up
    audio = wall = 0.0
    errors = []
    for path, reference in items:
        started = time.perf_counter()
        result = engine.transcribe(path)
        wall += time.perf_counter() - started
        audio += result.duration or 0.0
        errors.append(jiwer.wer(normalise(reference), normalise(result.text)))
    return audio / wall, sum(errors) / len(errors)


def _models_dir() -> Path:
    return Path(os.environ.get("WHISPER_MODELS_DIR", "var/models")).resolve()


_MEMORY_SCRIPT = """
import json, resource, sys, time
from pathlib import Path
from infrastructure.whisper import EngineSettings, WhisperEngine
path, model, batched, models_dir, stage = sys.argv[1:6]
def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
out = {}
engine = WhisperEngine(EngineSettings(default_model=model, batched=batched,
                                      models_dir=Path(models_dir)))
loaded = engine.model(model)
out["loaded_mb"] = peak()
if stage == "decode":
    from faster_whisper import decode_audio
    audio = decode_audio(path, sampling_rate=16000)
    out["decoded_mb"] = audio.nbytes / 2**20
elif stage == "features":
    from faster_whisper import decode_audio
    audio = decode_audio(path, sampling_rate=16000)
    features = loaded.model.feature_extractor(audio)
    out["decoded_mb"] = audio.nbytes / 2**20
    out["features_mb"] = features.nbytes / 2**20
else:
    started = time.perf_counter()
    result = engine.transcribe(path)
    out["seconds"] = time.perf_counter() - started
    out["audio_seconds"] = result.duration
out["peak_mb"] = peak()
print(json.dumps(out))
"""


def worker_memory(path: Path, model: str, batched: str, stage: str) -> dict[str, float]:
    """Run a fresh worker process on ``path`` and return its figures (MiB, seconds)."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEMORY_SCRIPT,
            str(path),
            model,
            batched,
            str(_models_dir()),
            stage,
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def bench_engine(
    model: str = "base",
    audio_dir: Path = AUDIO_DIR,
    memory_seconds: float = 600.0,
    hour_seconds: float = 3600.0,
) -> list[Row]:
    """Throughput sequential vs batched (WER beside each) on the shared English and Russian
    clips plus their concatenation, and a worker's peak memory: transcribing
    ``memory_seconds`` of concatenated clips, and decoding / extracting features for
    ``hour_seconds`` (a full hour of inference takes too long on a 2-core machine)."""
    rows: list[Row] = []
    manifest = clips(audio_dir)
    items = [(audio_dir / r["file"], r["reference_text"]) for r in manifest]
    with tempfile.TemporaryDirectory(prefix="ovoz-bench-") as tmp:
        joined = Path(tmp) / "joined.wav"
        write_concatenation([p for p, _ in items], joined)
        items.append((joined, " ".join(ref for _, ref in items)))
        seq_speed, seq_wer = _throughput(model, "off", items)
        bat_speed, bat_wer = _throughput(model, "on", items)
        rows.append(
            Row(
                f"{model} sequential audio-s/s",
                seq_speed,
                None,
                None,
                "audio-s/s",
                f"WER {seq_wer:.3f}",
            )
        )
        rows.append(
            Row(
                f"{model} batched audio-s/s",
                bat_speed,
                seq_speed,
                bat_speed / seq_speed,
                "audio-s/s",
                f"WER {bat_wer:.3f} (sequential {seq_wer:.3f})",
            )
        )
        files = [audio_dir / r["file"] for r in manifest]
        long_file = Path(tmp) / "long.wav"
        write_concatenation(files, long_file, memory_seconds)
        for batched in ("off", "on"):
            m = worker_memory(long_file, model, batched, "transcribe")
            rows.append(
                Row(
                    f"peak RSS MiB, {memory_seconds / 60:.0f} min, batched={batched}",
                    m["peak_mb"],
                    m["loaded_mb"],
                    m["peak_mb"] / m["loaded_mb"],
                    "MiB",
                    f"baseline: model loaded; {m['audio_seconds'] / m['seconds']:.1f}x realtime",
                )
            )
        hour_file = Path(tmp) / "hour.wav"
        write_concatenation(files, hour_file, hour_seconds)
        for stage in ("decode", "features"):
            m = worker_memory(hour_file, model, "off", stage)
            detail = f"decoded audio {m['decoded_mb']:.0f} MiB"
            if "features_mb" in m:
                detail += (
                    f", whole-file mel features {m['features_mb']:.0f} MiB: what the engine "
                    "avoids by transcribing in 5-minute windows"
                )
            rows.append(
                Row(
                    f"peak RSS MiB, {hour_seconds / 60:.0f} min, {stage} only",
                    m["peak_mb"],
                    m["loaded_mb"],
                    m["peak_mb"] / m["loaded_mb"],
                    "MiB",
                    detail,
                )
            )
    return rows


if __name__ == "__main__":
    for row in bench_engine(memory_seconds=float(sys.argv[1]) if len(sys.argv) > 1 else 600.0):
        print(row, flush=True)
