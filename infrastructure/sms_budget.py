"""Hourly SMS budgets in PostgreSQL, shared by every API process.

One row per counter and clock hour (UTC): the client's network, the block of numbers
(:func:`domain.phone.number_block`) or the whole service. Spending is one transaction of
conditional upserts, one per budget that is on, in a fixed order (client, block, total),
so concurrent spenders never deadlock and a refusal by any budget counts in none.

Windows are fixed clock hours: ``retryAfter`` is exactly the time until the next one
opens. Across an hour boundary a client can spend two hours' budgets in a few minutes;
over any longer span it averages one budget per hour.

No personal data: a client is stored as a keyed hash of its network, salted with the
window (so rows of different hours cannot be linked to one client), and a number only as
its block of 10,000.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
from datetime import UTC, datetime, timedelta

from eventsourcing.persistence import PersistenceError
from eventsourcing.postgres import PostgresDatastore

from domain.errors import RateLimitedError
from domain.phone import number_block
from domain.ports import SmsBudget, SpentSms
from domain.signin import client_network
from infrastructure.config import SmsBudgets

log = logging.getLogger("ovoz.sms")

_WINDOW = timedelta(hours=1)
_CLIENT, _BLOCK, _TOTAL = "client", "block", "total"  # also the order rows are locked in
_NEAR_SHARE = 0.8  # of the total budget: warn once per window when it is reached
_CLIENT_KEY_HEX = 32

_CREATE = [
    """CREATE TABLE IF NOT EXISTS sms_budget (
        counter text NOT NULL,
        key text NOT NULL,
        window_start timestamptz NOT NULL,
        spent integer NOT NULL,
        PRIMARY KEY (counter, key, window_start)
    )""",
    "CREATE INDEX IF NOT EXISTS sms_budget_window ON sms_budget (window_start)",
]
# Count one more unless the counter is already at its limit: no row back means refused.
_SPEND = """
    INSERT INTO sms_budget (counter, key, window_start, spent) VALUES (%s, %s, %s, 1)
    ON CONFLICT (counter, key, window_start) DO UPDATE SET spent = sms_budget.spent + 1
    WHERE sms_budget.spent < %s
    RETURNING spent
"""
_REFUND = """
    UPDATE sms_budget SET spent = spent - 1
    WHERE counter = %s AND key = %s AND window_start = %s AND spent > 0
"""


class PostgresSmsBudget(SmsBudget):
    """The :class:`~domain.ports.SmsBudget` of ovoz: ``limits`` per hour (0: off)."""

    def __init__(self, datastore: PostgresDatastore, key: bytes, limits: SmsBudgets) -> None:
        """``key``: the secret the client hashes are keyed with (never stored)."""
        self.datastore = datastore
        self.limits = limits
        self._key = hmac.new(key, b"ovoz sms-budget client key", hashlib.sha256).digest()
        self._swept: datetime | None = None

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            for statement in _CREATE:
                curs.execute(statement)

    def spend(self, client: str | None, phone: str, now: datetime) -> SpentSms:
        window = window_of(now)
        counters = self._counters(client, phone, window)
        if not counters:
            return SpentSms(window, ())
        self._sweep(window)
        counts = []
        with self.datastore.transaction(commit=True) as curs:
            for counter, key, limit in counters:
                curs.execute(_SPEND, (counter, key, window, limit))
                row = curs.fetchone()
                if row is None:  # the exception rolls back what the others counted
                    raise RateLimitedError(_seconds_until(window + _WINDOW, now))
                counts.append(int(row["spent"]))
        # Each count is returned to exactly one spender, in whichever process: what is
        # logged below is logged once per window, not per request.
        for (counter, key, limit), count in zip(counters, counts, strict=True):
            self._watch(counter, key, limit, count)
        return SpentSms(window, tuple((counter, key) for counter, key, _ in counters))

    def refund(self, spent: SpentSms) -> None:
        try:
            with self.datastore.transaction(commit=True) as curs:
                for counter, key in spent.counters:
                    curs.execute(_REFUND, (counter, key, spent.window))
        except PersistenceError:
            log.warning("an SMS that was not sent stays counted", exc_info=True)

    # -- internals -----------------------------------------------------------------------

    def _counters(
        self, client: str | None, phone: str, window: datetime
    ) -> list[tuple[str, str, int]]:
        limits = self.limits
        counters = []
        if limits.per_client > 0:
            counters.append((_CLIENT, self._client_key(client, window), limits.per_client))
        if limits.per_block > 0:
            counters.append((_BLOCK, number_block(phone), limits.per_block))
        if limits.total > 0:
            counters.append((_TOTAL, "", limits.total))
        return counters

    def _client_key(self, client: str | None, window: datetime) -> str:
        # Every client the server cannot tell apart (no address) shares one budget.
        network = client_network(client) if client else b"unknown"
        salt = window.isoformat().encode()
        digest = hmac.new(self._key, salt + b"\x00" + network, hashlib.sha256)
        return digest.hexdigest()[:_CLIENT_KEY_HEX]

    def _watch(self, counter: str, key: str, limit: int, spent: int) -> None:
        if counter == _BLOCK and spent == limit:
            log.warning("SMS budget of the numbers %s… spent: %d this hour", key, limit)
        elif counter == _TOTAL:
            self._watch_total(limit, spent)

    def _watch_total(self, limit: int, spent: int) -> None:
        if spent == max(1, math.ceil(limit * _NEAR_SHARE)):
            log.warning(
                "SMS budget: %d of SMS_MAX_PER_HOUR=%d spent this hour; past it nobody "
                "gets a code until the hour ends",
                spent,
                limit,
            )
        if spent == limit:
            log.error(
                "SMS budget spent: SMS_MAX_PER_HOUR=%d reached, sign-in codes refused until "
                "the hour ends (SMS pumping? see the block budgets in the log)",
                limit,
            )

    def _sweep(self, window: datetime) -> None:
        """Forget past windows, once per window per process (best effort)."""
        if self._swept == window:
            return
        self._swept = window
        try:
            with self.datastore.transaction(commit=True) as curs:
                curs.execute("DELETE FROM sms_budget WHERE window_start < %s", (window,))
        except PersistenceError:
            log.warning("past SMS budget windows not deleted; next window", exc_info=True)


def window_of(now: datetime) -> datetime:
    """The clock hour (UTC) ``now`` falls in."""
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))
