"""Where a recording stands in the transcription queue, and when it should be done.

The position is 1-based among the jobs a worker would claim, in the order it claims them
(``JobsView.claim``: ``available_at, created_at``): every QUEUED job whose lease nobody
holds, including one whose retry back-off has not run out yet (it stands where its
``available_at`` puts it; uploads that arrive before the back-off ends go ahead of it). A
job a worker holds has no position.

The ETA is a model of this deployment's speed, fitted to its most recent completed jobs
(``TranscriptionCompleted`` carries the processing seconds): a job of ``d`` audio seconds
takes ``overhead + rate * d`` seconds. Before a recording starts it waits for the work
ahead of it (what the running jobs have left and the jobs queued before it) shared among
the live workers, or for its back-off to end if that is later.

Here: the port the API and the live events read through, and the pure arithmetic. The
PostgreSQL view is ``infrastructure.views.queue.QueueView``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from domain.recordings import TranscriptionStatus

# The payload of the notice (on the audio events channel) that says the queue moved: a job
# was queued, claimed, given up or ended.
QUEUE_MOVED = '{"queue_moved": true}'

# How many completed jobs the speed is fitted to: recent enough to follow a change of model
# or machine within a few jobs, enough to smooth one odd file.
HISTORY = 20
# Before a deployment has history: faster-whisper *base*, batched (the CPU default), on two
# shared CPU cores takes about 2.5 s to decode and set up a file and 0.08 s per audio
# second (bench/eta.py, 2026-12); rounded up, as an estimate is better long than short.
PRIOR_OVERHEAD_SECONDS = 2.5
PRIOR_RATE = 0.1
# The prior also weighs in once there is history, as two jobs that took what it says, one
# short and one long: a history of short clips alone cannot tell the rate from the
# overhead, and a fit to it alone extrapolates wildly to an hour-long file (it did, by 4x).
PRIOR_AT_SECONDS = (10.0, 600.0)


@dataclass(frozen=True)
class Standing:
    """A waiting job's place: its position, the audio seconds of the jobs queued before
    it, and how long until its back-off ends (0 when it is ready)."""

    position: int
    audio_seconds_ahead: float
    ready_in: float = 0.0


@dataclass(frozen=True)
class Speed:
    """Seconds a job takes: ``overhead + rate * audio seconds``."""

    overhead: float
    rate: float

    def job_seconds(self, audio_seconds: float) -> float:
        return self.overhead + self.rate * max(audio_seconds, 0.0)


PRIOR = Speed(PRIOR_OVERHEAD_SECONDS, PRIOR_RATE)


@dataclass(frozen=True)
class RunningJob:
    audio_seconds: float
    progress: float  # 0..1, as the worker last reported it


@dataclass(frozen=True)
class Throughput:
    """What the whole queue shares: recent jobs (audio seconds, processing seconds), the
    jobs running now, and how many workers are alive."""

    history: Sequence[tuple[float, float]]
    running: Sequence[RunningJob]
    workers: int

    @property
    def speed(self) -> Speed:
        return fitted_speed(self.history)

    def seconds_left_running(self, speed: Speed) -> float:
        return sum(
            speed.job_seconds(r.audio_seconds) * (1 - _fraction(r.progress)) for r in self.running
        )


@dataclass(frozen=True)
class QueueSnapshot:
    """The standings of the recordings asked about that are waiting (absent: not waiting),
    with the throughput they were read with, from one consistent read."""

    standings: dict[UUID, Standing]
    throughput: Throughput


@dataclass(frozen=True)
class QueueEstimate:
    position: int | None
    eta_seconds: float | None


class QueueReads(Protocol):
    """What the API and the live events read of the queue."""

    def snapshot(
        self, audio_ids: Iterable[UUID] = (), owner_ids: Iterable[UUID] = ()
    ) -> tuple[QueueSnapshot, dict[UUID, UUID]]:
        """The standings of the waiting recordings among ``audio_ids`` and those of
        ``owner_ids`` (with each one's owner), in one read whatever their number."""

    def in_flight(self, owner_id: UUID | None) -> bool:
        """Whether ``owner_id`` (None: anyone) has a recording waiting or being transcribed."""


def fitted_speed(history: Sequence[tuple[float, float]]) -> Speed:
    """Least squares of processing seconds on audio seconds over ``history`` and the prior's
    two jobs (so the prior alone when there is no history); through the origin if the
    line would start below zero."""
    points = [(a, p) for a, p in history if a > 0 and p >= 0]
    points += [(a, PRIOR.job_seconds(a)) for a in PRIOR_AT_SECONDS]
    n = len(points)
    mean_a = sum(a for a, _ in points) / n
    mean_p = sum(p for _, p in points) / n
    spread = sum((a - mean_a) ** 2 for a, _ in points)
    rate = sum((a - mean_a) * (p - mean_p) for a, p in points) / spread
    overhead = mean_p - rate * mean_a
    if rate > 0 and overhead >= 0:
        return Speed(overhead, rate)
    return Speed(0.0, sum(p for _, p in points) / sum(a for a, _ in points))


def estimate(
    status: TranscriptionStatus,
    audio_seconds: float | None,
    progress: float | None,
    standing: Standing | None,
    throughput: Throughput,
    *,
    speed: Speed | None = None,
) -> QueueEstimate:
    """The position and ETA of one recording (at ``speed``, else the one fitted to the
    throughput's history). Null ETA: finished, unknown duration, or a waiting job with no
    live worker to take it."""
    duration = audio_seconds or 0.0
    speed = speed or throughput.speed
    if status is TranscriptionStatus.PROCESSING:
        if audio_seconds is None:
            return QueueEstimate(None, None)
        return QueueEstimate(None, _round(speed.job_seconds(duration) * (1 - _fraction(progress))))
    if status is not TranscriptionStatus.QUEUED or standing is None:
        return QueueEstimate(None, None)
    if throughput.workers < 1 or audio_seconds is None:
        return QueueEstimate(standing.position, None)
    ahead = throughput.seconds_left_running(speed) + (
        (standing.position - 1) * speed.overhead + speed.rate * standing.audio_seconds_ahead
    )
    wait = max(ahead / throughput.workers, standing.ready_in)
    return QueueEstimate(standing.position, _round(wait + speed.job_seconds(duration)))


def _fraction(progress: float | None) -> float:
    return min(max(progress or 0.0, 0.0), 1.0)


def _round(seconds: float) -> float:
    return round(seconds, 1)
