"""``python -m bench``: run every entry and print one table."""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from collections.abc import Sequence

from bench.database import DEFAULT_URL, BenchDatabase, bench_database
from bench.entries import TEST_CODE, Me, SignIn, phones, ping
from bench.load import Operation, Throughput, measure
from bench.servers import ServerProcess
from infrastructure.config import Settings

WARMUP_SECONDS = 5.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL") or DEFAULT_URL,
        help="PostgreSQL to use (default $DATABASE_URL, else %(default)s); "
        "an embedded one is started if it does not answer",
    )
    p.add_argument(
        "--schema",
        default=os.environ.get("DATABASE_SCHEMA"),
        help="schema to use (default: a fresh one, dropped afterwards)",
    )
    p.add_argument("--signins", type=int, default=200, help="sign-in round trips per server")
    p.add_argument("--requests", type=int, default=1000, help="`me` queries per server")
    p.add_argument("--concurrency", type=int, default=8, help="clients in flight")
    p.add_argument("--seconds", type=float, default=12.0, help="time cap per measurement")
    return p.parse_args(argv)


class Bench:
    def __init__(self, args: argparse.Namespace, ovoz: ServerProcess, base: ServerProcess):
        self.args = args
        self.ovoz = ovoz
        self.base = base
        self.failures: list[str] = []

    def warm_up(self, url: str, op: Operation, count: int) -> None:
        a = self.args
        result = measure(url, op, count=count, concurrency=a.concurrency, seconds=WARMUP_SECONDS)
        self.failures.extend(result.errors[:5])

    def run(self, url: str, op: Operation, count: int, warmup: int = 0) -> Throughput:
        a = self.args
        if warmup:
            self.warm_up(url, op, warmup)
        result = measure(url, op, count=count, concurrency=a.concurrency, seconds=a.seconds)
        self.failures.extend(result.errors[:5])
        return result


def _row(name: str, ovoz: Throughput, base: Throughput) -> str:
    ratio = ovoz.per_second / base.per_second if base.per_second else float("nan")
    return f"{name:<44} {ovoz.per_second:>10.1f} {base.per_second:>12.1f} {ratio:>7.3f}"


def _environment(db: BenchDatabase, var_dir: str, test_phones: list[str]) -> dict[str, str]:
    return {
        "ENV": "development",
        "DATABASE_URL": db.url,
        "DATABASE_SCHEMA": db.schema,
        "OVOZ_VAR_DIR": var_dir,
        "SMS_BACKEND": "console",
        "LOG_LEVEL": "WARNING",
        "OTP_TEST_NUMBERS": ",".join(f"{p}:{TEST_CODE}" for p in test_phones),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    warm = max(args.concurrency * 2, 8)
    warm_phones, measured_phones = phones(1, warm), phones(warm + 1, args.signins)
    started = time.monotonic()
    with (
        bench_database(args.database_url, args.schema) as db,
        tempfile.TemporaryDirectory(prefix="ovoz-bench-var-") as var_dir,
    ):
        env = _environment(db, var_dir, warm_phones + measured_phones)
        Settings.from_env({**os.environ, **env})  # generate the shared dev secrets once
        with (
            ServerProcess("ovoz", _free_port(), env) as ovoz,
            ServerProcess("baseline", _free_port(), env) as base,
        ):
            ovoz.wait_healthy()
            base.wait_healthy()
            bench = Bench(args, ovoz, base)
            warm_in = SignIn(warm_phones)
            bench.warm_up(ovoz.url, warm_in.ovoz(), warm)
            bench.warm_up(base.url, warm_in.baseline(), warm)
            sign_in = SignIn(measured_phones)
            rows = [
                _row(
                    "sign-in round trip (sendOtp+verifyOtp)",
                    bench.run(ovoz.url, sign_in.ovoz(), args.signins),
                    bench.run(base.url, sign_in.baseline(), args.signins),
                )
            ]
            me = Me(list(sign_in.tokens.items()) or list(warm_in.tokens.items()))
            rows.append(
                _row(
                    "authenticated query { me { id role } }",
                    bench.run(ovoz.url, me.ovoz(), args.requests, warmup=50),
                    bench.run(base.url, me.baseline(), args.requests, warmup=50),
                )
            )
            ceiling = bench.run(base.url, ping, args.requests, warmup=50)
    print(f"{'entry':<44} {'ovoz ops/s':>10} {'baseline ops/s':>12} {'ratio':>7}")
    print("\n".join(rows))
    print(
        f"\nPostgreSQL: {db.where}; concurrency {args.concurrency}; one uvicorn process each; "
        f"load-generator ceiling (no-DB endpoint): {ceiling.per_second:.0f} req/s; "
        f"took {time.monotonic() - started:.0f} s"
    )
    if bench.failures:
        print("\nFAILED operations (results above are not valid):", file=sys.stderr)
        print("\n".join(bench.failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
