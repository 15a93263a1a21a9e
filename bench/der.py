"""Diarization error rate, as NIST's md-eval and pyannote.metrics define it: the share of
reference speech that is missed, falsely detected or given to the wrong speaker, under the
one-to-one mapping of hypothesis labels to reference speakers that makes it least; frames
within a collar of a reference boundary are not scored."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

FRAME = 0.01  # seconds


@dataclass(frozen=True)
class Turn:
    speaker: str
    start: float
    end: float


@dataclass(frozen=True)
class Score:
    missed: float  # seconds of reference speech with no hypothesis speaker
    false_alarm: float  # seconds of hypothesis speech where the reference has none
    confused: float  # seconds given to a speaker the mapping does not match
    total: float  # seconds of reference speech scored

    @property
    def rate(self) -> float:
        return (self.missed + self.false_alarm + self.confused) / self.total if self.total else 0.0


def _frames(turns: Sequence[Turn], speakers: list[str], count: int) -> np.ndarray:
    """frames x speakers: who speaks in each frame."""
    grid = np.zeros((count, len(speakers)), dtype=bool)
    for t in turns:
        grid[round(t.start / FRAME) : round(t.end / FRAME), speakers.index(t.speaker)] = True
    return grid


def der(reference: Sequence[Turn], hypothesis: Sequence[Turn], collar: float = 0.25) -> Score:
    end = max([t.end for t in [*reference, *hypothesis]], default=0.0)
    count = round(end / FRAME) + 1
    ref_speakers = sorted({t.speaker for t in reference})
    hyp_speakers = sorted({t.speaker for t in hypothesis})
    ref = _frames(reference, ref_speakers, count)
    hyp = _frames(hypothesis, hyp_speakers, count)
    scored = np.ones(count, dtype=bool)
    for t in reference:
        for edge in (t.start, t.end):
            scored[max(0, round((edge - collar) / FRAME)) : round((edge + collar) / FRAME)] = False
    ref, hyp = ref[scored], hyp[scored]
    ref_count, hyp_count = ref.sum(axis=1), hyp.sum(axis=1)
    missed = np.maximum(ref_count - hyp_count, 0).sum()
    false_alarm = np.maximum(hyp_count - ref_count, 0).sum()
    # Frames where both sides speak: matched speech under the best one-to-one mapping.
    overlap = ref.T.astype(np.int64) @ hyp.astype(np.int64)  # ref x hyp frames together
    best = 0
    slots = max(len(ref_speakers), len(hyp_speakers))
    padded = np.zeros((slots, slots), dtype=np.int64)
    padded[: overlap.shape[0], : overlap.shape[1]] = overlap
    for order in itertools.permutations(range(slots)):
        best = max(best, int(sum(padded[r, h] for r, h in enumerate(order))))
    confused = np.minimum(ref_count, hyp_count).sum() - best
    return Score(
        missed=float(missed) * FRAME,
        false_alarm=float(false_alarm) * FRAME,
        confused=float(confused) * FRAME,
        total=float(ref_count.sum()) * FRAME,
    )
