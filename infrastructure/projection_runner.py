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
import traceback
from dataclasses import dataclass
from typing import Any

import psycopg
from eventsourcing.persistence import (
    ApplicationRecorder,
    ConnectionPoolClosedError,
    IntegrityError,
    InterfaceError,
    Mapper,
    OperationalError,
    Tracking,
)
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import ApplicationSubscription, Projection

log = logging.getLogger("ovoz.projections")

_RESTART_DELAYS = (0.1, 0.5, 1.0, 2.0, 5.0)
# Failures of the database itself: they say nothing about the event, so retry for ever.
_TRANSIENT = (
    OperationalError,
    InterfaceError,
    ConnectionPoolClosedError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    TimeoutError,
)
PARK_AFTER = 3  # failures of one event, with nothing else wrong, before it is set aside
PARKED_TABLE = "projection_parked_events"
_CREATE_PARKED = f"""CREATE TABLE IF NOT EXISTS {PARKED_TABLE} (
    projection text NOT NULL,
    notification_id bigint NOT NULL,
    originator_id uuid,
    originator_version integer,
    topic text NOT NULL,
    error text NOT NULL,
    parked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, notification_id)
)"""


@dataclass(frozen=True)
class LogSource:
    """What a subscription needs of an application: its name, recorder and mapper."""

    name: str
    recorder: ApplicationRecorder
    mapper: Mapper[Any]


class SupervisedProjection:
    """One projection, kept running in a thread of its own until stopped."""

    def __init__(
        self,
        source: LogSource,
        projection: Projection[Any],
        *,
        serves_reads: bool = True,
        parks_poison: bool = True,
    ) -> None:
        """``serves_reads``: queries read this view, so writes wait for it (read-your-writes).
        Such a view must see every event of the log (no topic filter).

        ``parks_poison``: an event that fails ``PARK_AFTER`` times in a row while the
        database is fine (a bug, or a value the view cannot hold) is recorded in
        ``projection_parked_events``, logged as an error and passed over, so that one bad
        event cannot stop the view for every user. Off where skipping would break a
        promise (erasure must happen, however long it takes)."""
        self.source = source
        self.serves_reads = serves_reads
        self.parks_poison = parks_poison
        self.projection = projection
        self.view = projection.view
        self._stopping = threading.Event()
        self._progressed = threading.Condition()
        self._subscription: ApplicationSubscription[Any] | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"projection-{projection.name}", daemon=True
        )
        self.failures = 0
        self.parked = 0
        self._current: tuple[Any, Tracking] | None = None  # the event being processed
        self._failing: tuple[int, int] = (0, 0)  # (notification id, consecutive failures)

    @property
    def name(self) -> str:
        return self.projection.name

    def start(self) -> None:
        self._thread.start()

    def request_stop(self) -> None:
        """Tell the runner to stop, without waiting for it (see stop)."""
        self._stopping.set()
        subscription = self._subscription
        if subscription is not None:
            subscription.stop()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
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

    def catch_up(self, timeout: float) -> None:
        """Wait until the view has processed every event of its log so far; TimeoutError
        if it does not within ``timeout`` (for what must be listed whole, such as the
        things an account erasure destroys)."""
        head = self.source.recorder.max_notification_id() or 0
        if not self.wait(head, timeout):
            raise TimeoutError(f"the {self.name} read model is not keeping up")

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
            except _TRANSIENT:
                self._failed(attempt)
                attempt += 1
            except Exception as error:
                if self._is_poison() and self._park(error):
                    attempt = 0
                    continue
                self._failed(attempt)
                attempt += 1

    def _is_poison(self) -> bool:
        """Count a failure of the current event; True once it has failed often enough."""
        if not self.parks_poison:
            return False
        if self._current is None:
            # The failure came before an event reached the projection (one that cannot
            # be read back): it is the next notification after this view's position.
            self._current = self._next_notification()
            if self._current is None:
                return False
        notification_id = self._current[1].notification_id
        previous, count = self._failing
        count = count + 1 if previous == notification_id else 1
        self._failing = (notification_id, count)
        return count >= PARK_AFTER

    def _next_notification(self) -> tuple[Any, Tracking] | None:
        try:
            after = self.position()
            found = self.source.recorder.select_notifications(
                start=after + 1, limit=1, topics=self.projection.topics
            )
        except Exception:
            return None
        if not found:
            return None
        return found[0], Tracking(self.source.name, found[0].id)

    def _park(self, error: Exception) -> bool:
        """Record the current event as parked, with this view's tracking, in one
        transaction; False if that could not be done (the failure is then retried)."""
        assert self._current is not None
        domain_event, tracking = self._current
        view = self.view
        if not isinstance(view, PostgresTrackingRecorder):
            return False
        topic = getattr(domain_event, "topic", None) or (
            f"{type(domain_event).__module__}.{type(domain_event).__qualname__}"
        )
        detail = _describe(error)
        try:
            with view.datastore.transaction(commit=True) as curs:
                curs.execute(_CREATE_PARKED)
                curs.execute(
                    f"INSERT INTO {PARKED_TABLE} (projection, notification_id, "  # noqa: S608
                    "originator_id, originator_version, topic, error) "
                    "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    (
                        self.name,
                        tracking.notification_id,
                        getattr(domain_event, "originator_id", None),
                        getattr(domain_event, "originator_version", None),
                        topic,
                        detail,
                    ),
                )
                view._insert_tracking(curs, tracking)
        except Exception:
            log.exception("projection %s: could not park event %s", self.name, tracking)
            return False
        self.parked += 1
        self._current = None
        log.error(
            "projection %s parked event %s (%s of %s) after %s failures: %s",
            self.name,
            tracking.notification_id,
            topic,
            getattr(domain_event, "originator_id", "?"),
            PARK_AFTER,
            detail,
        )
        with self._progressed:
            self._progressed.notify_all()
        return True

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
                    self._current = (domain_event, tracking)
                    self.projection.process_event(domain_event, tracking)
                    self._current = None
                    with self._progressed:
                        self._progressed.notify_all()
        finally:
            self._subscription = None


def _describe(error: BaseException) -> str:
    """What failed and where, without the error's message: messages quote the values
    (a filename, a transcript), and neither the table nor the log may keep those."""
    names = [type(error).__name__]
    cause = error.__cause__ or error.__context__
    if cause is not None:
        names.append(type(cause).__name__)
    sqlstate = getattr(cause, "sqlstate", None) or getattr(error, "sqlstate", None)
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    state = f" (SQLSTATE {sqlstate})" if sqlstate else ""
    return " from ".join(names) + state + where
