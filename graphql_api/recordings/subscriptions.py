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
from graphql_api.recordings.types import Audio
from projections.audios import AudioFilter, AudioRow

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

    @classmethod
    def from_row(cls, row: AudioRow) -> AudioStatusEvent:
        return cls(
            audio_id=strawberry.ID(str(row.id)),
            status=row.status,
            progress=row.progress,
            version=row.version,
            error=row.error,
            audio=Audio.from_row(row),
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

    async def current(self) -> AudioStatusEvent | None:
        row = await _visible_row(self.context, self.principal, self.audio_id)
        if row is None:
            return None
        return self.accept(row)

    async def on_notice(self, notice: dict[str, Any]) -> AudioStatusEvent | bool | None:
        """An event to send, None to send nothing, False when the recording is gone."""
        if notice.get("status") == "DELETED":
            return False
        progress = notice.get("progress")
        if progress is not None and not notice.get("resync"):
            if notice.get("version", 0) < self.version or (self.progress or 0) >= progress:
                return None
            self.progress = progress
            return AudioStatusEvent(
                audio_id=strawberry.ID(str(self.audio_id)),
                status=TranscriptionStatus.PROCESSING,
                progress=progress,
                version=self.version,
                error=None,
                audio=None,
            )
        row = await _visible_row(self.context, self.principal, self.audio_id)
        if row is None:
            return False
        if row.version <= self.version:
            return None
        return self.accept(row)

    def accept(self, row: AudioRow) -> AudioStatusEvent:
        self.version = row.version
        self.progress = row.progress
        return AudioStatusEvent.from_row(row)


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
            for row in page.items:
                follower = followers[row.id] = _Follower(context, principal, row.id)
                if row.status.value not in _TERMINAL:
                    yield follower.accept(row)
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
    """The waiting notices, oldest first, without progress ticks that a later notice
    about the same recording supersedes: a subscriber that falls behind catches up
    at once instead of replaying every tick it missed."""
    notices = [await queue.get()]
    while not queue.empty():
        notices.append(queue.get_nowait())
    latest = {str(n.get("id")): i for i, n in enumerate(notices)}
    return [
        n
        for i, n in enumerate(notices)
        if n.get("progress") is None or latest[str(n.get("id"))] == i or n.get("resync")
    ]


def _id(notice: dict[str, Any]) -> UUID | None:
    return parse_id(str(notice.get("id", "")))
