"""The webhook dispatcher: threads that deliver queued messages, signed, and retry.

Each thread leases one due message at a time (``FOR UPDATE SKIP LOCKED``), so several
threads and several processes share the queue; a webhook has at most ``in_flight``
messages out at once (approximately: two claims racing may both pass), so one hanging
receiver holds at most that many threads and never the API, which only reads the queue.
A message whose attempt fails is rescheduled with exponential back-off and full jitter;
once the next try would come more than ``retry_for`` after the message was queued it is
marked failed. A lease outlives the attempt's deadline, so a message taken by a process
that died is retried by another (at-least-once; the same ``webhook-id`` every time).

Signing follows Standard Webhooks: ``webhook-signature: v1,<base64 HMAC-SHA256>`` over
``{webhook-id}.{webhook-timestamp}.{body}``; the timestamp is that of the attempt.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from eventsourcing.application import AggregateNotFoundError

from domain.errors import SubjectErasedError
from domain.recordings import Recording
from domain.recordings_app import Recordings
from domain.webhooks import Webhook, WebhookEvent, Webhooks, secret_bytes
from infrastructure.database import ConnectionParams
from infrastructure.webhook_http import Outcome, post
from infrastructure.webhook_outbox import CHANNEL, Message, WebhookOutbox
from infrastructure.webhook_urls import UrlRules

log = logging.getLogger("ovoz.webhooks")

_IDLE_POLL = 1.0
_SAFETY_POLL = 5.0
_DUE_IN = (
    "SELECT extract(epoch FROM min(next_attempt_at) - now()) AS wait FROM webhook_messages "
    "WHERE state = 'pending' AND (lease_expires_at IS NULL OR lease_expires_at < now())"
)
_LEASE_MARGIN = 10.0  # seconds a lease outlives the attempt's deadline


@dataclass(frozen=True)
class DeliveryPolicy:
    """How webhooks are delivered (see infrastructure.config.WebhookSettings)."""

    threads: int = 4
    timeout: float = 5.0
    # Base delays of retries 1, 2, ...; the last repeats. Each wait is drawn uniformly
    # from [0, base] (full jitter), so receivers that failed together do not retry together.
    backoff: tuple[float, ...] = (5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800)
    retry_for: float = 86400.0
    in_flight: int = 2

    def delay(self, attempt: int, draw: Callable[[float, float], float] = random.uniform) -> float:
        base = self.backoff[min(attempt, len(self.backoff)) - 1]
        return draw(0.0, base)


def _due_in(conn: psycopg.Connection[Any]) -> float:
    """Seconds until the next pending, unleased message is due (1 if there is none)."""
    row = conn.execute(_DUE_IN).fetchone()
    return _IDLE_POLL if row is None or row[0] is None else float(row[0])


def sign(secret: str, message_id: str, timestamp: str, body: bytes) -> str:
    """The ``webhook-signature`` header value for one attempt."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_bytes(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookDispatcher:
    """Delivery threads and the listener that wakes them (see the module docstring)."""

    def __init__(
        self,
        outbox: WebhookOutbox,
        *,
        webhooks: Webhooks,
        recordings: Recordings,
        rules: Callable[[], UrlRules],
        params: ConnectionParams,
        policy: DeliveryPolicy,
    ) -> None:
        self.outbox = outbox
        self.webhooks = webhooks
        self.recordings = recordings
        self.rules = rules
        self.params = params
        self.policy = policy
        self._stopping = threading.Event()
        self._wake = threading.Condition()
        self._generation = 0  # bumped by every NOTIFY: a claim that missed one retries
        self._threads: list[threading.Thread] = []
        self.delivered = 0

    def start(self) -> None:
        if self._threads:
            return
        base = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._threads.append(threading.Thread(target=self._listen, name="webhook-listener"))
        for n in range(self.policy.threads):
            worker = f"{base}:{n}"
            self._threads.append(
                threading.Thread(target=self._run, args=(worker,), name=f"webhook-{n}")
            )
        for thread in self._threads:
            thread.daemon = True
            thread.start()

    def request_stop(self) -> None:
        """Tell the threads to stop, without waiting for them (see stop)."""
        self._stopping.set()
        self._poke()
        if self._threads:  # the listener waits on its connection: wake it there
            with contextlib.suppress(Exception):
                self.outbox.wake_listeners()

    def stop(self, timeout: float = 10.0) -> None:
        self.request_stop()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    # -- the loop ---------------------------------------------------------------------------

    def _run(self, worker: str) -> None:
        lease = timedelta(seconds=self.policy.timeout + _LEASE_MARGIN)
        while not self._stopping.is_set():
            generation = self._generation
            try:
                message = self.outbox.claim(worker, lease, self.policy.in_flight)
                if message is not None:
                    self.deliver(message, worker)
                    continue
            except Exception:
                log.exception("webhook dispatcher %s failed; carrying on", worker)
            # Idle threads take no connection: the listener wakes them (NOTIFY, or a
            # retry falling due); the timeout is only a safety net.
            self._idle(generation, _SAFETY_POLL)

    def _idle(self, generation: int, seconds: float) -> None:
        with self._wake:
            if self._generation == generation and not self._stopping.is_set():
                self._wake.wait(seconds)

    def _poke(self) -> None:
        with self._wake:
            self._generation += 1
            self._wake.notify_all()

    def _listen(self) -> None:
        """Wake the threads as soon as messages are queued (PostgreSQL NOTIFY) or a
        retry falls due (polled on this one connection, so idle threads hold none)."""
        while not self._stopping.is_set():
            try:
                with self.params.connect() as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    wait = 0.0
                    while not self._stopping.is_set():
                        for _ in conn.notifies(timeout=wait, stop_after=1):
                            self._poke()
                        wait = _due_in(conn)
                        if wait <= 0:
                            self._poke()
                            wait = 0.25  # busy threads claim again by themselves
                        wait = min(wait, _IDLE_POLL)
            except Exception:
                log.warning("webhook listener lost its connection; reconnecting")
                self._stopping.wait(1.0)

    # -- one attempt ------------------------------------------------------------------------

    def deliver(self, message: Message, worker: str) -> str | None:
        """Make one attempt at ``message`` (leased by ``worker``); the new state."""
        webhook = self.webhooks.load(message.webhook_id)
        if webhook is None or webhook.deleted:
            self.outbox.cancel(message, worker)
            return "cancelled"
        body = self._body(message, webhook)
        timestamp = str(int(time.time()))
        headers = {
            "content-type": "application/json",
            "user-agent": "ovoz-webhooks/1",
            "webhook-id": message.id,
            "webhook-timestamp": timestamp,
            "webhook-signature": sign(webhook.secret, message.id, timestamp, body),
        }
        outcome = post(webhook.url, body, headers, self.rules(), self.policy.timeout)
        delay = 0.0 if outcome.delivered else self.policy.delay(message.attempt)
        state = self.outbox.finish(
            message,
            worker,
            outcome,
            timedelta(seconds=delay),
            timedelta(seconds=self.policy.retry_for),
        )
        self._log(message, outcome, state)
        return state

    def _body(self, message: Message, webhook: Webhook) -> bytes:
        if not (
            webhook.include_transcript and message.event is WebhookEvent.TRANSCRIPTION_COMPLETED
        ):
            return message.payload.encode()
        payload = json.loads(message.payload)
        try:  # the transcript as completed; gone if the recording was erased since
            recording: object = self.recordings.repository.get(
                message.recording_id, version=message.version
            )
        except (AggregateNotFoundError, SubjectErasedError):
            recording = None
        if isinstance(recording, Recording) and not recording.deleted:
            payload["data"]["transcriptText"] = recording.transcript_text
            payload["data"]["language"] = recording.detected_language
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()

    def _log(self, message: Message, outcome: Outcome, state: str | None) -> None:
        if outcome.delivered:
            self.delivered += 1
            return
        log.info(
            "webhook %s message %s attempt %s: %s -> %s",
            message.webhook_id,
            message.id,
            message.attempt,
            outcome.status or outcome.error,
            state,
        )
