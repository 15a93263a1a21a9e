"""argon2id hashing of one-time codes, with a server-side pepper."""

from __future__ import annotations

import hashlib
import hmac

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from domain.ports import SecretHasher


class Argon2Hasher(SecretHasher):
    """argon2id over HMAC-SHA256(pepper, secret).

    A 6-digit code has only a million values, so its hash alone could be searched; the
    pepper, which lives in configuration and never in the database, makes a stolen
    database useless for that. Parameters are OWASP's argon2id minimum (19 MiB, t=2, p=1):
    the pepper carries the secrecy, argon2 the cost.
    """

    def __init__(self, pepper: bytes, *, time_cost: int = 2, memory_kib: int = 19 * 1024) -> None:
        self._pepper = pepper
        self._argon2 = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=1, type=Type.ID
        )

    def hash(self, secret: str) -> str:
        return self._argon2.hash(self._peppered(secret))

    def verify(self, encoded: str, secret: str) -> bool:
        try:
            return self._argon2.verify(encoded, self._peppered(secret))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _peppered(self, secret: str) -> bytes:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).digest()
