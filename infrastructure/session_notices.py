"""Every API process learns of every ended session at once (LISTEN/NOTIFY).

The sessions view NOTIFYs in the transaction that records a session's end, and the
process's notices connection (infrastructure.notices) hands each one to Callers. When
notices may have been missed (a new or lost connection), the sessions ended within one
access-token lifetime are read again from the view. Should the channel stay down, the
damage is bounded by the access-token lifetime: a session that ended can no longer be
refreshed.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from domain.ports import Clock
from infrastructure.callers import Callers
from infrastructure.notices import Channel
from infrastructure.views.sessions import SESSIONS_CHANNEL
from projections.sessions import SessionReads


def ended_sessions_channel(
    sessions: SessionReads, callers: Callers, clock: Clock, token_lifetime: timedelta
) -> Channel:
    def on_notice(payload: str) -> None:
        try:
            callers.session_ended(UUID(payload))
        except ValueError:
            return

    def on_missed() -> None:
        since = clock.now() - token_lifetime - timedelta(minutes=1)
        for session_id in sessions.ended_since(since):
            callers.session_ended(session_id)

    return Channel(SESSIONS_CHANNEL, on_notice, on_missed)
