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


TWO_PER_SECOND = Speed(0.0, 2.0)  # the speed the ETA tests assume


def _throughput(running: list[RunningJob] | None = None, workers: int = 1) -> Throughput:
    return Throughput([], running or [], workers)


def test_with_no_history_the_prior_is_used() -> None:
    speed = fitted_speed([])
    assert speed.overhead == pytest.approx(PRIOR.overhead)
    assert speed.rate == pytest.approx(PRIOR.rate)


def test_a_long_history_outweighs_the_prior() -> None:
    history = [(d, 3.0 + 0.2 * d) for d in (5.0, 30.0, 60.0, 600.0, 900.0) * 4]
    speed = fitted_speed(history)
    for seconds in (300.0, 900.0):
        assert speed.job_seconds(seconds) == pytest.approx(3.0 + 0.2 * seconds, rel=0.05)


def test_short_clips_alone_do_not_make_a_long_file_look_instant() -> None:
    # Each clip took about 3 s whatever its length: noise says nothing of the rate.
    history = [(2.9, 3.4), (11.0, 3.1), (5.7, 3.6), (8.7, 2.9), (10.4, 3.0), (3.3, 3.3)]
    assert fitted_speed(history).job_seconds(600.0) > 0.5 * PRIOR.job_seconds(600.0)


def test_a_fit_that_would_start_below_zero_goes_through_the_origin() -> None:
    history = [(500.0, 1.0), (1000.0, 500.0)] * 10
    speed = fitted_speed(history)
    assert speed.overhead == 0.0
    assert speed.rate > 0


def test_the_first_in_line_waits_only_for_the_running_jobs() -> None:
    running = [RunningJob(audio_seconds=10.0, progress=0.5)]
    throughput = _throughput(running)
    assert estimate(
        QUEUED, 4.0, None, Standing(1, 0.0), throughput, speed=TWO_PER_SECOND
    ) == QueueEstimate(1, 18.0)


def test_the_work_ahead_is_shared_among_the_live_workers() -> None:
    throughput = _throughput(workers=2)
    standing = Standing(position=3, audio_seconds_ahead=6.0)  # two jobs ahead: 12 s of work
    assert estimate(QUEUED, 4.0, None, standing, throughput, speed=TWO_PER_SECOND) == QueueEstimate(
        3, 6.0 + 8.0
    )


def test_a_job_in_back_off_waits_at_least_until_it_ends() -> None:
    standing = Standing(position=1, audio_seconds_ahead=0.0, ready_in=60.0)
    assert estimate(
        QUEUED, 1.0, None, standing, _throughput(), speed=TWO_PER_SECOND
    ) == QueueEstimate(1, 62.0)


def test_a_running_job_has_no_position_and_what_is_left_of_its_own_time() -> None:
    assert estimate(
        PROCESSING, 10.0, 0.25, None, _throughput(), speed=TWO_PER_SECOND
    ) == QueueEstimate(None, 15.0)


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
