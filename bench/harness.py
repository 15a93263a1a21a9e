"""What every entry is given: the run's options, its database and environment, the load
helpers, and the ovoz + baseline server pair that the API entries share."""

from __future__ import annotations

import socket
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from bench.database import BenchDatabase
from bench.entries import TEST_CODE, SignIn, phones, ping
from bench.load import Operation, Throughput, measure
from bench.refresh import REFRESHERS
from bench.servers import ServerProcess

WARMUP_SECONDS = 5.0
# Fixed-code test phones for the users the entries act as.
READER, EDITOR, UPLOADER, LISTENER = phones(9_000_001, 4)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Options:
    """The command line, parsed (see ``python -m bench --help``)."""

    database_url: str
    schema: str | None
    entries: tuple[str, ...]
    quick: bool
    signins: int
    requests: int
    concurrency: int
    seconds: float
    slices: int
    whisper_model: str
    e2e_rounds: int
    upload_mib: int
    audio_dir: Path

    @property
    def warm_phones(self) -> list[str]:
        return phones(1, max(self.concurrency * 2, 8))

    @property
    def measured_phones(self) -> list[str]:
        return phones(len(self.warm_phones) + 1, self.signins)

    @property
    def test_phones(self) -> list[str]:
        return [
            *self.warm_phones,
            *self.measured_phones,
            READER,
            EDITOR,
            UPLOADER,
            LISTENER,
            *REFRESHERS,
        ]


@dataclass
class ApiServers:
    """The bench's ovoz server and its baseline, warmed up with sign-ins."""

    ovoz: ServerProcess
    base: ServerProcess
    warm_in: SignIn
    sign_in: SignIn  # the measured sign-ins: their tokens serve the `me` entry


@dataclass
class Bench:
    """One run of the benchmarks: what an entry measures with, and what went wrong."""

    options: Options
    db: BenchDatabase
    env: dict[str, str]
    var_dir: Path
    failures: list[str] = field(default_factory=list)
    ceiling: float | None = None  # requests/s the client reaches on a no-database endpoint
    _api: ApiServers | None = None
    _stack: ExitStack = field(default_factory=ExitStack)

    def warm_up(self, url: str, op: Operation, count: int) -> None:
        o = self.options
        result = measure(url, op, count=count, concurrency=o.concurrency, seconds=WARMUP_SECONDS)
        self.failures.extend(result.errors[:5])

    def run(self, url: str, op: Operation, count: int, warmup: int = 0) -> Throughput:
        o = self.options
        if warmup:
            self.warm_up(url, op, warmup)
        result = measure(url, op, count=count, concurrency=o.concurrency, seconds=o.seconds)
        self.failures.extend(result.errors[:5])
        return result

    def pair(
        self,
        ovoz: tuple[str, Operation],
        base: tuple[str, Operation],
        count: int,
        warmup: int = 0,
    ) -> tuple[float, float]:
        """ovoz and its baseline measured in alternating slices (ovoz, baseline, baseline,
        ovoz, ...), so that the shared machine's slow moments fall on both; each side's
        rate is its operations over its own time. Operation indices never repeat within
        a side. Returns (ovoz ops/s, baseline ops/s)."""
        o = self.options
        slices = max(1, o.slices)
        if warmup:
            self.warm_up(*ovoz, warmup)
            self.warm_up(*base, warmup)
        done = {0: 0, 1: 0}
        spent = {0: 0.0, 1: 0.0}
        sides = (ovoz, base)
        for k in range(slices):
            for side in (0, 1) if k % 2 == 0 else (1, 0):
                url, op = sides[side]
                left = count - done[side]
                if left <= 0:
                    continue
                r = measure(
                    url,
                    op,
                    count=left,
                    concurrency=o.concurrency,
                    seconds=o.seconds / slices,
                    start=done[side],
                )
                self.failures.extend(r.errors[:5])
                done[side] += r.done
                spent[side] += r.seconds
        return (
            done[0] / spent[0] if spent[0] else 0.0,
            done[1] / spent[1] if spent[1] else 0.0,
        )

    def api(self) -> ApiServers:
        """The shared ovoz + baseline pair, started (and warmed up) on first use."""
        if self._api is None:
            try:
                self._api = self._start_api()
            except BaseException:
                self._stack.close()
                raise
        return self._api

    def _start_api(self) -> ApiServers:
        ovoz = self._stack.enter_context(ServerProcess("ovoz", free_port(), self.env))
        base = self._stack.enter_context(ServerProcess("baseline", free_port(), self.env))
        ovoz.wait_healthy()
        base.wait_healthy()
        warm_in = SignIn(self.options.warm_phones)
        self.warm_up(ovoz.url, warm_in.ovoz(), len(warm_in.phones))
        self.warm_up(base.url, warm_in.baseline(), len(warm_in.phones))
        return ApiServers(ovoz, base, warm_in, SignIn(self.options.measured_phones))

    def release_api(self) -> None:
        """Done with the shared pair: measure the load-generator ceiling on the baseline's
        no-database endpoint, then stop both servers (a no-op if they never started)."""
        try:
            if self._api is not None:
                base = self._api.base.url
                self.ceiling = self.run(base, ping, self.options.requests, warmup=50).per_second
        finally:
            self._api = None
            self._stack.close()


def environment(db: BenchDatabase, var_dir: Path, options: Options) -> dict[str, str]:
    """The settings every server of the run shares (read by ``Settings.from_env``)."""
    return {
        "ENV": "development",
        "DATABASE_URL": db.url,
        "DATABASE_SCHEMA": db.schema,
        "OVOZ_VAR_DIR": str(var_dir),
        "SMS_BACKEND": "console",
        "LOG_LEVEL": "WARNING",
        "OTP_TEST_NUMBERS": ",".join(f"{p}:{TEST_CODE}" for p in options.test_phones),
        "WHISPER_MODEL": options.whisper_model,
        "WORKERS": "1",
    }
