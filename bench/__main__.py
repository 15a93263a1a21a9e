"""``python -m bench``: run the chosen entries and print one table."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from bench.database import DEFAULT_URL, bench_database
from bench.e2e import AUDIO_DIR
from bench.harness import Bench, Options, environment
from bench.registry import BY_NAME, DEFAULT, ENTRIES, Entry
from bench.report import Row, table
from infrastructure.config import Settings


def _parser() -> argparse.ArgumentParser:
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
        help=f"comma-separated entries out of {','.join(BY_NAME)} or 'all' (default %(default)s)",
    )
    p.add_argument("--list", action="store_true", help="print the entries and exit")
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
    return p


def _options(p: argparse.ArgumentParser, args: argparse.Namespace) -> Options:
    chosen = (
        tuple(BY_NAME)
        if args.only.strip() == "all"
        else tuple(e.strip() for e in args.only.split(",") if e.strip())
    )
    unknown = [e for e in chosen if e not in BY_NAME]
    if unknown:
        p.error(f"unknown entries {unknown}; choose from {', '.join(BY_NAME)}")
    return Options(
        database_url=args.database_url,
        schema=args.schema,
        entries=chosen,
        quick=args.quick,
        signins=args.signins or (50 if args.quick else 200),
        requests=args.requests,
        concurrency=args.concurrency,
        seconds=args.seconds or (4.0 if args.quick else 12.0),
        slices=args.slices,
        whisper_model=args.whisper_model,
        e2e_rounds=args.e2e_rounds or (1 if args.quick else 3),
        upload_mib=args.upload_mib,
        audio_dir=args.audio_dir,
    )


def _run(bench: Bench, entry: Entry, rows: list[Row]) -> None:
    """Run one entry; a crash is reported and the others still run."""
    started = time.monotonic()
    try:
        rows.extend(entry.run(bench))
    except Exception as e:
        traceback.print_exc()
        bench.failures.append(f"{entry.name}: {type(e).__name__}: {e}")
        rows.append(Row(f"{entry.name}: FAILED", float("nan"), None, None, "", str(e)[:120]))
    print(f"[bench] {entry.name} done in {time.monotonic() - started:.0f} s", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.list:
        for entry in ENTRIES:
            print(f"{entry.name:<13} {entry.description}{'' if entry.default else ' (--only)'}")
        return 0
    options = _options(parser, args)
    started = time.monotonic()
    rows: list[Row] = []
    with (
        bench_database(options.database_url, options.schema) as db,
        tempfile.TemporaryDirectory(prefix="ovoz-bench-var-") as var_dir,
    ):
        env = environment(db, Path(var_dir), options)
        Settings.from_env({**os.environ, **env})  # generate the shared dev secrets once
        bench = Bench(options, db, env, Path(var_dir))
        try:
            for entry in ENTRIES:
                if entry.name not in options.entries:
                    continue
                if not entry.shares_servers:
                    bench.release_api()
                _run(bench, entry, rows)
        finally:
            bench.release_api()
    print(table(rows))
    print(
        f"\nPostgreSQL: {db.where}; concurrency {options.concurrency}; one uvicorn process each; "
        + (
            f"load-generator ceiling (no-DB endpoint): {bench.ceiling:.0f} req/s; "
            if bench.ceiling is not None
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
