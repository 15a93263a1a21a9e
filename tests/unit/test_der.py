"""The diarization error rate of bench/der.py on cases worked out by hand."""

from __future__ import annotations

import pytest

from bench.der import Turn, der

REFERENCE = [Turn("a", 0.0, 10.0), Turn("b", 10.0, 20.0), Turn("a", 20.0, 30.0)]


def test_a_perfect_hypothesis_under_other_names_scores_zero() -> None:
    hypothesis = [Turn("S2", 0.0, 10.0), Turn("S1", 10.0, 20.0), Turn("S2", 20.0, 30.0)]
    assert der(REFERENCE, hypothesis, collar=0).rate == 0.0


def test_one_speaker_for_everything_confuses_the_minority() -> None:
    score = der(REFERENCE, [Turn("S1", 0.0, 30.0)], collar=0)
    assert score.confused == pytest.approx(10.0)
    assert score.missed == score.false_alarm == 0
    assert score.rate == pytest.approx(1 / 3)


def test_missed_and_falsely_detected_speech_are_counted() -> None:
    hypothesis = [Turn("x", 0.0, 5.0), Turn("y", 10.0, 20.0), Turn("x", 20.0, 35.0)]
    score = der(REFERENCE, hypothesis, collar=0)
    assert score.missed == pytest.approx(5.0)
    assert score.false_alarm == pytest.approx(5.0)
    assert score.confused == pytest.approx(0.0)
    assert score.rate == pytest.approx(10 / 30)


def test_too_many_speakers_costs_what_the_extra_one_holds() -> None:
    hypothesis = [Turn("S1", 0.0, 10.0), Turn("S2", 10.0, 20.0), Turn("S3", 20.0, 30.0)]
    assert der(REFERENCE, hypothesis, collar=0).confused == pytest.approx(10.0)


def test_the_collar_forgives_boundaries() -> None:
    late = [Turn("S1", 0.0, 10.2), Turn("S2", 10.2, 20.0), Turn("S1", 20.0, 30.0)]
    assert der(REFERENCE, late, collar=0).rate > 0
    assert der(REFERENCE, late, collar=0.25).rate == 0.0
