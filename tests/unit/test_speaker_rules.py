"""How speaker labelling cuts, clusters and splits (infrastructure.speakers), on made-up
voice prints and transcripts: no model, no audio files."""

from __future__ import annotations

from typing import Any

import numpy as np

from infrastructure.speakers import SAMPLE_RATE, _split, cluster, mel_frames, pieces


def words(*spans: tuple[float, float, str]) -> list[dict[str, Any]]:
    return [{"start": s, "end": e, "word": f" {w}", "probability": 0.9} for s, e, w in spans]


def test_a_segment_is_cut_into_stretches_and_at_every_pause() -> None:
    segment = {
        "start": 0.0,
        "end": 6.0,
        "text": "a b c d e",
        "words": words(
            (0.0, 0.8, "a"), (0.8, 1.6, "b"), (1.6, 2.0, "c"), (2.6, 3.4, "d"), (3.4, 6.0, "e")
        ),
    }
    bare = {"start": 7.0, "end": 9.0, "text": "f", "words": []}
    # 1.6-2.0 is too short to stand alone and joins 0-1.6; the pause before 2.6 cuts.
    assert pieces([segment, bare]) == [(0, 0.0, 2.0), (0, 2.6, 6.0), (1, 7.0, 9.0)]


def test_a_short_last_stretch_joins_the_one_before() -> None:
    segment = {
        "start": 0.0,
        "end": 2.0,
        "text": "a b",
        "words": words((0, 1.6, "a"), (1.6, 2.0, "b")),
    }
    assert pieces([segment]) == [(0, 0.0, 2.0)]


def _voices(rng: np.random.Generator, centres: np.ndarray, counts: list[int]) -> np.ndarray:
    prints = []
    for centre, count in zip(centres, counts, strict=True):
        for _ in range(count):
            p = centre + rng.normal(0, 0.08, size=centre.shape)
            prints.append(p / np.linalg.norm(p))
    return np.array(prints)


def test_clustering_finds_how_many_voices_there_are() -> None:
    rng = np.random.default_rng(7)
    centres = np.abs(rng.normal(size=(3, 64)))
    centres[:, :] *= rng.random((3, 64)) > 0.5  # three sparse, different voices
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    prints = _voices(rng, centres, [6, 5, 4])
    labels = cluster(prints)
    assert len(set(labels)) == 3
    assert len(set(labels[:6])) == len(set(labels[6:11])) == len(set(labels[11:])) == 1


def test_one_voice_is_one_speaker_and_nothing_is_nothing() -> None:
    rng = np.random.default_rng(3)
    centre = np.abs(rng.normal(size=(1, 64)))
    centre /= np.linalg.norm(centre)
    assert set(cluster(_voices(rng, centre, [12]))) == {0}
    assert cluster(np.zeros((0, 64))) == []


def test_a_segment_is_split_where_its_speaker_changes() -> None:
    segment = {
        "id": 4,
        "start": 0.0,
        "end": 4.2,
        "text": "Hello there. Hi!",
        "avg_logprob": -0.2,
        "words": words((0.1, 0.6, "Hello"), (0.6, 1.2, "there."), (2.0, 4.0, "Hi!")),
    }
    parts = _split(segment, [(0.1, 1.2, "S1"), (2.0, 4.0, "S2")])
    assert [(p["speaker"], p["start"], p["end"], p["text"]) for p in parts] == [
        ("S1", 0.0, 1.2, "Hello there."),
        ("S2", 2.0, 4.2, "Hi!"),
    ]
    assert all(p["avg_logprob"] == -0.2 for p in parts)
    same = _split(segment, [(0.1, 1.2, "S1"), (2.0, 4.0, "S1")])
    assert len(same) == 1
    assert same[0]["speaker"] == "S1"
    assert same[0]["text"] == "Hello there. Hi!"


def test_mel_frames_put_a_tone_in_its_band_every_10_ms() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    frames = mel_frames(tone)
    assert frames.shape == (1 + SAMPLE_RATE // 160, 40)
    loudest = int(np.argmax(frames[50]))
    # 1 kHz is mel 15 of the 45.25 that 8 kHz is; 40 bands centred every 1.1: band 13.
    assert loudest == 13
