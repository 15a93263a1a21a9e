"""The ``ovoz`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from infrastructure.bootstrap import bootstrap
from infrastructure.config import ConfigError, Settings
from infrastructure.server import API, PROJECTOR, WORKER, run_api, run_background


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ovoz", description="Self-hosted speech-to-text.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run everything in one process")
    api = commands.add_parser("api", help="run the GraphQL API only")
    for p in (serve, api):
        p.add_argument("--host", help="address to listen on (default 127.0.0.1, or $HOST)")
        p.add_argument("--port", type=int, help="port to listen on (default 8000, or $PORT)")
    commands.add_parser("projector", help="keep the read models up to date")
    commands.add_parser("worker", help="run transcription jobs")
    keys = commands.add_parser("keys", help="manage the data keys").add_subparsers(
        dest="keys_command", required=True
    )
    keys.add_parser(
        "rotate",
        help="re-wrap every data key under MASTER_KEY (old keys in MASTER_KEY_PREVIOUS)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except ConfigError as e:
        print(f"ovoz: configuration error: {e}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    overrides = {k: v for k in ("host", "port") if (v := getattr(args, k, None)) is not None}
    if overrides:
        settings = settings.with_listen(**overrides)
    if args.command == "serve":
        run_api(settings, {API, PROJECTOR, WORKER})
    elif args.command == "api":
        run_api(settings, {API})
    elif args.command == "projector":
        run_background(settings, {PROJECTOR})
    elif args.command == "worker":
        run_background(settings, {WORKER})
    elif args.command == "keys":
        return _rotate_keys(settings)
    return 0


def _rotate_keys(settings: Settings) -> int:
    ovoz = bootstrap(settings)
    try:
        moved = ovoz.keys.rotate()
    finally:
        ovoz.close()
    print(f"re-wrapped {moved} data key(s) under the current master key")
    return 0


if __name__ == "__main__":
    sys.exit(main())
