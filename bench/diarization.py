"""Speaker labels: diarization error rate (DER) on conversations built from the shared clips,
and what labelling costs beside the transcription itself.

``python -m bench --only speakers`` (or ``python -m bench.diarization``). Each conversation
interleaves turns cut from clips of 2 or 3 different speakers (each clip cut in three at its
quietest moments near the thirds), with 0.2 s between turns ("back to back") or 1.0 s
("with pauses"). The reference is each turn's span trimmed to its voiced part; the
hypothesis is ovoz's: the real engine's segments with the labels ``infrastructure.speakers``
gives them. DER = (missed + false alarm + confused speech) / reference speech, scored on
10-ms frames with a 0.25-s collar around reference boundaries and the best mapping of
labels to speakers (``bench.der``, tested in tests/unit/test_der.py). The baseline of the
time row is the transcription of the same files.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import tempfile
import time
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.der import Turn, der
from bench.report import Row, table
from bench.transcription import AUDIO_DIR

SAMPLE_RATE = 16_000
#: (name, files of different speakers, one per speaker)
CONVERSATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("2 speakers: JFK / LibriSpeech 2412", ("jfk.flac", "en_lhotse_2412-153948-0000.flac")),
    (
        "2 speakers: LibriSpeech 1995 / 1089",
        ("en_wenet_librispeech-1995-1837-0001.wav", "en_librispeech_1089-134686-0000.flac"),
    ),
    (
        "3 speakers: JFK / 1995 / 2412",
        (
            "jfk.flac",
            "en_wenet_librispeech-1995-1837-0001.wav",
            "en_lhotse_2412-153948-0000.flac",
        ),
    ),
    (
        "3 speakers: 1089 / 2412 / Uzbek",
        (
            "en_librispeech_1089-134686-0000.flac",
            "en_lhotse_2412-153948-0000.flac",
            "uz_usc_1126542829_1_33727_1.wav",
        ),
    ),
)
GAPS = (("back to back", 0.2), ("with pauses", 1.0))


@dataclass(frozen=True)
class Conversation:
    path: Path
    turns: list[Turn]


def _thirds(clip: np.ndarray) -> list[np.ndarray]:
    """The clip cut in three at the quietest 50 ms within 1 s of each third."""
    frame = SAMPLE_RATE // 20
    cuts = [0]
    for target in (len(clip) // 3, 2 * len(clip) // 3):
        lo, hi = (
            max(cuts[-1] + frame, target - SAMPLE_RATE),
            min(len(clip) - frame, target + SAMPLE_RATE),
        )
        starts = list(range(lo, hi, frame // 2))
        energy = [float(np.mean(np.square(clip[s : s + frame]))) for s in starts]
        cuts.append(starts[int(np.argmin(energy))] + frame // 2)
    cuts.append(len(clip))
    return [clip[a:b] for a, b in itertools.pairwise(cuts)]


def _voiced(part: np.ndarray) -> tuple[int, int]:
    """First and last sample of the part louder than 35 dB below its peak (10-ms frames)."""
    frame = SAMPLE_RATE // 100
    levels = np.array(
        [
            float(np.sqrt(np.mean(np.square(part[i : i + frame]))))
            for i in range(0, len(part) - frame, frame)
        ]
    )
    loud = np.nonzero(levels > levels.max() * 10 ** (-35 / 20))[0]
    return int(loud[0] * frame), int((loud[-1] + 1) * frame)


def build(files: Sequence[str], gap: float, target: Path) -> Conversation:
    from faster_whisper import decode_audio

    parts = [_thirds(decode_audio(str(AUDIO_DIR / f), sampling_rate=SAMPLE_RATE)) for f in files]
    silence = np.zeros(int(gap * SAMPLE_RATE), dtype=np.float32)
    pieces: list[np.ndarray] = []
    turns: list[Turn] = []
    at = 0
    for n in range(3):
        for speaker, speaker_parts in enumerate(parts):
            part = speaker_parts[n]
            first, last = _voiced(part)
            turns.append(
                Turn(f"spk{speaker}", (at + first) / SAMPLE_RATE, (at + last) / SAMPLE_RATE)
            )
            pieces += [part, silence]
            at += len(part) + len(silence)
    pcm = (np.clip(np.concatenate(pieces), -1, 1) * 32767).astype("<i2")
    with wave.open(str(target), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return Conversation(target, turns)


def spoken_turns(segments: list[dict[str, Any]], pause: float = 0.5) -> list[Turn]:
    """Who speaks when, as the labelled transcript says: each segment's words, joined
    where less than ``pause`` apart (a segment without words: its whole span)."""
    turns: list[Turn] = []
    for s in segments:
        speaker = s.get("speaker")
        if not speaker:
            continue
        spans = [(float(w["start"]), float(w["end"])) for w in s.get("words") or []]
        for start, end in spans or [(float(s["start"]), float(s["end"]))]:
            last = turns[-1] if turns else None
            if last is not None and last.speaker == speaker and start - last.end < pause:
                turns[-1] = Turn(speaker, last.start, max(last.end, end))
            else:
                turns.append(Turn(speaker, start, end))
    return turns


def measure() -> list[Row]:
    from infrastructure.config import Settings
    from infrastructure.speakers import encoder, label_speakers
    from infrastructure.whisper import WhisperEngine

    voice = encoder()
    if voice is None:
        raise RuntimeError("the resemblyzer wheel is not installed: ./dev installs it")
    engine = WhisperEngine(Settings.from_env({}))
    rows = []
    labelling = transcribing = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for gap_name, gap in GAPS:
            scores = []
            for name, files in CONVERSATIONS:
                talk = build(files, gap, Path(tmp) / "talk.wav")
                started = time.perf_counter()
                facts = engine.transcribe(talk.path, None)
                transcribing += time.perf_counter() - started
                from faster_whisper import decode_audio

                audio = decode_audio(str(talk.path), sampling_rate=SAMPLE_RATE)
                started = time.perf_counter()
                labelled = label_speakers(audio, facts.segments, voice)
                labelling += time.perf_counter() - started
                hypothesis = spoken_turns(labelled)
                score = der(talk.turns, hypothesis)
                found = len({t.speaker for t in hypothesis})
                scores.append(score.rate)
                rows.append(
                    Row(
                        f"DER, {name}, {gap_name}",
                        score.rate,
                        None,
                        None,
                        "share",
                        f"{found} speakers found of {len(files)}; missed {score.missed:.1f} s, "
                        f"false alarm {score.false_alarm:.1f} s, confused {score.confused:.1f} s "
                        f"of {score.total:.1f} s",
                    )
                )
            rows.append(
                Row(
                    f"DER, mean ({gap_name})",
                    statistics.mean(scores),
                    None,
                    None,
                    "share",
                    "target ≤ 0.15",
                )
            )
    rows.append(
        Row(
            "speaker labelling time vs transcription",
            labelling,
            transcribing,
            labelling / transcribing,
            "s",
            "the same conversations; labelling ÷ transcribing",
        )
    )
    return rows


def bench_speakers() -> list[Row]:
    if not (AUDIO_DIR / "manifest.csv").exists():
        print(f"no shared audio at {AUDIO_DIR}", file=sys.stderr)
        return []
    return measure()


def main(argv: Sequence[str] | None = None) -> int:
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    print(table(bench_speakers()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
