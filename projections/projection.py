"""What every read model's projection shares: a projection typed by the port it writes
through, that port's tracking, and the tracking of an in-memory view."""

from __future__ import annotations

from typing import Any, Generic, Protocol, TypeVar

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

View = TypeVar("View")


class ViewProjection(Projection[Any], Generic[View]):
    """eventsourcing's ``Projection`` wants its view to be a tracking recorder; ours write
    through a declared port (``AudioWrites`` …), which the PostgreSQL view and the
    in-memory view a rebuild replays into both implement."""

    def __init__(self, view: View) -> None:
        super().__init__(view)

    @property
    def view(self) -> View:
        return self._view  # type: ignore[no-any-return]


class TrackedWrites(Protocol):
    """What every view's write port has: its place in the log it follows."""

    def skip(self, tracking: Tracking) -> None:
        """Record that an event changed nothing here."""

    def max_tracking_id(self, application_name: str) -> int | None:
        """The position in ``application_name``'s log this view has processed."""


class InMemoryTracking:
    """Where an in-memory view stands in its log (what a tracking table records)."""

    def __init__(self) -> None:
        self.position = 0

    def max_tracking_id(self, application_name: str) -> int | None:
        return self.position or None

    def skip(self, tracking: Tracking) -> None:
        self.position = max(self.position, tracking.notification_id)
