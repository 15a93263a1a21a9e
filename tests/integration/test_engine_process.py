"""The engine in a child process (infrastructure.engine_process) with the real bundled
model: it transcribes as the in-process engine does, a stop kills its process and the
next job gets a fresh one, a process that dies is a retryable failure, and the engine's
own errors come back as they are. Needs no shared recordings (the committed synthetic
speech); how soon a stop takes effect is measured in bench/cancel.py, not asserted here."""

from __future__ import annotations

import os
import signal
import wave
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.config import Settings
from infrastructure.engine_process import ProcessEngine
from infrastructure.transcription_errors import TranscriptionCancelled, TranscriptionError

ASSETS = Path(__file__).parents[1] / "assets"
SPEECH = ASSETS / "synthetic-speech-en.ogg"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[ProcessEngine]:
    settings = Settings.from_env({"OVOZ_VAR_DIR": str(tmp_path / "var")})
    made = ProcessEngine(settings)
    yield made
    made.close()


def long_speech(target: Path, seconds: float) -> Path:
    """The committed synthetic speech repeated to ``seconds`` (16 kHz mono WAV)."""
    import numpy as np
    from faster_whisper import decode_audio

    clip = decode_audio(str(SPEECH))
    repeats = int(seconds * 16000 / len(clip)) + 1
    pcm = (np.clip(np.tile(clip, repeats), -1, 1) * 32767).astype("<i2")
    with wave.open(str(target), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm.tobytes())
    return target


def test_it_transcribes_with_progress_in_a_process_of_its_own(engine: ProcessEngine) -> None:
    progress: list[float] = []
    facts = engine.transcribe(SPEECH, "en", on_progress=progress.append)
    assert "over the lazy dog" in facts.text.lower()
    assert facts.segments
    assert facts.segments[0]["words"]
    assert progress
    assert progress[-1] == 1.0
    assert progress == sorted(progress)
    child = engine._child
    assert child is not None
    assert child.process.pid != os.getpid()


def test_a_stop_kills_the_process_and_the_next_job_gets_a_fresh_one(
    engine: ProcessEngine, tmp_path: Path
) -> None:
    long = long_speech(tmp_path / "long.wav", 600)
    heard: list[float] = []  # the first progress: the job is under way, far from done

    def progress(fraction: float) -> None:
        if fraction > 0:
            heard.append(fraction)

    with pytest.raises(TranscriptionCancelled):
        engine.transcribe(long, "en", on_progress=progress, should_stop=lambda: bool(heard))
    assert heard
    assert heard[-1] < 1.0
    assert engine._child is None  # killed, not left decoding
    facts = engine.transcribe(SPEECH, "en")
    assert "over the lazy dog" in facts.text.lower()


def test_a_process_that_dies_is_a_retryable_failure(engine: ProcessEngine, tmp_path: Path) -> None:
    long = long_speech(tmp_path / "long.wav", 600)

    def kill_once_working(fraction: float) -> None:
        child = engine._child
        if fraction > 0 and child is not None and child.process.pid is not None:
            os.kill(child.process.pid, signal.SIGKILL)

    with pytest.raises(TranscriptionError) as failed:
        engine.transcribe(long, "en", on_progress=kill_once_working)
    assert failed.value.reason == "INFERENCE_FAILED"
    assert failed.value.retryable
    assert "engine process ended" in failed.value.detail
    assert "over the lazy dog" in engine.transcribe(SPEECH, "en").text.lower()


def test_the_engines_own_errors_come_back_as_they_are(
    engine: ProcessEngine, tmp_path: Path
) -> None:
    garbage = tmp_path / "garbage.wav"
    garbage.write_bytes(b"RIFF" + os.urandom(2000))
    with pytest.raises(TranscriptionError) as refused:
        engine.transcribe(garbage, "en")
    assert refused.value.reason == "UNDECODABLE"
    assert not refused.value.retryable
    silence = tmp_path / "silence.wav"
    with wave.open(str(silence), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 16000 * 3)
    with pytest.raises(TranscriptionError) as quiet:
        engine.transcribe(silence, "en")
    assert quiet.value.reason == "NO_SPEECH"
    assert engine._child is not None
    assert engine._child.process.is_alive()
