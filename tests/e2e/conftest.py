"""Run ``ovoz serve`` as a real process and talk to it over HTTP.

Every server these fixtures start runs in a temporary working directory with its own
``OVOZ_VAR_DIR``; its output goes to a log file that failures show. Whatever a test leaves
behind — a server still running, an embedded PostgreSQL its server did not stop — is
stopped when the test ends, so that a failing test does not leak processes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

START_TIMEOUT = 60.0
STOP_TIMEOUT = 20.0

# Settings ovoz reads from the environment: a server under test gets none of the
# developer's values, only what the test gives it.
_OVOZ_SETTINGS = (
    "ENV",
    "OVOZ_VAR_DIR",
    "DATABASE_URL",
    "DATABASE_SCHEMA",
    "JWT_SECRET",
    "OTP_PEPPER",
    "PHONE_HMAC_KEY",
    "MASTER_KEY",
    "MASTER_KEY_PREVIOUS",
    "JWT_TTL_SECONDS",
    "JWT_ISSUER",
    "JWT_AUDIENCE",
    "SMS_BACKEND",
    "ESKIZ_EMAIL",
    "ESKIZ_PASSWORD",
    "ESKIZ_FROM",
    "ESKIZ_BASE_URL",
    "OTP_TTL_SECONDS",
    "OTP_MAX_FAILURES",
    "OTP_FAILURE_WINDOW_SECONDS",
    "OTP_RESEND_COOLDOWN_SECONDS",
    "OTP_MAX_CODES_PER_HOUR",
    "OTP_TEST_NUMBERS",
    "SMS_ALLOWED_COUNTRIES",
    "SMS_MAX_PER_IP_PER_HOUR",
    "SMS_MAX_PER_PREFIX_PER_HOUR",
    "SMS_MAX_PER_HOUR",
    "ADMIN_PHONE_NUMBERS",
    "DEFAULT_PHONE_REGION",
    "HOST",
    "PORT",
    "LOG_LEVEL",
    "READ_YOUR_WRITES_TIMEOUT",
    "REQUEST_TIMEOUT",
    "REQUEST_BODY_MIN_RATE",
    "MAX_CONNECTIONS",
    "FORWARDED_ALLOW_IPS",
)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ovoz_command() -> list[str]:
    """The installed console script next to this interpreter, else the module."""
    script = Path(sys.executable).with_name("ovoz")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "infrastructure.cli"]


def server_env(var_dir: Path, **settings: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _OVOZ_SETTINGS and not k.startswith(("WHISPER_", "JOB_"))
    }
    env.update(OVOZ_VAR_DIR=str(var_dir), PYTHONUNBUFFERED="1", **settings)
    return env


def embedded_postgres_pid(var_dir: Path) -> int | None:
    """The pid of a live PostgreSQL serving ``var_dir/postgres``, or None."""
    pid_file = var_dir / "postgres" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (FileNotFoundError, ValueError):
        return None
    return pid if _alive(pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is dead for our purposes.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop_embedded_postgres(var_dir: Path, timeout: float = 15.0) -> None:
    """Stop a PostgreSQL left running under ``var_dir`` (fast shutdown)."""
    pid = embedded_postgres_pid(var_dir)
    if pid is None:
        return
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


@dataclass
class OvozServer:
    """One ``ovoz serve`` process."""

    workdir: Path
    var_dir: Path
    env: Mapping[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    runs: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *args: str) -> None:
        self.runs += 1
        self.log_path = self.workdir / f"server-{self.runs}.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [*ovoz_command(), *args, "--port", str(self.port)],
                cwd=self.workdir,
                env=dict(self.env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def serve(self) -> None:
        """Start ``ovoz serve`` and wait until /healthz answers."""
        self.start("serve")
        self.wait_healthy()

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(
                    f"ovoz exited with {self.process.returncode} before it was healthy:\n"
                    + self.log()
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail(f"ovoz did not answer /healthz within {timeout:.0f} s:\n{self.log()}")

    def wait_exit(self, timeout: float) -> int | None:
        """The exit code, or None if it is still running after ``timeout`` seconds."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(
        self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT
    ) -> int | None:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def log(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return self.log_path.read_text(errors="replace")[-20_000:]

    # -- GraphQL over HTTP -------------------------------------------------------------

    def graphql(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        return httpx.post(
            f"{self.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=all_headers,
            timeout=30.0,
        )

    def outbox_codes(self, phone: str) -> list[str]:
        """The codes the console SMS backend wrote for ``phone``, oldest first."""
        path = self.var_dir / "sms-outbox.jsonl"
        if not path.exists():
            return []
        lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        return [m["code"] for m in lines if m["to"] == phone]


@pytest.fixture
def workdir() -> Iterator[Path]:
    """A working directory outside pytest's ``/tmp/pytest-of-<user>``.

    Run as root, pgserver runs PostgreSQL as an unprivileged user and opens the data
    directory's parents to it; every pytest session that starts meanwhile closes
    ``/tmp/pytest-of-<user>`` to group and others again (pytest's own hardening), and
    PostgreSQL then fails with "Permission denied" on its own files.
    """
    path = Path(tempfile.mkdtemp(prefix="ovoz-e2e-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_server(workdir: Path) -> Iterator[Any]:
    """Build servers in ``workdir``; kill what is left of them afterwards."""
    servers: list[OvozServer] = []

    def make(var_dir: Path | None = None, **settings: str) -> OvozServer:
        var = var_dir or workdir / "var"
        server = OvozServer(workdir=workdir, var_dir=var, env=server_env(var, **settings))
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.kill()
        stop_embedded_postgres(server.var_dir)
