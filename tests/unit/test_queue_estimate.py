"""The queue's arithmetic: the speed fitted to recent jobs, and the ETA rules."""

from __future__ import annotations

import pytest

from domain.recordings import TranscriptionStatus
from projections.queue import (
    PRIOR,
    QueueEstimate,
    RunningJob,
    Speed,
    Standing,
    Throughput,
    estimate,
    fitted_speed,
)

QUEUED, PROCESSING = TranscriptionStatus.QUEUED, TranscriptionStatus.PROCESSING


def _throughput(
    history: list[tuple[float, float]] | None = None,
    running: list[RunningJob] | None = None,
    workers: int = 1,
) -> Throughput:
    return Throughput(history or [], running or [], workers)


def test_with_no_history_the_prior_is_used() -> None:
    assert fitted_speed([]) == PRIOR


def test_an_overhead_and_a_rate_are_told_apart_when_durations_differ() -> None:
    history = [(d, 3.0 + 0.2 * d) for d in (5.0, 30.0, 60.0, 600.0)]
    speed = fitted_speed(history)
    assert speed.overhead == pytest.approx(3.0)
    assert speed.rate == pytest.approx(0.2)


def test_alike_durations_give_a_plain_ratio() -> None:
    assert fitted_speed([(10.0, 4.0), (10.0, 6.0)]) == Speed(0.0, 0.5)


def test_a_fit_that_would_make_the_overhead_negative_falls_back_to_the_ratio() -> None:
    history = [(10.0, 0.5), (100.0, 50.0), (200.0, 110.0)]
    speed = fitted_speed(history)
    assert speed.overhead == 0.0
    assert speed.rate == pytest.approx(160.5 / 310.0)


def test_the_first_in_line_waits_only_for_the_running_jobs() -> None:
    running = [RunningJob(audio_seconds=10.0, progress=0.5)]
    throughput = _throughput([(10.0, 20.0)], running)  # 2 s a second, no overhead
    assert estimate(QUEUED, 4.0, None, Standing(1, 0.0), throughput) == QueueEstimate(1, 18.0)


def test_the_work_ahead_is_shared_among_the_live_workers() -> None:
    throughput = _throughput([(10.0, 20.0)], workers=2)
    standing = Standing(position=3, audio_seconds_ahead=6.0)  # two jobs ahead: 12 s of work
    assert estimate(QUEUED, 4.0, None, standing, throughput) == QueueEstimate(3, 6.0 + 8.0)


def test_a_job_in_back_off_waits_at_least_until_it_ends() -> None:
    throughput = _throughput([(10.0, 20.0)])
    standing = Standing(position=1, audio_seconds_ahead=0.0, ready_in=60.0)
    assert estimate(QUEUED, 1.0, None, standing, throughput) == QueueEstimate(1, 62.0)


def test_a_running_job_has_no_position_and_what_is_left_of_its_own_time() -> None:
    throughput = _throughput([(10.0, 20.0)])
    assert estimate(PROCESSING, 10.0, 0.25, None, throughput) == QueueEstimate(None, 15.0)


def test_a_queued_recording_with_no_live_worker_has_a_position_but_no_eta() -> None:
    throughput = _throughput(workers=0)
    assert estimate(QUEUED, 1.0, None, Standing(2, 1.0), throughput) == QueueEstimate(2, None)


@pytest.mark.parametrize(
    "status",
    [TranscriptionStatus.COMPLETED, TranscriptionStatus.FAILED, TranscriptionStatus.CANCELLED],
)
def test_finished_recordings_have_neither(status: TranscriptionStatus) -> None:
    assert estimate(status, 1.0, 1.0, Standing(1, 0.0), _throughput()) == QueueEstimate(None, None)


def test_a_queued_recording_a_worker_holds_has_no_position() -> None:
    assert estimate(QUEUED, 1.0, None, None, _throughput()) == QueueEstimate(None, None)
