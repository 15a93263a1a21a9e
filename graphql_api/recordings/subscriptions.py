"""audioStatus and myAudioEvents: live status of recordings over graphql-transport-ws."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from typing import Any
from uuid import UUID

import strawberry
from graphql import GraphQLError
from starlette.concurrency import run_in_threadpool

from domain.access import Principal, Scope
from domain.recordings import TranscriptionStatus
from graphql_api.auth import current_principal
from graphql_api.context import Context, Info
from graphql_api.messages import message
from graphql_api.recordings.queries import parse_id
from graphql_api.recordings.queue import NONE, estimates_of
from graphql_api.recordings.types import Audio
from projections.audios import AudioFilter, AudioRow
from projections.queue import QueueEstimate, Standing, Throughput, estimate

_TERMINAL = {"COMPLETED", "FAILED"}


@strawberry.type(description="A change of a recording's transcription.")
class AudioStatusEvent:
    audio_id: strawberry.ID
    status: TranscriptionStatus
    progress: float | None
    version: int
    error: str | None
    audio: Audio | None = strawberry.field(
        description="The recording as it is now (with the transcript once COMPLETED)."
    )
    queue_position: int | None = strawberry.field(
        default=None,
        description="As Audio.queuePosition; a new event comes as the recordings ahead move.",
    )
    eta_seconds: float | None = strawberry.field(
        default=None, description="As Audio.etaSeconds, as of this event."
    )

    @classmethod
    def from_row(cls, row: AudioRow, queue: QueueEstimate = NONE) -> AudioStatusEvent:
        audio = Audio.from_row(row)
        audio.queue = queue
        return cls(
            audio_id=strawberry.ID(str(row.id)),
            status=row.status,
            progress=row.progress,
            version=row.version,
            error=row.error,
            audio=audio,
            queue_position=queue.position,
            eta_seconds=queue.eta_seconds,
        )


def _not_found(context: Context) -> GraphQLError:
    return GraphQLError(message("NOT_FOUND", context.locale), extensions={"code": "NOT_FOUND"})


async def _visible_row(context: Context, principal: Principal, audio_id: UUID) -> AudioRow | None:
    row = await run_in_threadpool(context.services.audios.get, audio_id)
    return row if row is not None and principal.may_see(row.owner_id) else None


class _Follower:
    """Turns notices about one recording into events, in order, without repeats."""

    def __init__(self, context: Context, principal: Principal, audio_id: UUID) -> None:
        self.context = context
        self.principal = principal
        self.audio_id = audio_id
        self.version = 0
        self.progress: float | None = None
        self.row: AudioRow | None = None
        self.sent = NONE  # the position and ETA last sent
        self.throughput: Throughput | None = None  # what the last estimate was made with

    async def current(self) -> AudioStatusEvent | None:
        row = await _visible_row(self.context, self.principal, self.audio_id)
        if row is None:
            return None
        return await self.accept_now(row)

    async def accept_now(self, row: AudioRow) -> AudioStatusEvent:
        """``row`` as an event, with its position and ETA read now."""
        estimates, throughput = await estimates_of(self.context, [row])
        return self.accept(row, estimates.get(row.id, NONE), throughput)

    async def on_notice(self, notice: dict[str, Any]) -> AudioStatusEvent | bool | None:
        """An event to send, None to send nothing, False when the recording is gone."""
        if notice.get("status") == "DELETED":
            return False
        if "queue" in notice:
            standing, throughput = notice["queue"]
            return self.on_queue_moved(standing, throughput)
        progress = notice.get("progress")
        if progress is not None and not notice.get("resync"):
            return self.on_progress(progress, notice.get("version", 0))
        row = await _visible_row(self.context, self.principal, self.audio_id)
        if row is None:
            return False
        if row.version <= self.version:
            return None
        return await self.accept_now(row)

    def on_progress(self, progress: float, version: int) -> AudioStatusEvent | None:
        """A tick of a running transcription: its ETA follows from the last estimate."""
        if version < self.version or (self.progress or 0) >= progress:
            return None
        self.progress = progress
        self.sent = self._estimate(TranscriptionStatus.PROCESSING, None, self.throughput)
        return self._event(TranscriptionStatus.PROCESSING, progress)

    def on_queue_moved(self, standing: Standing, throughput: Throughput) -> AudioStatusEvent | None:
        """The recording, still QUEUED, stands elsewhere or expects another ETA: an event
        only if that is news (a new position, or an ETA off by more than a tenth)."""
        if self.row is None or self.row.status is not TranscriptionStatus.QUEUED:
            return None
        self.throughput = throughput
        now = self._estimate(TranscriptionStatus.QUEUED, standing, throughput)
        if not _news(self.sent, now):
            return None
        self.sent = now
        return self._event(TranscriptionStatus.QUEUED, None)

    def accept(
        self, row: AudioRow, queue: QueueEstimate = NONE, throughput: Throughput | None = None
    ) -> AudioStatusEvent:
        self.version = row.version
        self.progress = row.progress
        self.row, self.sent, self.throughput = row, queue, throughput or self.throughput
        return AudioStatusEvent.from_row(row, queue)

    def _estimate(
        self, status: TranscriptionStatus, standing: Standing | None, throughput: Throughput | None
    ) -> QueueEstimate:
        if self.row is None or throughput is None:
            return NONE
        return estimate(status, self.row.duration_seconds, self.progress, standing, throughput)

    def _event(self, status: TranscriptionStatus, progress: float | None) -> AudioStatusEvent:
        """An event of what moved alone (the recording itself did not change)."""
        return AudioStatusEvent(
            audio_id=strawberry.ID(str(self.audio_id)),
            status=status,
            progress=progress,
            version=self.version,
            error=None,
            audio=None,
            queue_position=self.sent.position,
            eta_seconds=self.sent.eta_seconds,
        )


@strawberry.type
class RecordingsSubscription:
    @strawberry.subscription(
        description="The recording's status: its current state first, then every change."
    )
    async def audio_status(
        self, info: Info, id: strawberry.ID
    ) -> AsyncGenerator[AudioStatusEvent, None]:
        context = info.context
        principal = await current_principal(context, Scope.RECORDINGS_READ)
        audio_id = parse_id(id)
        if audio_id is None:
            raise _not_found(context)
        follower = _Follower(context, principal, audio_id)
        async with context.services.live.subscribe(audio_id=audio_id) as queue:
            first = await follower.current()
            if first is None:
                raise _not_found(context)
            yield first
            while True:
                for notice in await _next_notices(queue):
                    follower.principal = await current_principal(context, Scope.RECORDINGS_READ)
                    event = await follower.on_notice(notice)
                    if event is False:
                        return
                    if isinstance(event, AudioStatusEvent):
                        yield event

    @strawberry.subscription(
        description="Changes of all your recordings; first the ones still in progress."
    )
    async def my_audio_events(self, info: Info) -> AsyncGenerator[AudioStatusEvent, None]:
        context = info.context
        principal = await current_principal(context, Scope.RECORDINGS_READ)
        followers: dict[UUID, _Follower] = {}
        async with context.services.live.subscribe(owner_id=principal.user_id) as queue:
            page = await run_in_threadpool(
                context.services.audios.page, AudioFilter(owner_id=principal.user_id), 0, 100
            )
            estimates, throughput = await estimates_of(context, page.items)
            for row in page.items:
                follower = followers[row.id] = _Follower(context, principal, row.id)
                if row.status.value not in _TERMINAL:
                    yield follower.accept(row, estimates.get(row.id, NONE), throughput)
                else:
                    follower.version = row.version
            while True:
                for notice in await _next_notices(queue):
                    principal = await current_principal(context, Scope.RECORDINGS_READ)
                    for follower in followers.values():
                        follower.principal = principal
                    targets = list(followers) if notice.get("resync") else [_id(notice)]
                    for audio_id in targets:
                        if audio_id is None:
                            continue
                        follower = followers.setdefault(
                            audio_id, _Follower(context, principal, audio_id)
                        )
                        event = await follower.on_notice(notice)
                        if event is False:
                            followers.pop(audio_id, None)
                        elif isinstance(event, AudioStatusEvent):
                            yield event


async def _next_notices(queue: asyncio.Queue[dict[str, Any]]) -> list[dict[str, Any]]:
    """The waiting notices, oldest first, without progress ticks (or queue standings) that a
    later notice about the same recording supersedes: a subscriber that falls behind
    catches up at once instead of replaying every tick it missed."""
    notices = [await queue.get()]
    while not queue.empty():
        notices.append(queue.get_nowait())
    latest = {str(n.get("id")): i for i, n in enumerate(notices)}
    return [
        n
        for i, n in enumerate(notices)
        if (n.get("progress") is None and "queue" not in n)
        or latest[str(n.get("id"))] == i
        or n.get("resync")
    ]


def _news(sent: QueueEstimate, now: QueueEstimate) -> bool:
    if sent.position != now.position or (sent.eta_seconds is None) != (now.eta_seconds is None):
        return True
    if sent.eta_seconds is None or now.eta_seconds is None:
        return False
    return abs(sent.eta_seconds - now.eta_seconds) > max(5.0, 0.1 * sent.eta_seconds)


def _id(notice: dict[str, Any]) -> UUID | None:
    return parse_id(str(notice.get("id", "")))
