"""The argon2id hasher: peppered, and bounded in how many hashes run at once."""

from __future__ import annotations

import threading
import time
from typing import Any

from infrastructure.hashing import Argon2Hasher, usable_cpus

PEPPER = b"unit-test-pepper-" + b"p" * 32


class _Overlap:
    """Wraps the real argon2 PasswordHasher, recording how many calls overlap."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.running = 0
        self.most = 0

    def _enter(self) -> None:
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)

    def _leave(self) -> None:
        with self._lock:
            self.running -= 1

    def hash(self, secret: bytes) -> str:
        self._enter()
        try:
            time.sleep(0.02)  # long enough for every thread to pile up
            return str(self._inner.hash(secret))
        finally:
            self._leave()

    def verify(self, encoded: str, secret: bytes) -> bool:
        self._enter()
        try:
            time.sleep(0.02)
            return bool(self._inner.verify(encoded, secret))
        finally:
            self._leave()


def _in_threads(n: int, work: Any) -> None:
    barrier = threading.Barrier(n)

    def run() -> None:
        barrier.wait()
        work()

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def test_at_most_max_concurrent_hashes_run_at_once() -> None:
    hasher = Argon2Hasher(PEPPER, max_concurrent=2)
    encoded = hasher.hash("123456")
    overlap = _Overlap(hasher._argon2)
    hasher._argon2 = overlap  # type: ignore[assignment]
    _in_threads(8, lambda: hasher.verify(encoded, "654321"))
    _in_threads(8, lambda: hasher.hash("123456"))
    assert overlap.most == 2
    assert overlap.running == 0  # every slot was given back, mismatches included


def test_verification_still_tells_right_from_wrong_under_the_bound() -> None:
    hasher = Argon2Hasher(PEPPER, max_concurrent=1)
    encoded = hasher.hash("123456")
    assert hasher.verify(encoded, "123456")
    assert not hasher.verify(encoded, "123457")
    assert not hasher.verify("not an argon2 hash", "123456")


def test_the_bound_defaults_to_the_usable_cpus() -> None:
    assert Argon2Hasher(PEPPER).max_concurrent == usable_cpus() >= 1
