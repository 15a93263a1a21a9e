"""Fixtures that build ovoz against a real PostgreSQL schema."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from infrastructure.bootstrap import Ovoz, bootstrap
from infrastructure.config import Settings
from tests.conftest import FakeClock, RecordingSms

MakeOvoz = Callable[..., Ovoz]


def make_settings(database_url: str, schema: str, var_dir: Path, **env: str) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "DATABASE_SCHEMA": schema,
            "OVOZ_VAR_DIR": str(var_dir),
            "READ_YOUR_WRITES_TIMEOUT": "10",
            **env,
        }
    )


@pytest.fixture
def make_ovoz(
    database_url: str, schema: str, tmp_path: Path, clock: FakeClock, sms: RecordingSms
) -> Iterator[MakeOvoz]:
    """Build (and later close) ovoz instances sharing one schema and one var dir."""
    built: list[Ovoz] = []

    def make(*, start: bool = True, **env: str) -> Ovoz:
        ovoz = bootstrap(make_settings(database_url, schema, tmp_path, **env), sms=sms, clock=clock)
        built.append(ovoz)
        if start:
            ovoz.start_projections()
        return ovoz

    yield make
    for ovoz in reversed(built):
        ovoz.close()


@pytest.fixture
def ovoz(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz()


@pytest.fixture(scope="session")
def tone_clip() -> bytes:
    """One second of a 440 Hz tone as a WAV: real audio that needs no shared files."""
    samples = (int(8000 * math.sin(2 * math.pi * 440 * t / 16000)) for t in range(16000))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"".join(struct.pack("<h", v) for v in samples))
    return out.getvalue()
