"""``python -m bench``: run the chosen entries and print one table."""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import socket
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.database import DEFAULT_URL, BenchDatabase, bench_database
from bench.e2e import AUDIO_DIR, Bare, bench_e2e
from bench.entries import TEST_CODE, Me, SignIn, phones, ping
from bench.load import Operation, Throughput, measure
from bench.recordings import MAX_EXECUTED, SEED_ROWS, WARM_SKIP, Audios, Edits, seed_audios
from bench.recordings import sign_in as sign_in_sync
from bench.report import Row, adapt, table, throughput_row
from bench.servers import ServerProcess
from bench.upload import MIB, measure_upload, write_wav
from infrastructure.config import Settings

WARMUP_SECONDS = 5.0
#: Every entry; DEFAULT runs without --only. The others are slow (engine: many minutes
#: of inference and a 1-hour file) or belong to work that may not be there yet.
ENTRIES = (
    "signin", "me", "audios", "upload", "edit", "e2e", "engine", "encryption", "live",
    "signin-abuse",
)  # fmt: skip
DEFAULT = ("signin", "me", "audios", "upload", "edit", "e2e")
# Fixed-code test phones for the users the entries act as.
READER, EDITOR, UPLOADER, LISTENER = phones(9_000_001, 4)


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
    p.add_argument(
        "--only",
        default=",".join(DEFAULT),
        help=f"comma-separated entries out of {','.join(ENTRIES)} or 'all' (default %(default)s)",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="shorter measurements (4 s each, fewer sign-ins, one e2e round): a smoke run",
    )
    p.add_argument("--signins", type=int, default=None, help="sign-in round trips per server")
    p.add_argument("--requests", type=int, default=1000, help="`me` queries per server")
    p.add_argument("--concurrency", type=int, default=8, help="clients in flight")
    p.add_argument("--seconds", type=float, default=None, help="time cap per measurement")
    p.add_argument(
        "--slices",
        type=int,
        default=4,
        help="ovoz and baseline alternate in this many slices of --seconds each",
    )
    p.add_argument(
        "--whisper-model",
        default="base",
        help="model for e2e/engine: base (the product default) or tiny.en (default %(default)s)",
    )
    p.add_argument("--e2e-rounds", type=int, default=None, help="e2e rounds (default 3; quick 1)")
    p.add_argument("--upload-mib", type=int, default=200, help="size of the upload (MiB)")
    p.add_argument("--audio-dir", type=Path, default=AUDIO_DIR, help="the shared clips")
    args = p.parse_args(argv)
    chosen = (
        ENTRIES
        if args.only.strip() == "all"
        else tuple(e.strip() for e in args.only.split(",") if e.strip())
    )
    unknown = [e for e in chosen if e not in ENTRIES]
    if unknown:
        p.error(f"unknown entries {unknown}; choose from {', '.join(ENTRIES)}")
    args.entries = chosen
    args.seconds = args.seconds or (4.0 if args.quick else 12.0)
    args.signins = args.signins or (50 if args.quick else 200)
    args.e2e_rounds = args.e2e_rounds or (1 if args.quick else 3)
    return args


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
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
        a = self.args
        slices = max(1, a.slices)
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
                    concurrency=a.concurrency,
                    seconds=a.seconds / slices,
                    start=done[side],
                )
                self.failures.extend(r.errors[:5])
                done[side] += r.done
                spent[side] += r.seconds
        return (
            done[0] / spent[0] if spent[0] else 0.0,
            done[1] / spent[1] if spent[1] else 0.0,
        )

    def entry(self, name: str, rows: list[Row], build: Callable[[], list[Row]]) -> None:
        """Run one entry; a crash is reported and the others still run."""
        started = time.monotonic()
        try:
            rows.extend(build())
        except Exception as e:
            traceback.print_exc()
            self.failures.append(f"{name}: {type(e).__name__}: {e}")
            rows.append(Row(f"{name}: FAILED", float("nan"), None, None, "", str(e)[:120]))
        print(f"[bench] {name} done in {time.monotonic() - started:.0f} s", file=sys.stderr)


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


