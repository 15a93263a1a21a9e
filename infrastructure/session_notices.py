"""Every API process learns of every ended session at once (LISTEN/NOTIFY).

The sessions view NOTIFYs in the transaction that records a session's end. A process that
connects (or reconnects after losing its connection, when notices may have been missed)
first LISTENs, then reads the sessions ended within one access-token lifetime from the
view, and then follows the notices. Should the channel stay down, the damage is bounded by
the access-token lifetime: a session that ended can no longer be refreshed.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from uuid import UUID

from domain.ports import Clock
from infrastructure.callers import Callers
from infrastructure.database import ConnectionParams
from infrastructure.views.sessions import SESSIONS_CHANNEL
from projections.sessions import SessionReads

log = logging.getLogger("ovoz.sessions")


def follow_ended_sessions(  # noqa: PLR0917 - a thread's target takes positional args
    params: ConnectionParams,
    sessions: SessionReads,
    callers: Callers,
    clock: Clock,
    token_lifetime: timedelta,
    stopping: threading.Event,
) -> None:
    """Feed ``callers`` every ended session until ``stopping`` is set. Blocks."""
    while not stopping.is_set():
        try:
            with params.connect() as conn:
                conn.execute(f"LISTEN {SESSIONS_CHANNEL}")
                since: datetime = clock.now() - token_lifetime - timedelta(minutes=1)
                for session_id in sessions.ended_since(since):
                    callers.session_ended(session_id)
                while not stopping.is_set():
                    for notice in conn.notifies(timeout=1.0):
                        _note(callers, notice.payload)
        except Exception:
            log.warning("lost the sessions channel; reconnecting", exc_info=True)
            stopping.wait(1.0)


def _note(callers: Callers, payload: str) -> None:
    try:
        callers.session_ended(UUID(payload))
    except ValueError:
        return
