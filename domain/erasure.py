"""What is left of an event whose subject was erased: the skeleton of the history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class ErasedEvent:
    """An event whose payload can no longer be read: only when, what kind, and whose id.

    ``topic`` names the original event class (e.g. ``domain.recordings:Recording.AudioUploaded``).
    """

    originator_id: UUID
    originator_version: int
    timestamp: datetime
    topic: str
    owner_id: UUID | None = None  # kept in clear for recordings: whose it was

    @property
    def event_name(self) -> str:
        return self.topic.rsplit(".", 1)[-1]
