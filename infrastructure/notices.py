"""One LISTEN connection per process for the notices that keep its caches true.

Destroyed data keys, ended sessions and revoked API keys are each announced by a NOTIFY
on a channel of their own (sent in the transaction that records them). A process follows
all of them on one connection: each channel names what to do with a notice, and what to
do when notices may have been missed (the connection was lost, or is new).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from infrastructure.database import ConnectionParams

log = logging.getLogger("ovoz.notices")


@dataclass(frozen=True)
class Channel:
    name: str
    on_notice: Callable[[str], None]  # the payload
    # Notices may have been missed: called when the connection is lost and again once a
    # new one listens (before its first notice), so a cache can start over.
    on_missed: Callable[[], None]


def follow(
    params: ConnectionParams, channels: Sequence[Channel], stopping: threading.Event
) -> None:
    """Follow ``channels`` until ``stopping`` is set. Blocks: run it in a thread."""
    by_name = {c.name: c for c in channels}
    while not stopping.is_set():
        try:
            with params.connect() as conn:
                for channel in channels:
                    conn.execute(f"LISTEN {channel.name}")
                for channel in channels:
                    channel.on_missed()
                while not stopping.is_set():
                    for notice in conn.notifies(timeout=1.0):
                        by_name[notice.channel].on_notice(notice.payload)
        except Exception as error:
            if stopping.is_set():  # the process is closing: its database may be gone
                return
            log.warning("lost the notices connection (%s); listening again", type(error).__name__)
            for channel in channels:
                try:
                    channel.on_missed()
                except Exception:  # noqa: S112 - its own next connection tries again
                    continue
            stopping.wait(1.0)
