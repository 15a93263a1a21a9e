"""Quiet speech: does a speaker recorded ~20 dB below the other survive transcription?

``python -m bench --only quiet-speech`` (or ``python -m bench.quiet_speech``). Mixed-level
conversations are built from the shared English clips (``MIXES``): clips of different
speakers one after another, half a second apart, the quiet speaker's turns attenuated by
20 dB. Each is transcribed by

* **bare** faster-whisper (the baseline): ``WhisperModel.transcribe`` or
  ``BatchedInferencePipeline.transcribe`` with the engine's options (VAD on, word timestamps,
  ``condition_on_previous_text`` off, beam 5, batch 8, language detected);
* **ovoz before**: the engine with ``level_speech`` off (what it did before it levelled);
* **ovoz**: the engine as configured by default (speech regions levelled, unheard regions
  decoded again alone).

Word recall per speaker comes from one alignment of the whole transcript against the whole
reference (jiwer), each reference word counted for the clip it belongs to: an utterance is
*lost* when under half its words come back. Beside it, the recall of the same quiet clips
transcribed alone at full level: what the model gets right at best. The ordinary shared
English and Russian clips give the WER of ovoz before and after (it must be no worse), and
the time all of it took.

About 5 minutes on 2 cores with ``base``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import Row, table
from bench.transcription import AUDIO_DIR, SAMPLE_RATE, clips, normalise

#: A conversation: (clip file, attenuation in dB) in order; turns are PAUSE seconds apart.
MIXES: dict[str, tuple[tuple[str, float], ...]] = {
    # ~38 s: JFK and LibriSpeech 2412 loud, LibriSpeech speaker 1089 20 dB down.
    "A": (
        ("jfk.flac", 0.0),
        ("en_librispeech_1089-134686-0000.flac", 20.0),
        ("en_lhotse_2412-153948-0000.flac", 0.0),
        ("en_librispeech_1089-134686-0001.flac", 20.0),
    ),
    # ~35 s, a quiet voice first, and a short quiet clip right after a loud one:
    # LibriSpeech 1995 and the DeepSpeech speaker 20 dB down, speaker 1089 and JFK loud.
    "B": (
        ("en_wenet_librispeech-1995-1837-0001.wav", 20.0),
        ("en_librispeech_1089-134686-0000.flac", 0.0),
        ("en_deepspeech_LDC93S1.wav", 20.0),
        ("jfk.flac", 0.0),
    ),
    # ~40 s, five turns, the two quiet ones (1089, DeepSpeech) short.
    "C": (
        ("en_lhotse_2412-153948-0000.flac", 0.0),
        ("en_librispeech_1089-134686-0001.flac", 20.0),
        ("jfk.flac", 0.0),
        ("en_deepspeech_LDC93S1.wav", 20.0),
        ("en_wenet_librispeech-1995-1837-0001.wav", 0.0),
    ),
}
PAUSE = 0.5
LOST_BELOW = 0.5


@dataclass(frozen=True)
class Turn:
    file: str
    attenuation_db: float
    start: float
    end: float
    reference: str


def write_mix(
    turns: Sequence[tuple[str, float]],
    target: Path,
    audio_dir: Path = AUDIO_DIR,
    pause: float = PAUSE,
) -> list[Turn]:
    """Write the conversation as a 16 kHz mono WAV; returns where each turn lies."""
    import numpy as np
    from faster_whisper import decode_audio

    references = {r["file"]: r["reference_text"] for r in clips(audio_dir)}
    parts, placed, at = [], [], 0.0
    silence = np.zeros(int(pause * SAMPLE_RATE), dtype=np.float32)
    for n, (file, db) in enumerate(turns):
        audio = decode_audio(str(audio_dir / file), sampling_rate=SAMPLE_RATE) * 10 ** (-db / 20)
        if n:
            parts.append(silence)
            at += pause
        parts.append(audio)
        placed.append(Turn(file, db, at, at + len(audio) / SAMPLE_RATE, references[file]))
        at += len(audio) / SAMPLE_RATE
    pcm = (np.clip(np.concatenate(parts), -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(target), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return placed


def turn_recall(turns: Sequence[Turn], hypothesis: str) -> list[float]:
    """Per turn, the share of its reference words found in ``hypothesis``, aligned once
    as a whole (so a word is credited to one turn only)."""
    import jiwer

    words = [normalise(t.reference).split() for t in turns]
    owner = [n for n, w in enumerate(words) for _ in w]
    hits = [0] * len(turns)
    aligned = jiwer.process_words(" ".join(" ".join(w) for w in words), normalise(hypothesis))
    for chunk in aligned.alignments[0]:
        if chunk.type == "equal":
            for i in range(chunk.ref_start_idx, chunk.ref_end_idx):
                hits[owner[i]] += 1
    return [h / len(w) for h, w in zip(hits, words, strict=True)]


class Transcribers:
    """The three ways of transcribing, sharing one loaded model."""

    def __init__(self, model: str, batched: bool) -> None:
        from infrastructure.whisper import EngineSettings, WhisperEngine

        def engine(level: bool) -> WhisperEngine:
            return WhisperEngine(
                EngineSettings(
                    default_model=model,
                    batched="on" if batched else "off",
                    level_speech=level,
                    models_dir=_models_dir(),
                )
            )

        self.before, self.after = engine(False), engine(True)
        loaded = self.after.model(model)
        self.before._models[model] = loaded  # one model in memory for all three
        self.whisper, self.batched = loaded.model, batched
        self.beam_size = self.after.settings.beam_size

    def bare(self, path: Path) -> str:
        from faster_whisper import BatchedInferencePipeline

        from infrastructure.whisper import BATCH_SIZE

        options: dict[str, Any] = {
            "beam_size": self.beam_size,
            "vad_filter": True,
            "word_timestamps": True,
            "condition_on_previous_text": False,
        }
        if self.batched:
            segments, _ = BatchedInferencePipeline(self.whisper).transcribe(
                str(path), batch_size=BATCH_SIZE, **options
            )
        else:
            segments, _ = self.whisper.transcribe(str(path), **options)
        return " ".join(s.text.strip() for s in segments)

    def ways(self) -> dict[str, Callable[[Path], str]]:
        return {
            "bare": self.bare,
            "before": lambda p: self.before.transcribe(p).text,
            "ovoz": lambda p: self.after.transcribe(p).text,
        }


def _models_dir() -> Path:
    from bench.transcription import _models_dir as models_dir

    return models_dir()


def measure(model: str, batched: bool, audio_dir: Path, workdir: Path) -> list[Row]:
    import jiwer

    mode = "batched" if batched else "sequential"
    ways = Transcribers(model, batched).ways()
    seconds = dict.fromkeys(ways, 0.0)

    def timed(way: str, path: Path) -> str:
        started = time.perf_counter()
        text = ways[way](path)
        seconds[way] += time.perf_counter() - started
        return text

    ways["ovoz"](audio_dir / "jfk.flac")  # warm up
    alone: dict[str, dict[str, str]] = {way: {} for way in ways}  # the clips by themselves
    for clip in clips(audio_dir):
        for way in ways:
            alone[way][clip["file"]] = timed(way, audio_dir / clip["file"])
    rows = []
    for name, spec in MIXES.items():
        turns = write_mix(spec, workdir / f"mix-{name}.wav", audio_dir)
        recall = {w: turn_recall(turns, timed(w, workdir / f"mix-{name}.wav")) for w in ways}
        ceiling = [turn_recall([t], alone["ovoz"][t.file])[0] for t in turns]
        rows.append(_recall_row(name, mode, turns, recall, ceiling))
    wer = {
        way: statistics.mean(
            float(jiwer.wer(normalise(c["reference_text"]), normalise(texts[c["file"]])))
            for c in clips(audio_dir)
        )
        for way, texts in alone.items()
    }
    rows.append(
        Row(
            f"WER, ordinary en+ru clips ({mode})",
            wer["ovoz"],
            wer["before"],
            wer["ovoz"] / wer["before"] if wer["before"] else float("nan"),
            "mean WER",
            f"{len(alone['ovoz'])} files; ovoz ÷ ovoz before (lower is better); "
            f"bare faster-whisper {wer['bare']:.3f}",
        )
    )
    rows.append(
        Row(
            f"transcription time, clips + mixes ({mode})",
            seconds["ovoz"],
            seconds["before"],
            seconds["ovoz"] / seconds["before"],
            "s",
            f"ovoz ÷ ovoz before; bare faster-whisper {seconds['bare']:.1f} s",
        )
    )
    return rows


def _recall_row(
    name: str, mode: str, turns: list[Turn], recall: dict[str, list[float]], ceiling: list[float]
) -> Row:
    def speaker(values: list[float], quiet: bool) -> float:
        picked = [
            (r, len(normalise(t.reference).split()))
            for r, t in zip(values, turns, strict=True)
            if bool(t.attenuation_db) == quiet
        ]
        return sum(r * n for r, n in picked) / sum(n for _, n in picked)

    def lost(way: str) -> str:
        quiet = [r for r, t in zip(recall[way], turns, strict=True) if t.attenuation_db]
        return f"{sum(r < LOST_BELOW for r in quiet)}/{len(quiet)}"

    quiet, bare = speaker(recall["ovoz"], True), speaker(recall["bare"], True)
    before = speaker(recall["before"], True)
    note = (
        f"{turns[-1].end:.0f} s, {len(turns)} turns; ovoz before {before:.2f};"
        f" the quiet clips alone at full level {speaker(ceiling, True):.2f}; quiet turns lost"
        f" ovoz {lost('ovoz')}, before {lost('before')}, bare {lost('bare')}; loud speaker"
        f" ovoz {speaker(recall['ovoz'], False):.2f}, before"
        f" {speaker(recall['before'], False):.2f}, bare {speaker(recall['bare'], False):.2f}"
    )
    return Row(
        f"quiet speaker word recall, mix {name} ({mode})",
        quiet,
        bare,
        quiet / bare if bare else float("inf"),
        "recall",
        note,
    )


def bench_quiet_speech(model: str = "base", audio_dir: Path = AUDIO_DIR) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="ovoz-quiet-") as tmp:
        return [
            *measure(model, True, audio_dir, Path(tmp)),
            *measure(model, False, audio_dir, Path(tmp)),
        ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--whisper-model", default="base")
    args = parser.parse_args(argv)
    print(table(bench_quiet_speech(args.whisper_model)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