def _api_entries(
    bench: Bench, env: dict[str, str], db: BenchDatabase, warm_phones: list[str],
    measured_phones: list[str],
) -> tuple[list[Row], float | None]:  # fmt: skip
    """The entries measured against the bench's ovoz server and the baseline."""
    args = bench.args
    rows: list[Row] = []
    with (
        ServerProcess("ovoz", _free_port(), env) as ovoz,
        ServerProcess("baseline", _free_port(), env) as base,
    ):
        ovoz.wait_healthy()
        base.wait_healthy()
        warm = len(warm_phones)
        warm_in = SignIn(warm_phones)
        bench.warm_up(ovoz.url, warm_in.ovoz(), warm)
        bench.warm_up(base.url, warm_in.baseline(), warm)
        sign_in = SignIn(measured_phones)

        def signin() -> list[Row]:
            # The baseline reads the challenges of phones ovoz signed in: ovoz goes first.
            rate = bench.run(ovoz.url, sign_in.ovoz(), args.signins).per_second
            base_rate = bench.run(base.url, sign_in.baseline(), args.signins).per_second
            return [throughput_row("sign-in round trip (sendOtp+verifyOtp)", rate, base_rate)]

        def me() -> list[Row]:
            m = Me(list(sign_in.tokens.items()) or list(warm_in.tokens.items()))
            rates = bench.pair((ovoz.url, m.ovoz()), (base.url, m.baseline()), 10**6, 50)
            return [throughput_row("authenticated query { me { id role } }", *rates)]

        def audios() -> list[Row]:
            owner, token = sign_in_sync(ovoz.url, READER, TEST_CODE)
            took = seed_audios(db.url, db.schema, uuid.UUID(owner))
            result = []
            for executed, label in ((True, "every request executed"), (False, "repeated reads")):
                warm = Audios(token, executed, first_skip=WARM_SKIP)
                bench.warm_up(ovoz.url, warm.ovoz(), 100)
                bench.warm_up(base.url, warm.baseline(), 100)
                op = Audios(token, executed)
                measured = bench.pair(
                    (ovoz.url, op.ovoz()),
                    (base.url, op.baseline()),
                    MAX_EXECUTED if executed else 10**6,
                )
                note = (
                    f"{SEED_ROWS} rows COPYed into the audios read model in {took:.1f} s "
                    "(read path only); 5 fields x 50 rows + total; "
                    + ("skip = request number: no two requests alike" if executed else
                       "identical request (skip 0)")
                )  # fmt: skip
                result.append(throughput_row(f"audios(limit: 50), {label}", *measured, note=note))
            return result

        def edit() -> list[Row]:
            _, token = sign_in_sync(ovoz.url, EDITOR, TEST_CODE)
            clip = args.audio_dir / "en_deepspeech_LDC93S1.wav"
            edits = Edits.prepare(ovoz.url, token, clip, args.concurrency, db.url, db.schema)
            rates = bench.pair((ovoz.url, edits.ovoz()), (base.url, edits.baseline()), 10**6, 40)
            return [
                throughput_row(
                    "updateAudio (event+projection+RYW wait)",
                    *rates,
                    note="baseline: JWT check + one INSERT in its own transaction",
                )
            ]

        for name, build in (("signin", signin), ("me", me), ("audios", audios), ("edit", edit)):
            if name in args.entries:
                bench.entry(name, rows, build)
        ceiling = bench.run(base.url, ping, args.requests, warmup=50).per_second
    return rows, ceiling


def _upload(args: argparse.Namespace, env: dict[str, str], tmp: Path) -> list[Row]:
    with ServerProcess("ovoz", _free_port(), env) as ovoz:
        ovoz.wait_healthy()
        big = tmp / "upload.wav"
        minutes = write_wav(big, args.upload_mib * MIB) / 60
        _, token = sign_in_sync(ovoz.url, UPLOADER, TEST_CODE)
        m = measure_upload(
            ovoz.url, ovoz.pid, token, big, args.audio_dir / "en_deepspeech_LDC93S1.wav"
        )
        big.unlink()
    note = (
        f"{m.size_bytes / MIB:.0f} MiB WAV ({minutes:.0f} min) in {m.seconds:.1f} s; "
        f"baseline = same server idle after one small upload (cold idle {m.cold_idle_mib:.0f}); "
        f"{m.samples} samples, sampled peak {m.sampled_peak_mib:.0f}; "
        f"client RSS growth {m.client_peak_growth_mib:.0f} MiB; target growth < 50 MiB"
    )
    return [
        Row(
            f"upload {args.upload_mib} MiB: server peak RSS",
            m.peak_mib,
            m.idle_mib,
            m.peak_mib / m.idle_mib,
            "MiB",
            f"GROWTH {m.growth_mib:.1f} MiB; {note}",
        )
    ]


