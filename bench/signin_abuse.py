"""Sign-in under abuse: does verifyOtp's answer time say whether a number has a live
code, and does a flood of verifyOtp starve everyone else's reads?

``python -m bench --only signin-abuse`` (or ``python -m bench.signin_abuse`` alone).
Both run against the bench's ovoz server (``bench.servers``), built as ``ovoz serve``
builds it, in a process of its own.

- **timing**: sequential, interleaved pairs (order shuffled per pair) of a wrong code
  for a number with a live code and a code for a number that never asked for one. The
  row is the mean difference (live - unknown, ms) and its Welch z; an attacker who can
  tell the two apart learns which numbers are signing in. |z| < 2 is no evidence of a
  difference; the figures are per run, compare before/after in one place.
- **flood**: `me` latency (median of sequential queries) while ``--flood`` clients keep
  sending verifyOtp for unknown numbers, against `me` on the same idle server just
  before. The ratio is the slowdown a sign-in flood inflicts on reads.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from bench.database import DEFAULT_URL, bench_database
from bench.entries import _ME, _VERIFY, TEST_CODE, phones
from bench.harness import free_port
from bench.load import OperationFailed
from bench.recordings import sign_in
from bench.report import Row, table
from bench.servers import ServerProcess
from infrastructure.config import Settings

_SEND = "mutation($p: String!) { sendOtp(phoneNumber: $p) { __typename } }"
#: Wrong guesses per live code: below every per-code and per-client limit, so that each
#: one is judged against the live code.
_GUESSES_PER_CODE = 4
_READER = phones(8_000_001, 1)[0]
_WRONG = f"{(int(TEST_CODE) + 1) % 10**6:06d}"
_PAUSE = 0.1  # between `me` samples: they spread over seconds of the flood


@dataclass(frozen=True)
class Comparison:
    """Two samples of durations (seconds) and Welch's z for their means."""

    a: list[float]
    b: list[float]

    @property
    def difference_ms(self) -> float:
        return (statistics.fmean(self.a) - statistics.fmean(self.b)) * 1000

    @property
    def z(self) -> float:
        spread = math.sqrt(
            statistics.variance(self.a) / len(self.a) + statistics.variance(self.b) / len(self.b)
        )
        return (statistics.fmean(self.a) - statistics.fmean(self.b)) / spread if spread else 0.0


def _timed_verify(client: httpx.Client, phone: str, code: str, expected: str) -> float:
    started = time.perf_counter()
    variables = {"p": phone, "c": code}
    response = client.post("/graphql", json={"query": _VERIFY, "variables": variables})
    took = time.perf_counter() - started
    answer = response.json()["data"]["verifyOtp"]["__typename"]
    if answer != expected:
        raise OperationFailed(f"verifyOtp {phone}: {answer}, expected {expected}")
    return took


def measure_timing(url: str, live_phones: Sequence[str], unknown: Sequence[str]) -> Comparison:
    """Wrong code against a live code vs any code for an unknown number, interleaved."""
    rng = random.Random(7)
    live: list[float] = []
    absent: list[float] = []
    with httpx.Client(base_url=url, timeout=60.0) as client:
        for phone in live_phones:
            sent = client.post("/graphql", json={"query": _SEND, "variables": {"p": phone}})
            if sent.json()["data"]["sendOtp"]["__typename"] != "OtpSent":
                raise OperationFailed(f"sendOtp {phone}: {sent.text[:200]}")
        guesses = [p for p in live_phones for _ in range(_GUESSES_PER_CODE)]
        _timed_verify(client, unknown[-1], _WRONG, "InvalidOtp")  # warm the path
        for live_phone, absent_phone in zip(guesses, unknown, strict=False):
            pair = [(live_phone, live), (absent_phone, absent)]
            rng.shuffle(pair)
            for phone, sample in pair:
                sample.append(_timed_verify(client, phone, _WRONG, "InvalidOtp"))
    return Comparison(live, absent)


async def _me_latencies(url: str, token: str, count: int, pause: float = 0.0) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    took: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=120.0) as client:
        for _ in range(count):
            await asyncio.sleep(pause)
            started = time.perf_counter()
            try:
                response = await client.post("/graphql", json={"query": _ME}, headers=headers)
            except httpx.HTTPError as e:  # a reset under the flood: counted, with its time
                print(f"[bench] me: {type(e).__name__}", file=sys.stderr)
                took.append(time.perf_counter() - started)
                continue
            took.append(time.perf_counter() - started)
            if response.status_code != 200 or response.json().get("errors"):
                raise OperationFailed(f"me: {response.text[:200]}")
    return took


