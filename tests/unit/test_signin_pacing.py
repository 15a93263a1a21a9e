"""SignInPacing: failures wait out the floor from the request's start; work runs on
sign-in threads of its own."""

from __future__ import annotations

import asyncio
import threading

import pytest

from graphql_api.identity.pacing import SignInPacing


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_every_failure_ends_at_the_same_moment_after_its_start() -> None:
    clock = FakeClock()
    pacing = SignInPacing(failure_floor=0.25, clock=clock, sleep=clock.sleep)

    async def fail_after(work: float) -> float:
        started = pacing.started()
        clock.now += work  # the path's own work: a lookup, argon2, an event written
        await pacing.fail_on_time(started)
        return clock.now - started

    answered = [asyncio.run(fail_after(work)) for work in (0.0, 0.004, 0.031, 0.2)]
    assert answered == pytest.approx([0.25, 0.25, 0.25, 0.25])


def test_a_failure_slower_than_the_floor_does_not_wait_more() -> None:
    clock = FakeClock()
    pacing = SignInPacing(failure_floor=0.25, clock=clock, sleep=clock.sleep)

    async def slow() -> None:
        started = pacing.started()
        clock.now += 0.4
        await pacing.fail_on_time(started)

    asyncio.run(slow())
    assert clock.slept == []


def test_sign_in_work_runs_at_most_threads_at_once_and_in_every_event_loop() -> None:
    pacing = SignInPacing(threads=3, failure_floor=0)
    lock = threading.Lock()
    running, most = [0], [0]

    def work(n: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        threading.Event().wait(0.02)
        with lock:
            running[0] -= 1
        return n * 2

    async def burst() -> list[int]:
        return list(await asyncio.gather(*(pacing.run(work, n) for n in range(12))))

    for _ in range(2):  # a second loop gets a limiter of its own, not the first one's
        assert asyncio.run(burst()) == [n * 2 for n in range(12)]
    assert most[0] == 3
