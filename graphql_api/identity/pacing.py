"""How sign-in work runs in the API: on threads of its own, failures answered on time.

Sign-in work (argon2, the challenge's events, the read-your-writes wait) blocks, so it runs
on threads. Starlette's ``run_in_threadpool`` draws on anyio's one default limiter (40
threads) that every other resolver also draws on: a flood of anonymous ``verifyOtp``
would hold all of them, and ``me`` would wait for a thread behind it. Sign-in work has a
limiter of its own instead, so a flood queues for *its* threads and reads keep theirs.

A failed ``verifyOtp`` is answered no sooner than ``failure_floor`` seconds after it
began, whatever failed: the wrong guess at a live code (an argon2 check and an event
written), the unknown number (a decoy argon2 check, nothing written), the locked client
(nothing at all). Otherwise the answer time tells who has a live code. The wait is an
``asyncio.sleep``: it holds no thread.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable
from functools import partial
from typing import TypeVar

import anyio.to_thread
from anyio import CapacityLimiter

_T = TypeVar("_T")


class SignInPacing:
    """The sign-in threads and the failure floor of one API process."""

    def __init__(
        self,
        threads: int = 8,
        failure_floor: float = 0.25,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.threads = threads
        self.failure_floor = failure_floor
        self._clock = clock
        self._sleep = sleep
        # anyio's limiters belong to the event loop they were made in; an app may be served
        # by several loops over its life (tests run one per request).
        self._limiters: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CapacityLimiter]
        self._limiters = weakref.WeakKeyDictionary()

    async def run(self, work: Callable[..., _T], *args: object) -> _T:
        """``work(*args)`` on a sign-in thread."""
        return await anyio.to_thread.run_sync(partial(work, *args), limiter=self._limiter())

    def started(self) -> float:
        """The moment a request began, for :meth:`fail_on_time`."""
        return self._clock()

    async def fail_on_time(self, started: float) -> None:
        """Wait until ``failure_floor`` seconds have passed since ``started``."""
        left = started + self.failure_floor - self._clock()
        if left > 0:
            await self._sleep(left)

    def _limiter(self) -> CapacityLimiter:
        loop = asyncio.get_running_loop()
        limiter = self._limiters.get(loop)
        if limiter is None:
            limiter = self._limiters[loop] = CapacityLimiter(self.threads)
        return limiter
