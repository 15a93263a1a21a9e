"""queuePosition and etaSeconds: the queue read once for a whole page of recordings (or a
subscription's batch), never once per recording."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from strawberry.dataloader import DataLoader

from domain.recordings import TranscriptionStatus
from graphql_api.context import Context
from projections.audios import AudioRow
from projections.queue import QueueEstimate, QueueReads, Standing, Throughput, estimate

ACTIVE = frozenset({TranscriptionStatus.QUEUED, TranscriptionStatus.PROCESSING})
NONE = QueueEstimate(None, None)

_Loaded = tuple[Standing | None, Throughput]


async def estimate_of(
    context: Context,
    audio_id: UUID,
    status: TranscriptionStatus,
    audio_seconds: float | None,
    progress: float | None,
) -> QueueEstimate:
    """One recording's estimate, read together with every other one resolved in the same
    tick (the recordings of a page)."""
    if status not in ACTIVE or context.services.queue is None:
        return NONE
    standing, throughput = await _loader(context, context.services.queue).load(audio_id)
    return estimate(status, audio_seconds, progress, standing, throughput)


async def estimates_of(
    context: Context, rows: Sequence[AudioRow]
) -> tuple[dict[UUID, QueueEstimate], Throughput | None]:
    """The estimates of ``rows`` that are waiting or running, from one read, and the
    throughput they were made with (None: nothing to estimate)."""
    queue = context.services.queue
    active = [r for r in rows if r.status in ACTIVE]
    if queue is None or not active:
        return {}, None
    snapshot, _ = await run_in_threadpool(queue.snapshot, [r.id for r in active])
    estimates = {
        r.id: estimate(
            r.status,
            r.duration_seconds,
            r.progress,
            snapshot.standings.get(r.id),
            snapshot.throughput,
        )
        for r in active
    }
    return estimates, snapshot.throughput


def _loader(context: Context, queue: QueueReads) -> DataLoader[UUID, _Loaded]:
    if context.queue_loader is None:

        async def load(ids: list[UUID]) -> list[_Loaded]:
            snapshot, _ = await run_in_threadpool(queue.snapshot, ids)
            return [(snapshot.standings.get(i), snapshot.throughput) for i in ids]

        # No cache: a WebSocket's context lives as long as the socket, and positions move.
        context.queue_loader = DataLoader(load_fn=load, cache=False)
    loader: DataLoader[UUID, _Loaded] = context.queue_loader
    return loader
