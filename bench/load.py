"""A bounded closed-loop load: ``concurrency`` clients, each doing one operation after
another, until ``count`` operations are done or ``seconds`` have passed."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

Operation = Callable[[httpx.AsyncClient, int], Awaitable[None]]


@dataclass(frozen=True)
class Throughput:
    done: int
    seconds: float
    errors: list[str]

    @property
    def per_second(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0


class OperationFailed(Exception):
    """The server answered, but not what the operation expects."""


async def _drive(
    base_url: str, operation: Operation, count: int, concurrency: int, seconds: float, start: int
) -> Throughput:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    next_index = iter(range(start, start + count))
    done = 0
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30.0) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def loop() -> None:
            nonlocal done
            for i in next_index:
                if time.perf_counter() >= deadline:
                    return
                try:
                    await operation(client, i)
                except (OperationFailed, httpx.HTTPError) as e:
                    errors.append(f"#{i}: {type(e).__name__}: {e}")
                else:
                    done += 1

        await asyncio.gather(*(loop() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return Throughput(done=done, seconds=elapsed, errors=errors)


def measure(
    base_url: str,
    operation: Operation,
    *,
    count: int,
    concurrency: int,
    seconds: float,
    start: int = 0,
) -> Throughput:
    """Operations get the indices ``start``, ``start + 1``, ... (at most ``count``)."""
    return asyncio.run(_drive(base_url, operation, count, concurrency, seconds, start))
