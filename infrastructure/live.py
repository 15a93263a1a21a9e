"""Live recording events for subscriptions, fed by PostgreSQL LISTEN/NOTIFY.

The audios projection and the workers announce every change on one channel, committed
with the change itself; whichever process or machine made it, every API process hears it.
Each API process keeps one listening connection and fans notifications out to its
subscribers' queues. A queue is bounded: a slow subscriber loses older progress ticks,
never the process's memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import psycopg

from infrastructure.database import ConnectionParams
from projections.audios import AUDIO_EVENTS_CHANNEL

log = logging.getLogger("ovoz.live")

_QUEUE_SIZE = 64
_RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)

Notice = dict[str, Any]


class AudioEventsHub:
    """One LISTEN connection per process, many subscribers."""

    def __init__(self, params: ConnectionParams) -> None:
        self.params = params
        self._by_audio: dict[str, set[asyncio.Queue[Notice]]] = defaultdict(set)
        self._by_owner: dict[str, set[asyncio.Queue[Notice]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="audio-events-listener")
        await asyncio.wait_for(self._listening.wait(), timeout=10)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @contextlib.asynccontextmanager
    async def subscribe(
        self, *, audio_id: UUID | None = None, owner_id: UUID | None = None
    ) -> AsyncIterator[asyncio.Queue[Notice]]:
        """A queue of notices about one recording or one owner's recordings. Subscribe
        before reading the current state, so that nothing falls between the two."""
        await self.start()
        queue: asyncio.Queue[Notice] = asyncio.Queue(maxsize=_QUEUE_SIZE)
        index, key = (
            (self._by_audio, str(audio_id)) if audio_id else (self._by_owner, str(owner_id))
        )
        index[key].add(queue)
        try:
            yield queue
        finally:
            index[key].discard(queue)
            if not index[key]:
                del index[key]

    def dispatch(self, notice: Notice) -> None:
        for queue in (
            *self._by_audio.get(notice.get("id", ""), ()),
            *self._by_owner.get(notice.get("owner", ""), ()),
        ):
            if queue.full():  # a slow subscriber: forget its oldest notice
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()
            queue.put_nowait(notice)

    async def _listen(self) -> None:
        attempt = 0
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    **self.params.psycopg_kwargs(), autocommit=True
                ) as conn:
                    await conn.execute(f"LISTEN {AUDIO_EVENTS_CHANNEL}")
                    if self._listening.is_set():
                        # Back after a gap in which notices may have been lost: every
                        # subscriber re-reads its current state.
                        self._resync()
                    self._listening.set()
                    attempt = 0
                    async for notification in conn.notifies():
                        self._dispatch_raw(notification.payload)
            except asyncio.CancelledError:
                raise
            except Exception:
                delay = _RECONNECT_DELAYS[min(attempt, len(_RECONNECT_DELAYS) - 1)]
                log.warning("audio events listener lost its connection; again in %.1f s", delay)
                attempt += 1
                await asyncio.sleep(delay)

    def _resync(self) -> None:
        for queues in (*self._by_audio.values(), *self._by_owner.values()):
            for queue in queues:
                with contextlib.suppress(asyncio.QueueFull):
                    queue.put_nowait({"resync": True})

    def _dispatch_raw(self, payload: str) -> None:
        try:
            notice = json.loads(payload)
        except ValueError:
            log.warning("ignoring a malformed notification")
            return
        if isinstance(notice, dict):
            self.dispatch(notice)
