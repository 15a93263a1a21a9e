"""A quiet speaker beside a loud one, with the real bundled model on the shared recordings.

The conversation is built here from the shared clips: four turns in ~38 s, JFK and
LibriSpeech 2412 loud, LibriSpeech 1089 and the DeepSpeech speaker 20 dB down. Bare
faster-whisper 1.2.1 with tiny.en returns nothing of the DeepSpeech turn, batched or not
(its VAD takes it for silence after the loud turn; ``bench/quiet_speech.py`` measures
this and more); the engine must return every turn, at its place in the file. Silence,
tones and faint noise must still give no text.
"""

from __future__ import annotations

import math
import re
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jiwer
import numpy as np
import pytest

from domain.recordings import TranscriptFacts
from infrastructure.levelling import speech_regions
from infrastructure.transcription_errors import TranscriptionError
from infrastructure.whisper import EngineSettings, WhisperEngine
from tests.conftest import AUDIO_DIR

RATE = 16_000
#: (clip, attenuation dB) in order, PAUSE seconds apart.
TURNS = (
    ("jfk.flac", 0.0),
    ("en_librispeech_1089-134686-0000.flac", 20.0),
    ("en_lhotse_2412-153948-0000.flac", 0.0),
    ("en_deepspeech_LDC93S1.wav", 20.0),
)
PAUSE = 0.5
#: Silence before the first turn, so that no region starts at the file's start.
LEAD = 2.0
#: A turn is heard when at least this share of its words come back within its time span.
HEARD = 0.5
#: How far (s) a word's timing may stray outside its turn (Whisper's word timings are
#: coarse at the edges of speech).
SLACK = 0.3

needs_audio = pytest.mark.skipif(
    not (AUDIO_DIR / "manifest.csv").is_file(),
    reason=f"the shared recordings are not at {AUDIO_DIR} (set OVOZ_AUDIO_DIR)",
)


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def write_wav(path: Path, audio: Any) -> Path:
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="module")
def conversation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """The mixed-level file and, per turn, its span, attenuation and reference."""
    import csv

    from faster_whisper import decode_audio

    with open(AUDIO_DIR / "manifest.csv", newline="") as f:
        references = {r["file"]: r["reference_text"] for r in csv.DictReader(f)}
    parts: list[Any] = []
    turns, at = [], 0.0
    for file, db in TURNS:
        audio = decode_audio(str(AUDIO_DIR / file), sampling_rate=RATE) * 10 ** (-db / 20)
        pause = PAUSE if parts else LEAD
        parts += [np.zeros(int(pause * RATE), dtype=np.float32), audio]
        at += pause
        seconds = len(audio) / RATE
        turns.append({"start": at, "end": at + seconds, "quiet": db > 0, "text": references[file]})
        at += seconds
    path = write_wav(tmp_path_factory.mktemp("quiet") / "conversation.wav", np.concatenate(parts))
    return path, turns


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models")


def engine(models_dir: Path, batched: str = "auto") -> WhisperEngine:
    return WhisperEngine(
        EngineSettings(default_model="tiny.en", batched=batched, models_dir=models_dir)
    )


def heard_in(result: TranscriptFacts, turn: dict[str, Any]) -> float:
    """The share of the turn's words among the words timed inside its span."""
    inside = " ".join(
        w["word"]
        for s in result.segments
        for w in s["words"]
        if turn["start"] - SLACK <= (w["start"] + w["end"]) / 2 <= turn["end"] + SLACK
    )
    reference = normalise(turn["text"])
    return float(jiwer.process_words(reference, normalise(inside) or "-").hits) / len(
        reference.split()
    )


def assert_consistent(result: TranscriptFacts) -> None:
    segments = result.segments
    assert result.duration is not None
    assert [s["id"] for s in segments] == list(range(len(segments)))
    starts = [s["start"] for s in segments]
    assert starts == sorted(starts)
    for s in segments:
        assert 0.0 <= s["start"] <= s["end"] <= result.duration + 0.05, s
        for w in s["words"]:
            assert s["start"] - 0.05 <= w["start"] <= w["end"] <= s["end"] + 0.05, (w, s)
    words = "".join(w["word"] for s in segments for w in s["words"])
    assert normalise(words) == normalise(result.text)


@needs_audio
@pytest.mark.parametrize("batched", ["on", "off"])
def test_no_turn_of_the_quiet_speaker_is_lost(
    batched: str, models_dir: Path, conversation: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, turns = conversation
    result = engine(models_dir, batched).transcribe(path)
    heard = [round(heard_in(result, t), 2) for t in turns]
    assert all(h >= HEARD for h in heard), (heard, result.text)
    assert_consistent(result)


class Deaf(WhisperEngine):
    """The engine with a first pass that hears nothing: every speech region must then be
    decoded on its own."""

    def _start(self, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
        _, info = super()._start(*args, **kwargs)
        return iter(()), info


@needs_audio
def test_regions_decoded_alone_are_timed_inside_their_regions(
    models_dir: Path, conversation: tuple[Path, list[dict[str, Any]]]
) -> None:
    path, turns = conversation
    deaf = Deaf(EngineSettings(default_model="tiny.en", batched="off", models_dir=models_dir))
    result = deaf.transcribe(path)
    from faster_whisper import decode_audio

    regions = [
        (start / RATE, end / RATE)
        for start, end in speech_regions(decode_audio(str(path), sampling_rate=RATE))
    ]
    for segment in result.segments:
        for word in segment["words"]:
            middle = (word["start"] + word["end"]) / 2
            assert any(a - SLACK <= middle <= b + SLACK for a, b in regions), (word, regions)
    heard = [round(heard_in(result, t), 2) for t in turns]
    assert all(h >= HEARD for h in heard), (heard, result.text)
    assert_consistent(result)


def tone(seconds: float, amplitude: float) -> Iterator[float]:
    for t in range(int(seconds * RATE)):
        yield amplitude * math.sin(2 * math.pi * 440 * t / RATE)


NO_SPEECH_CASES: dict[str, Callable[[], Any]] = {
    "silence": lambda: np.zeros(3 * RATE, dtype=np.float32),
    "tone": lambda: np.fromiter(tone(3.0, 0.25), dtype=np.float32),
    "quiet tone": lambda: np.fromiter(tone(3.0, 0.005), dtype=np.float32),
    "faint noise": lambda: np.random.default_rng(7).normal(0, 0.002, 5 * RATE).astype(np.float32),
}


@pytest.mark.parametrize("batched", ["on", "off"])
@pytest.mark.parametrize("name", NO_SPEECH_CASES)
def test_no_speech_gives_no_text(name: str, batched: str, models_dir: Path, tmp_path: Path) -> None:
    path = write_wav(tmp_path / "no-speech.wav", NO_SPEECH_CASES[name]())
    with pytest.raises(TranscriptionError) as caught:
        engine(models_dir, batched).transcribe(path)
    assert caught.value.reason == "NO_SPEECH"


@pytest.mark.parametrize("name", ["silence", "tone"])
def test_a_region_decoded_alone_keeps_no_doubtful_text(name: str, models_dir: Path) -> None:
    """Decoding alone skips voice activity detection; Whisper's own doubts must gate it."""
    audio = (
        np.zeros(4 * RATE, dtype=np.float32)
        if name == "silence"
        else np.fromiter(tone(4.0, 0.25), dtype=np.float32)
    )
    whisper = engine(models_dir, "off")
    model = whisper.model("tiny.en").model
    assert whisper._alone(model, audio, 12.0, "en", None) == []
