"""The two servers under test, each in a process of its own.

``python -m bench.servers ovoz|baseline PORT`` runs one (the settings come from the
environment, as for ``ovoz serve``); :class:`ServerProcess` starts and stops one from the
benchmark.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import httpx
import uvicorn
from starlette.types import ASGIApp

from infrastructure.bootstrap import bootstrap, services_of
from infrastructure.config import Settings


def _serve(app: ASGIApp, port: int) -> None:
    """uvicorn with the same settings for both servers; no access log."""
    # uvicorn re-raises the signal that stopped it once it has shut down: absorb it so
    # that the caller's clean-up runs.
    signal.signal(signal.SIGTERM, lambda *_: None)
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
    )
    uvicorn.Server(config).run()


def run_ovoz(port: int) -> None:
    """ovoz as ``ovoz serve`` builds it (API + projections), minus the worker."""
    from graphql_api.app import create_app

    settings = Settings.from_env()
    ovoz = bootstrap(settings)
    try:
        ovoz.start_projections()
        _serve(create_app(services_of(ovoz), production=settings.is_production), port)
    finally:
        ovoz.close()


def run_baseline(port: int) -> None:
    from bench.baseline import create_baseline_app

    app, pool = create_baseline_app(Settings.from_env())
    pool.open(wait=True)
    try:
        _serve(app, port)
    finally:
        pool.close()


class ServerProcess:
    """One server in a subprocess, its output kept in a temporary log file."""

    def __init__(
        self, kind: str, port: int, env: Mapping[str, str], argv: list[str] | None = None
    ) -> None:
        self.kind = kind
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
            prefix=f"ovoz-bench-{kind}-", suffix=".log", delete=False
        )
        self._process = subprocess.Popen(
            argv or [sys.executable, "-m", "bench.servers", kind, str(port)],
            env={**os.environ, **env},
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        """The server's own process (uvicorn runs in it, no fork)."""
        return self._process.pid

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"{self.kind} server exited:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind} server not healthy in {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return Path(self._log.name).read_text(errors="replace")[-5000:]

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(5)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.servers")
    parser.add_argument("kind", choices=["ovoz", "baseline"])
    parser.add_argument("port", type=int)
    args = parser.parse_args()
    (run_ovoz if args.kind == "ovoz" else run_baseline)(args.port)


if __name__ == "__main__":
    main()
