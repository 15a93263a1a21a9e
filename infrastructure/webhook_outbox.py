"""The webhook delivery queue, and the processor that fills it from the recordings log.

For every TranscriptionCompleted, final TranscriptionFailed and AudioDeleted of an owner
with webhooks subscribed to it, :class:`WebhookFanOut` inserts one message per webhook
into ``webhook_messages`` in the same transaction as its tracking record: each event is
fanned out exactly once, even across crashes, and each message is then delivered at
least once by the dispatcher (infrastructure.webhook_dispatcher). A message's id is the
``webhook-id`` of every attempt, derived from the webhook and the event, so it is stable.

Only events recorded after a webhook was created reach it: a processor that starts on an
old database does not replay history to new subscribers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.projection import Projection
from eventsourcing.utils import get_topic
from psycopg.sql import SQL

from domain.erasure import ErasedEvent
from domain.recordings import Recording
from domain.webhooks import DeliveryRecords, WebhookEvent
from infrastructure.webhook_http import Outcome
from projections.webhooks import DeliveryRow

CHANNEL = "ovoz_webhooks"

_CREATE = (
    """CREATE TABLE IF NOT EXISTS webhook_messages (
        id text PRIMARY KEY,
        webhook_id uuid NOT NULL,
        owner_id uuid NOT NULL,
        event text NOT NULL,
        recording_id uuid NOT NULL,
        version integer NOT NULL,
        payload text NOT NULL,
        state text NOT NULL DEFAULT 'pending',
        attempt integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        lease_owner text,
        lease_expires_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX IF NOT EXISTS webhook_messages_due "
    "ON webhook_messages (next_attempt_at) WHERE state = 'pending'",
    "CREATE INDEX IF NOT EXISTS webhook_messages_owner ON webhook_messages (owner_id)",
    """CREATE TABLE IF NOT EXISTS webhook_attempts (
        id bigserial PRIMARY KEY,
        message_id text NOT NULL,
        webhook_id uuid NOT NULL,
        owner_id uuid NOT NULL,
        event text NOT NULL,
        attempt integer NOT NULL,
        attempted_at timestamptz NOT NULL DEFAULT now(),
        http_status integer,
        error text,
        response_excerpt text,
        duration_ms integer NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS webhook_attempts_webhook ON webhook_attempts (webhook_id, id)",
    "CREATE INDEX IF NOT EXISTS webhook_attempts_owner ON webhook_attempts (owner_id)",
)

_FAN_OUT = (
    "INSERT INTO webhook_messages (id, webhook_id, owner_id, event, recording_id, version, "
    "payload) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING"
)
_SUBSCRIBED = (
    "SELECT w.id FROM webhooks w WHERE w.owner_id = %s AND NOT w.deleted "
    "AND w.events ? %s AND w.created_at <= %s "
    "AND NOT EXISTS (SELECT 1 FROM subject_keys k WHERE k.subject_id = w.owner_id "
    "  AND k.destroyed_at IS NOT NULL)"  # an erased account's webhooks get nothing more
)
_CLAIM = """
UPDATE webhook_messages m SET attempt = m.attempt + 1, lease_owner = %(worker)s,
    lease_expires_at = now() + %(lease)s, updated_at = now()
WHERE m.id = (
    SELECT c.id FROM webhook_messages c
    WHERE c.state = 'pending' AND c.next_attempt_at <= now()
      AND (c.lease_expires_at IS NULL OR c.lease_expires_at < now())
      AND (SELECT count(*) FROM webhook_messages b WHERE b.webhook_id = c.webhook_id
           AND b.state = 'pending' AND b.lease_expires_at >= now()) < %(in_flight)s
    ORDER BY c.next_attempt_at LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING m.id, m.webhook_id, m.owner_id, m.event, m.recording_id, m.version, m.payload,
    m.attempt
"""
_FINISH = """
UPDATE webhook_messages SET
    state = CASE WHEN %(delivered)s THEN 'delivered'
                 WHEN now() + %(delay)s > created_at + %(retry_for)s THEN 'failed'
                 ELSE 'pending' END,
    next_attempt_at = now() + %(delay)s, lease_owner = NULL, lease_expires_at = NULL,
    updated_at = now()
WHERE id = %(id)s AND lease_owner = %(worker)s AND attempt = %(attempt)s
RETURNING state
"""


@dataclass(frozen=True)
class RecordingEvent:
    """An event of a recording that webhooks may be told of."""

    owner_id: UUID
    kind: WebhookEvent
    recording_id: UUID
    version: int
    at: datetime

    @classmethod
    def of(cls, e: Any, kind: WebhookEvent) -> RecordingEvent:
        return cls(e.owner_id, kind, e.originator_id, e.originator_version, e.timestamp)


@dataclass(frozen=True)
class Message:
    """A claimed message: one event for one webhook, and which attempt this is."""

    id: str
    webhook_id: UUID
    owner_id: UUID
    event: WebhookEvent
    recording_id: UUID
    version: int
    payload: str
    attempt: int


def message_id(webhook_id: UUID, recording_id: UUID, version: int) -> str:
    """The stable ``webhook-id`` of one event of one recording for one webhook."""
    digest = hashlib.sha256(webhook_id.bytes + recording_id.bytes + version.to_bytes(8, "big"))
    return "msg_" + digest.hexdigest()[:32]


class WebhookOutbox(PostgresTrackingRecorder, DeliveryRecords):
    """``webhook_messages`` and ``webhook_attempts``, and the fan-out's tracking."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, tracking_table_name="webhook_fanout_tracking", **kwargs)
        self.sql_create_statements.extend(SQL(s).format() for s in _CREATE)

    # -- the fan-out ------------------------------------------------------------------------

    def fan_out(self, event: RecordingEvent, tracking: Tracking) -> int:
        """One message per webhook of the event's owner subscribed to its kind,
        committed with ``tracking``; returns how many."""
        e = event
        body = _body(e)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(_SUBSCRIBED, (e.owner_id, e.kind.value, e.at))
            hooks = [r["id"] for r in curs.fetchall()]
            if hooks:
                curs.executemany(
                    _FAN_OUT,
                    [
                        (
                            message_id(h, e.recording_id, e.version),
                            h,
                            e.owner_id,
                            e.kind.value,
                            e.recording_id,
                            e.version,
                            body,
                        )
                        for h in hooks
                    ],
                )
                curs.execute(f"NOTIFY {CHANNEL}")
            self._insert_tracking(curs, tracking)
        return len(hooks)

    # -- the dispatcher ---------------------------------------------------------------------

    def wake_listeners(self) -> None:
        """NOTIFY the dispatchers' listeners (one stopping wakes its own at once)."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(f"NOTIFY {CHANNEL}")

    def claim(self, worker: str, lease: timedelta, in_flight: int) -> Message | None:
        """Lease the most overdue message whose webhook has fewer than ``in_flight``
        messages in flight, or None."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(_CLAIM, {"worker": worker, "lease": lease, "in_flight": in_flight})
            row = curs.fetchone()
        if row is None:
            return None
        return Message(
            id=row["id"],
            webhook_id=row["webhook_id"],
            owner_id=row["owner_id"],
            event=WebhookEvent(row["event"]),
            recording_id=row["recording_id"],
            version=row["version"],
            payload=row["payload"],
            attempt=row["attempt"],
        )

    def finish(
        self,
        message: Message,
        worker: str,
        outcome: Outcome,
        delay: timedelta,
        retry_for: timedelta,
    ) -> str | None:
        """Record the attempt; the message is delivered, rescheduled after ``delay``, or
        failed if that would be past ``retry_for`` since it was queued. Returns the new
        state; None if the lease was lost (or the owner erased meanwhile): no record."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                _FINISH,
                {
                    "delivered": outcome.delivered,
                    "delay": delay,
                    "retry_for": retry_for,
                    "id": message.id,
                    "worker": worker,
                    "attempt": message.attempt,
                },
            )
            row = curs.fetchone()
            if row is None:
                return None
            curs.execute(
                "INSERT INTO webhook_attempts (message_id, webhook_id, owner_id, event, "
                "attempt, http_status, error, response_excerpt, duration_ms) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    message.id,
                    message.webhook_id,
                    message.owner_id,
                    message.event.value,
                    message.attempt,
                    outcome.status,
                    outcome.error,
                    outcome.excerpt,
                    outcome.duration_ms,
                ),
            )
            return str(row["state"])

    def cancel(self, message: Message, worker: str) -> None:
        """The webhook is deleted or erased: the message is never sent."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "UPDATE webhook_messages SET state = 'cancelled', lease_owner = NULL, "
                "lease_expires_at = NULL, updated_at = now() "
                "WHERE id = %s AND lease_owner = %s",
                (message.id, worker),
            )

    def seconds_until_due(self) -> float | None:
        """How long until the next pending message is due (None: nothing pending)."""
        with self.datastore.cursor() as curs:
            curs.execute(
                "SELECT extract(epoch FROM min(next_attempt_at) - now()) AS wait "
                "FROM webhook_messages WHERE state = 'pending'"
            )
            row = curs.fetchone()
        wait = None if row is None else row["wait"]
        return None if wait is None else float(wait)

    def state_of(self, message_id: str) -> dict[str, Any] | None:
        with self.datastore.cursor() as curs:
            curs.execute(
                "SELECT state, attempt, next_attempt_at FROM webhook_messages WHERE id = %s",
                (message_id,),
            )
            row = curs.fetchone()
        return None if row is None else dict(row)

    # -- reads and erasure ------------------------------------------------------------------

    def attempts(self, webhook_id: UUID, limit: int) -> list[DeliveryRow]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT message_id, webhook_id, event, attempt, attempted_at, http_status, "
                "error, response_excerpt, duration_ms FROM webhook_attempts "
                "WHERE webhook_id = %s ORDER BY id DESC LIMIT %s",
                (webhook_id, limit),
            )
            rows = curs.fetchall()
        return [DeliveryRow(**{**r, "event": WebhookEvent(r["event"])}) for r in rows]

    def forget_owner(self, owner_id: UUID) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("DELETE FROM webhook_messages WHERE owner_id = %s", (owner_id,))
            curs.execute("DELETE FROM webhook_attempts WHERE owner_id = %s", (owner_id,))


