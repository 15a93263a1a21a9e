"""Runs a projection: catch up from its tracking position, then follow the log live.

eventsourcing's own ProjectionRunner constructs its application itself and dies with its
subscription; the LISTEN connection behind a subscription can stall or stop (project
issue #305). This runner follows an application we built (so its mapper can decrypt) and
restarts the subscription after any failure, from the position the view has recorded, so
nothing is missed or processed twice.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, IntegrityError, Mapper
from eventsourcing.projection import ApplicationSubscription, Projection

log = logging.getLogger("ovoz.projections")

_RESTART_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class LogSource:
    """What a subscription needs of an application: its name, recorder and mapper."""

    name: str
    recorder: ApplicationRecorder
    mapper: Mapper[Any]


class SupervisedProjection:
    """One projection, kept running in a thread of its own until stopped."""

    def __init__(
        self, source: LogSource, projection: Projection[Any], *, serves_reads: bool = True
    ) -> None:
        """``serves_reads``: queries read this view, so writes wait for it (read-your-writes).
        Such a view must see every event of the log (no topic filter)."""
        self.source = source
        self.serves_reads = serves_reads
        self.projection = projection
        self.view = projection.view
        self._stopping = threading.Event()
        self._progressed = threading.Condition()
        self._subscription: ApplicationSubscription[Any] | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"projection-{projection.name}", daemon=True
        )
        self.failures = 0

    @property
    def name(self) -> str:
        return self.projection.name

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        subscription = self._subscription
        if subscription is not None:
            subscription.stop()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait(self, position: int | None, timeout: float) -> bool:
        """Block until the view has processed ``position``; False on timeout.

        Woken at once by this process's runner; polls the tracking table (briefly at
        first) in case the projection runs in another process.
        """
        if not position:
            return True
        deadline = time.monotonic() + timeout
        interval = 0.005
        while not self.view.has_tracking_id(self.source.name, position):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._stopping.is_set():
                return False
            with self._progressed:
                self._progressed.wait(min(interval, remaining))
            interval = min(interval * 2, 0.2)
        return True

    def position(self) -> int:
        return self.view.max_tracking_id(self.source.name) or 0

    def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            started_at: int | None = None
            try:
                started_at = self.position()
                self._follow()
                attempt = 0
            except IntegrityError:
                if self._moved_ahead(started_at):
                    # The view was rebuilt and swapped in past us: the event we were
                    # writing is already there. Resume from the view's position.
                    log.info("projection %s: view moved ahead (rebuilt?); resuming", self.name)
                    continue
                self._failed(attempt)
                attempt += 1
            except Exception:
                self._failed(attempt)
                attempt += 1

    def _moved_ahead(self, started_at: int | None) -> bool:
        try:
            return started_at is not None and self.position() > started_at
        except Exception:
            return False

    def _failed(self, attempt: int) -> None:
        self.failures += 1
        delay = _RESTART_DELAYS[min(attempt, len(_RESTART_DELAYS) - 1)]
        log.exception("projection %s failed; restarting in %.1f s", self.name, delay)
        self._stopping.wait(delay)

    def _follow(self) -> None:
        gt = self.view.max_tracking_id(self.source.name)
        subscription: ApplicationSubscription[Any] = ApplicationSubscription(
            app=self.source,  # type: ignore[arg-type]  # duck-typed: name, recorder, mapper
            gt=gt,
            topics=self.projection.topics,
        )
        self._subscription = subscription
        try:
            with subscription:
                if self._stopping.is_set():
                    return
                for domain_event, tracking in subscription:
                    self.projection.process_event(domain_event, tracking)
                    with self._progressed:
                        self._progressed.notify_all()
        finally:
            self._subscription = None
