"""How much work and storage one user may hold: the upload quota rule.

Two limits, each on the resource that one user can take from everyone else:

- queued audio seconds: the audio of the user's recordings still QUEUED or PROCESSING,
  the work their uploads put in front of the shared transcription workers (finished or
  failed recordings no longer count);
- stored bytes: every live recording of the user, whatever its status, the disk their
  uploads take (deleting a recording frees its bytes).

Admins are not exempt: their uploads use the same workers and disk, and a leaked admin
token should not be a way to fill either; an operator who needs more raises the limits.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from domain.errors import DomainError


class QuotaKind(Enum):
    QUEUED_AUDIO_SECONDS = "QUEUED_AUDIO_SECONDS"
    STORED_BYTES = "STORED_BYTES"


@dataclass(frozen=True)
class QuotaUsage:
    """What one user holds now."""

    queued_seconds: float = 0.0
    stored_bytes: int = 0

    def __add__(self, other: QuotaUsage) -> QuotaUsage:
        return QuotaUsage(
            self.queued_seconds + other.queued_seconds, self.stored_bytes + other.stored_bytes
        )


class QuotaExceededError(DomainError):
    """Accepting the upload would take the user past one of their limits."""

    code = "QUOTA_EXCEEDED"

    def __init__(self, kind: QuotaKind, limit: float, used: float, requested: float) -> None:
        super().__init__(f"{kind.value}: {used} used + {requested} requested > {limit}")
        self.kind = kind
        self.limit = limit
        self.used = used
        self.requested = requested


@dataclass(frozen=True)
class UploadQuota:
    """The per-user limits. A limit is reached, not passed, by an upload that fills it
    exactly, so a user with nothing queued can always upload one file of the longest
    allowed duration when the limit is at least that long."""

    max_queued_seconds: float
    max_stored_bytes: int

    def check(self, usage: QuotaUsage, seconds: float, size_bytes: int) -> None:
        """Raise :class:`QuotaExceededError` if adding this upload passes a limit. Stored
        bytes are checked first: only the user can free them (waiting frees queued audio
        by itself), so a user told to wait never waits for nothing."""
        if usage.stored_bytes + size_bytes > self.max_stored_bytes:
            raise QuotaExceededError(
                QuotaKind.STORED_BYTES, self.max_stored_bytes, usage.stored_bytes, size_bytes
            )
        if usage.queued_seconds + seconds > self.max_queued_seconds:
            raise QuotaExceededError(
                QuotaKind.QUEUED_AUDIO_SECONDS,
                self.max_queued_seconds,
                usage.queued_seconds,
                seconds,
            )