_STATUS = {
    WebhookEvent.TRANSCRIPTION_COMPLETED: "COMPLETED",
    WebhookEvent.TRANSCRIPTION_FAILED: "FAILED",
    WebhookEvent.AUDIO_DELETED: "DELETED",
}


def _body(e: RecordingEvent) -> str:
    data = {"audioId": str(e.recording_id), "status": _STATUS[e.kind], "version": e.version}
    return json.dumps(
        {"type": e.kind.wire_type, "timestamp": e.at.isoformat(), "data": data},
        separators=(",", ":"),
    )


_DELETED_TOPIC = get_topic(Recording.AudioDeleted)


class WebhookFanOut(Projection[WebhookOutbox]):
    """Follows the recordings log and queues a message per subscribed webhook."""

    name = "webhook_fanout"
    topics = tuple(
        get_topic(c)
        for c in (
            Recording.TranscriptionCompleted,
            Recording.TranscriptionFailed,
            Recording.AudioDeleted,
        )
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, e: Recording.TranscriptionCompleted, tracking: Tracking) -> None:
        kind = WebhookEvent.TRANSCRIPTION_COMPLETED
        self.view.fan_out(RecordingEvent.of(e, kind), tracking)

    @process_event.register
    def _(self, e: Recording.TranscriptionFailed, tracking: Tracking) -> None:
        if e.retryable:  # back in the queue: not a failure anyone needs to act on yet
            self.view.insert_tracking(tracking)
            return
        kind = WebhookEvent.TRANSCRIPTION_FAILED
        self.view.fan_out(RecordingEvent.of(e, kind), tracking)

    @process_event.register
    def _(self, e: Recording.AudioDeleted, tracking: Tracking) -> None:
        kind = WebhookEvent.AUDIO_DELETED
        self.view.fan_out(RecordingEvent.of(e, kind), tracking)

    @process_event.register
    def _(self, e: ErasedEvent, tracking: Tracking) -> None:
        # A deleted recording's key goes at once, so its AudioDeleted usually arrives
        # erased; it still names the owner. Completions and failures of a recording
        # erased since are not announced: its deletion is, and nothing else is left.
        if e.topic == _DELETED_TOPIC and e.owner_id is not None:
            kind = WebhookEvent.AUDIO_DELETED
            self.view.fan_out(RecordingEvent.of(e, kind), tracking)
        else:
            self.view.insert_tracking(tracking)
