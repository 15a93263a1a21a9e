"""Levelling speech regions: which are raised, by how much, and what stays untouched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infrastructure.config import Settings
from infrastructure.levelling import MAX_GAIN_DB, PEAK_CEILING, SAMPLE_RATE, levelled
from infrastructure.whisper import EngineSettings


def voice(seconds: float, amplitude: float, seed: int = 0) -> np.ndarray:
    """Speech-like: noise under a 4 Hz syllable envelope."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    noise = np.random.default_rng(seed).normal(0, 1, len(t))
    return (amplitude * noise * (0.55 + 0.45 * np.sin(2 * np.pi * 4 * t))).astype(np.float32)


def joined(*parts: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    spans, at = [], 0
    for part in parts:
        if part.any():
            spans.append((at, at + len(part)))
        at += len(part)
    return np.concatenate(parts), spans


def gap(seconds: float = 1.0) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.float32)


def test_a_region_20_db_below_its_neighbour_is_raised_to_its_level() -> None:
    audio, spans = joined(voice(3, 0.1), gap(), voice(3, 0.01, seed=1))
    out, regions = levelled(audio, spans)
    assert not regions[0].raised
    assert regions[1].gain == pytest.approx(10, rel=0.1)
    loud, quiet = out[slice(*spans[0])], out[slice(*spans[1])]
    assert np.array_equal(loud, audio[slice(*spans[0])])
    assert np.sqrt(np.mean(quiet**2)) == pytest.approx(np.sqrt(np.mean(loud**2)), rel=0.15)
    assert not out[spans[0][1] : spans[1][0]].any(), "silence stays silent"
    middle = spans[1][0] + SAMPLE_RATE
    assert out[middle] == pytest.approx(audio[middle] * regions[1].gain)
    assert audio[middle] == pytest.approx(voice(3, 0.01, seed=1)[SAMPLE_RATE]), "input kept"


def test_speech_at_one_level_is_left_as_it_is() -> None:
    audio, spans = joined(voice(3, 0.1), gap(), voice(3, 0.07, seed=1), gap(), voice(2, 0.12, 2))
    out, regions = levelled(audio, spans)
    assert out is audio
    assert not any(r.raised for r in regions)


def test_gain_is_bounded_and_nothing_clips() -> None:
    audio, spans = joined(voice(3, 0.25), gap(), voice(3, 0.0001, seed=1))
    out, regions = levelled(audio, spans)
    assert regions[1].gain == pytest.approx(10 ** (MAX_GAIN_DB / 20), rel=0.01)
    spiky = voice(3, 0.005, seed=3)
    spiky[SAMPLE_RATE] = 0.5  # a click inside a quiet region caps its gain
    audio, spans = joined(voice(3, 0.25), gap(), spiky)
    out, regions = levelled(audio, spans)
    assert 1.0 < regions[1].gain <= PEAK_CEILING / 0.5 + 1e-6
    assert np.max(np.abs(out)) <= max(PEAK_CEILING, float(np.max(np.abs(audio))))


def test_a_short_loud_burst_sets_no_reference() -> None:
    audio, spans = joined(voice(0.5, 0.5), gap(), voice(3, 0.02, seed=1), gap(), voice(3, 0.02, 2))
    _, regions = levelled(audio, spans)
    assert not any(r.raised for r in regions)


def test_only_speech_within_30_s_is_compared() -> None:
    audio, spans = joined(voice(3, 0.1), gap(40), voice(3, 0.01, seed=1))
    _, regions = levelled(audio, spans)
    assert not regions[1].raised


def test_gain_fades_in_and_out_at_the_region_edges() -> None:
    audio, spans = joined(voice(2, 0.1), gap(), np.full(SAMPLE_RATE, 0.01, dtype=np.float32))
    out, regions = levelled(audio, spans)
    quiet = out[slice(*spans[1])]
    assert quiet[0] == pytest.approx(0.01)
    assert quiet[-1] == pytest.approx(0.01)
    assert quiet[len(quiet) // 2] == pytest.approx(0.01 * regions[1].gain)
    assert np.max(np.abs(np.diff(quiet))) < 0.01 * regions[1].gain / 50


def test_no_regions_no_change() -> None:
    audio = gap(2)
    out, regions = levelled(audio, [])
    assert out is audio
    assert regions == []


def test_a_scrap_touching_a_raised_region_is_raised_with_it() -> None:
    loud, scrap, quiet = voice(3, 0.1), voice(0.2, 0.01, seed=1), voice(2, 0.01, seed=2)
    audio, _ = joined(loud, gap(), scrap, quiet)
    at = len(loud) + SAMPLE_RATE
    spans = [(0, len(loud)), (at, at + len(scrap)), (at + len(scrap), len(audio))]
    out, regions = levelled(audio, spans)
    assert regions[2].raised
    assert regions[1].gain == pytest.approx(regions[2].gain)
    boundary = at + len(scrap)
    assert out[boundary] == pytest.approx(audio[boundary] * regions[2].gain), "no dip between"


def test_a_scrap_touching_loud_speech_stays_as_it_is() -> None:
    scrap, loud = voice(0.3, 0.002, seed=1), voice(3, 0.1)
    audio = np.concatenate([scrap, loud])
    _, regions = levelled(audio, [(0, len(scrap)), (len(scrap), len(audio))])
    assert not any(r.raised for r in regions)


@pytest.mark.parametrize(("value", "on"), [(None, True), ("off", False), ("on", True)])
def test_levelling_is_on_unless_turned_off(value: str | None, on: bool, tmp_path: Path) -> None:
    env = {"OVOZ_VAR_DIR": str(tmp_path / "var")}
    if value is not None:
        env["WHISPER_LEVEL_SPEECH"] = value
    assert EngineSettings.from_settings(Settings.from_env(env)).level_speech is on