async def _flood(url: str, clients: int, stop: asyncio.Event, answered: list[int]) -> None:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    rng = random.Random(11)
    async with httpx.AsyncClient(base_url=url, timeout=300.0, limits=limits) as client:

        async def one() -> None:
            while not stop.is_set():
                phone = f"+99893{rng.randrange(10**7):07d}"
                variables = {"p": phone, "c": f"{rng.randrange(10**6):06d}"}
                try:
                    await client.post("/graphql", json={"query": _VERIFY, "variables": variables})
                except httpx.HTTPError:
                    continue
                answered[0] += 1

        await asyncio.gather(*(one() for _ in range(clients)))


async def measure_flood(url: str, token: str, clients: int, samples: int) -> tuple[
    list[float], list[float], float
]:  # fmt: skip
    """`me` latencies idle, then under the flood; and the flood's verifyOtp/s."""
    await _me_latencies(url, token, 20)  # warm-up
    idle = await _me_latencies(url, token, samples, _PAUSE)
    stop = asyncio.Event()
    answered = [0]
    flood = asyncio.create_task(_flood(url, clients, stop, answered))
    await asyncio.sleep(3.0)  # let every flood client get its request in
    started, before = time.perf_counter(), answered[0]
    loaded = await _me_latencies(url, token, samples, _PAUSE)
    rate = (answered[0] - before) / (time.perf_counter() - started)
    stop.set()
    await flood
    return idle, loaded, rate


def bench_signin_abuse(
    database_url: str = DEFAULT_URL, quick: bool = False, flood: int = 400
) -> list[Row]:
    tries = 32 if quick else 60
    live_phones = phones(8_100_001, math.ceil(tries / _GUESSES_PER_CODE))
    unknown = phones(8_200_001, tries + 1)
    with (
        bench_database(database_url, None) as db,
        tempfile.TemporaryDirectory(prefix="ovoz-bench-var-") as var_dir,
    ):
        env = {
            "ENV": "development",
            "DATABASE_URL": db.url,
            "DATABASE_SCHEMA": db.schema,
            "OVOZ_VAR_DIR": var_dir,
            "SMS_BACKEND": "console",
            "LOG_LEVEL": "WARNING",
            "OTP_TEST_NUMBERS": ",".join(f"{p}:{TEST_CODE}" for p in [*live_phones, _READER]),
        }
        Settings.from_env({**os.environ, **env})  # generate the shared dev secrets once
        with ServerProcess("ovoz", free_port(), env) as ovoz:
            ovoz.wait_healthy()
            timing = measure_timing(ovoz.url, live_phones, unknown)
            _, token = sign_in(ovoz.url, _READER, TEST_CODE)
            idle, loaded, rate = asyncio.run(
                measure_flood(ovoz.url, token, flood, 15 if quick else 30)
            )
    idle_ms, loaded_ms = statistics.median(idle) * 1000, statistics.median(loaded) * 1000
    n = len(timing.a)
    return [
        Row(
            "verifyOtp: wrong code for a live code - unknown number",
            timing.difference_ms,
            None,
            None,
            "ms",
            f"Welch z = {timing.z:.2f} over {n}+{n} interleaved tries; means "
            f"{_mean_ms(timing.a):.1f} vs {_mean_ms(timing.b):.1f} ms",
        ),
        Row(
            f"me latency under a {flood}-client verifyOtp flood",
            loaded_ms,
            idle_ms,
            loaded_ms / idle_ms,
            "ms",
            f"median of {len(loaded)} sequential `me` (p90 {_p90(loaded):.0f} ms) vs the "
            f"same server idle just before (p90 {_p90(idle):.1f} ms); flood answered "
            f"{rate:.0f} verifyOtp/s",
        ),
    ]


def _mean_ms(samples: list[float]) -> float:
    return statistics.fmean(samples) * 1000


def _p90(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=10)[-1] * 1000


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.signin_abuse", description=__doc__)
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_URL)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--flood", type=int, default=400, help="concurrent verifyOtp clients")
    args = p.parse_args(argv)
    print(table(bench_signin_abuse(args.database_url, args.quick, args.flood)))
    print(f"\n{os.cpu_count()} CPUs; client, server and PostgreSQL share them")
    return 0


if __name__ == "__main__":
    sys.exit(main())
