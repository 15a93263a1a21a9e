"""Live recording events for subscriptions, fed by PostgreSQL LISTEN/NOTIFY.

The audios projection and the workers announce every change on one channel, committed
with the change itself; whichever process or machine made it, every API process hears it.
Each API process keeps one listening connection and fans notifications out to its
subscribers' queues. A queue is bounded: a slow subscriber loses older progress ticks,
never the process's memory.

The queue moving (a job queued, claimed, given up or ended) is one more notice, with no
recording in it. Each process answers it for all its subscribers at once: one read of the
standings of every waiting recording that someone here follows, at most once a second
(and every ten seconds while jobs run, as ETAs shorten), fanned out as a notice per
recording. A thousand subscribers cost that one read, not a thousand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import psycopg

from infrastructure.database import ConnectionParams
from projections.audios import AUDIO_EVENTS_CHANNEL
from projections.queue import QueueReads

log = logging.getLogger("ovoz.live")

_QUEUE_SIZE = 64
_RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)
_QUEUE_REFRESH_SECONDS = 1.0  # at most one read of the queue this often, per process
_ETA_REFRESH_SECONDS = 10.0  # while jobs run (progress ticks) and nothing else moves

Notice = dict[str, Any]


class AudioEventsHub:
    """One LISTEN connection per process, many subscribers."""

    def __init__(self, params: ConnectionParams, queue: QueueReads | None = None) -> None:
        self.params = params
        self.queue = queue  # None: no queue notices (positions come with status changes)
        self._by_audio: dict[str, set[asyncio.Queue[Notice]]] = defaultdict(set)
        self._by_owner: dict[str, set[asyncio.Queue[Notice]]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._refresher: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self._queue_moved = asyncio.Event()
        self._last_refresh = 0.0

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen(), name="audio-events-listener")
        if self._refresher is None and self.queue is not None:
            self._refresher = asyncio.create_task(self._refresh(), name="queue-refresher")
        await asyncio.wait_for(self._listening.wait(), timeout=10)

    async def stop(self) -> None:
        for task in (self._task, self._refresher):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._refresher = None

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

    async def _refresh(self) -> None:
        """Re-read the queue when it moved, for everyone here at once, at most once per
        ``_QUEUE_REFRESH_SECONDS``: notices that arrive meanwhile make one more read."""
        while True:
            await self._queue_moved.wait()
            self._queue_moved.clear()
            self._last_refresh = time.monotonic()
            try:
                await self._dispatch_standings()
            except Exception:
                log.warning("could not read the queue for its subscribers", exc_info=True)
            await asyncio.sleep(_QUEUE_REFRESH_SECONDS)

    async def _dispatch_standings(self) -> None:
        audio_ids = [UUID(k) for k in self._by_audio]
        owner_ids = [UUID(k) for k in self._by_owner]
        if self.queue is None or not (audio_ids or owner_ids):
            return
        snapshot, owners = await asyncio.to_thread(self.queue.snapshot, audio_ids, owner_ids)
        for audio_id, standing in snapshot.standings.items():
            self.dispatch(
                {
                    "id": str(audio_id),
                    "owner": str(owners[audio_id]),
                    "queue": (standing, snapshot.throughput),
                }
            )

    def _moved(self, notice: Notice) -> None:
        """The queue moved, or a job progressed (which only shortens ETAs: re-read for
        that at most every ``_ETA_REFRESH_SECONDS``)."""
        if notice.get("queue_moved") or (
            time.monotonic() - self._last_refresh >= _ETA_REFRESH_SECONDS
        ):
            self._queue_moved.set()

    def _resync(self) -> None:
        self._queue_moved.set()
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
        if not isinstance(notice, dict):
            return
        if notice.get("queue_moved") or notice.get("progress") is not None:
            self._moved(notice)
        if not notice.get("queue_moved"):
            self.dispatch(notice)
