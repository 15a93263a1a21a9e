"""argon2id hashing of one-time codes, with a server-side pepper."""

from __future__ import annotations

import hashlib
import hmac
import os
import threading

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from domain.ports import SecretHasher


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class Argon2Hasher(SecretHasher):
    """argon2id over HMAC-SHA256(pepper, secret).

    A 6-digit code has only a million values, so its hash alone could be searched; the
    pepper, which lives in configuration and never in the database, makes a stolen
    database useless for that. Parameters are OWASP's argon2id minimum (19 MiB, t=2, p=1):
    the pepper carries the secrecy, argon2 the cost.

    At most ``max_concurrent`` hashes run at once (the composition root builds one hasher
    per process): a flood of sign-ins then queues for argon2 instead of taking every CPU,
    and a burst of them holds ``max_concurrent`` x 19 MiB, not a multiple per request.
    """

    def __init__(
        self,
        pepper: bytes,
        *,
        time_cost: int = 2,
        memory_kib: int = 19 * 1024,
        max_concurrent: int | None = None,
    ) -> None:
        self._pepper = pepper
        self._argon2 = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID
        )
        self.max_concurrent = max_concurrent or usable_cpus()
        self._slots = threading.BoundedSemaphore(self.max_concurrent)

    def hash(self, secret: str) -> str:
        peppered = self._peppered(secret)
        with self._slots:
            return self._argon2.hash(peppered)

    def verify(self, encoded: str, secret: str) -> bool:
        peppered = self._peppered(secret)
        try:
            with self._slots:
                return self._argon2.verify(encoded, peppered)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _peppered(self, secret: str) -> bytes:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).digest()