def _e2e(args: argparse.Namespace, env: dict[str, str]) -> list[Row]:
    from infrastructure.whisper import resolve_model

    settings = Settings.from_env({**os.environ, **env})
    resolve_model(args.whisper_model, settings.whisper_models_dir)  # assemble once, up front
    port = _free_port()
    argv = [sys.executable, "-m", "infrastructure.cli", "serve", "--port", str(port)]
    with ServerProcess("ovoz-serve", port, env, argv=argv) as serve:
        bare = Bare({**os.environ, **env}, args.audio_dir / "jfk.flac")
        try:
            serve.wait_healthy()
            _, token = sign_in_sync(serve.url, LISTENER, TEST_CODE)
            return bench_e2e(
                serve, bare, token, args.whisper_model, args.e2e_rounds, args.audio_dir
            )
        finally:
            bare.close()


def _call(function: Callable[..., Any], **available: Any) -> Any:
    """Call an entry written elsewhere with whichever of ``available`` it takes."""
    accepted = inspect.signature(function).parameters
    return function(**{k: v for k, v in available.items() if k in accepted})


def _optional(name: str, db: BenchDatabase, args: argparse.Namespace) -> list[Row]:
    available = {
        "model": args.whisper_model,
        "audio_dir": args.audio_dir,
        "database_url": db.url,
        "url": db.url,
        "schema": db.schema,
        "quick": args.quick,
    }
    if name == "engine":
        from bench.transcription import bench_engine

        return adapt(_call(bench_engine, **available))
    if name == "encryption":
        try:
            from bench.encryption import bench_encryption
        except ImportError as e:
            return [Row("encryption: not available", float("nan"), None, None, "", str(e))]
        return adapt(_call(bench_encryption, **available), unit="ops/s")
    try:
        live = importlib.import_module("bench.live")
    except ImportError as e:
        return [Row("live: not available", float("nan"), None, None, "", str(e))]
    rows: list[Row] = []
    for function in ("bench_delivery", "bench_rebuild"):
        if hasattr(live, function):
            rows.extend(adapt(_call(getattr(live, function), **available)))
    return rows


def _signin_abuse(args: argparse.Namespace) -> list[Row]:
    from bench.signin_abuse import bench_signin_abuse

    # A server of its own on a schema of its own: the flood must not share the other
    # entries' server, and their sign-ins must not share its numbers.
    return bench_signin_abuse(args.database_url, args.quick)


def main(argv: Sequence[str] | None = None) -> int:
    args = _args(argv)
    bench = Bench(args)
    warm = max(args.concurrency * 2, 8)
    warm_phones, measured_phones = phones(1, warm), phones(warm + 1, args.signins)
    started = time.monotonic()
    rows: list[Row] = []
    ceiling: float | None = None
    with (
        bench_database(args.database_url, args.schema) as db,
        tempfile.TemporaryDirectory(prefix="ovoz-bench-var-") as var_dir,
    ):
        test_phones = warm_phones + measured_phones + [READER, EDITOR, UPLOADER, LISTENER]
        env = _environment(db, var_dir, test_phones)
        env["WHISPER_MODEL"] = args.whisper_model
        env["WORKERS"] = "1"
        Settings.from_env({**os.environ, **env})  # generate the shared dev secrets once
        if {"signin", "me", "audios", "edit"} & set(args.entries):
            api_rows, ceiling = _api_entries(bench, env, db, warm_phones, measured_phones)
            rows += api_rows
        if "upload" in args.entries:
            bench.entry("upload", rows, lambda: _upload(args, env, Path(var_dir)))
        if "e2e" in args.entries:
            bench.entry("e2e", rows, lambda: _e2e(args, env))
        for name in ("engine", "encryption", "live"):
            if name in args.entries:
                bench.entry(name, rows, lambda n=name: _optional(n, db, args))  # type: ignore[misc]
        if "signin-abuse" in args.entries:
            bench.entry("signin-abuse", rows, lambda: _signin_abuse(args))
    print(table(rows))
    print(
        f"\nPostgreSQL: {db.where}; concurrency {args.concurrency}; one uvicorn process each; "
        + (
            f"load-generator ceiling (no-DB endpoint): {ceiling:.0f} req/s; "
            if ceiling is not None
            else ""
        )
        + f"{os.cpu_count()} CPUs; took {time.monotonic() - started:.0f} s"
    )
    if bench.failures:
        print("\nFAILED operations (results above are not valid):", file=sys.stderr)
        print("\n".join(bench.failures), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
