"""Shared fixtures: a real PostgreSQL for every test that touches storage.

``OVOZ_TEST_DATABASE_URL`` points the suite at a running server (CI uses the machine's
PostgreSQL); without it the suite starts an embedded one (pgserver) in a temporary
directory. Each test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from domain.ports import Clock, SmsMessage, SmsSender

AUDIO_DIR = Path(os.environ.get("OVOZ_AUDIO_DIR", Path(__file__).parents[2] / "shared" / "audio"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("OVOZ_TEST_DATABASE_URL")
    if url:
        yield url
        return
    from infrastructure.database import EmbeddedPostgres

    # Not under pytest's tmp dir: run as root, pgserver hands the data directory to an
    # unprivileged user, and concurrent pytest sessions re-tighten that tree's permissions.
    data = Path(tempfile.mkdtemp(prefix="ovoz-pg-"))
    embedded = EmbeddedPostgres(data / "data")
    try:
        yield embedded.start()
    finally:
        embedded.stop()
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def schema(database_url: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex[:16]}"
    yield name
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {name} CASCADE")


class FakeClock(Clock):
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class RecordingSms(SmsSender):
    """The SMS boundary: keeps what would have been sent; can be told to fail."""

    def __init__(self) -> None:
        self.sent: list[SmsMessage] = []
        self.fail_next = False

    def send(self, message: SmsMessage) -> None:
        from domain.ports import SmsDeliveryError

        if self.fail_next:
            self.fail_next = False
            raise SmsDeliveryError("gateway refused")
        self.sent.append(message)

    def last_code(self) -> str:
        code = self.sent[-1].code
        assert code is not None
        return code


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sms() -> RecordingSms:
    return RecordingSms()


def speech_wav(target: Path, seconds: float) -> Path:
    """The shared English clips, repeated to ``seconds`` of 16 kHz mono speech (a WAV)."""
    import wave

    import numpy as np
    from faster_whisper import decode_audio

    clips = [decode_audio(str(p)) for p in sorted(AUDIO_DIR.glob("en_*"))]
    samples: list[Any] = []
    total = 0
    while total < seconds * 16000:
        for clip in clips:
            samples.append(clip)
            total += len(clip)
    pcm = (np.clip(np.concatenate(samples), -1, 1) * 32767).astype("<i2")
    with wave.open(str(target), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm.tobytes())
    return target


def noise_wav(seconds: float, seed: int) -> bytes:
    """Deterministic noise as a 16 kHz mono WAV: valid, high-entropy audio for tests that
    store, move and erase recordings but never listen to them."""
    import io
    import random
    import wave

    rng = random.Random(seed)
    frames = bytes(rng.getrandbits(8) for _ in range(int(seconds * 16000) * 2))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(frames)
    return out.getvalue()


def shared_or_noise(path: Path, seconds: float, seed: int) -> bytes:
    """The shared recording if it is checked out, else noise of about its length: the
    flows that only store audio run for a newcomer without ../shared/audio too."""
    return path.read_bytes() if path.exists() else noise_wav(seconds, seed)
