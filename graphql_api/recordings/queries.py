"""audio and audios: reads from the audios read model (or the log, for atVersion)."""

from __future__ import annotations

from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool

from domain.access import Scope
from domain.recordings import RecordingNotFoundError, TranscriptionStatus
from graphql_api.context import Info
from graphql_api.inputs import checked_text
from graphql_api.permissions import require_principal
from graphql_api.recordings.types import Audio, AudioList
from projections.audios import MAX_PAGE, AudioFilter


def parse_id(raw: str) -> UUID | None:
    try:
        return UUID(raw)
    except ValueError:
        return None


@strawberry.type
class RecordingsQuery:
    @strawberry.field(description="One recording; null if absent or not yours.")
    async def audio(
        self, info: Info, id: strawberry.ID, at_version: int | None = None
    ) -> Audio | None:
        principal = require_principal(info.context, Scope.RECORDINGS_READ)
        services = info.context.services
        audio_id = parse_id(id)
        if audio_id is None:
            return None
        if at_version is not None:
            if at_version < 1:
                return None
            try:
                recording = await run_in_threadpool(
                    services.recordings.get, principal, audio_id, at_version
                )
            except RecordingNotFoundError:
                return None
            return Audio.from_aggregate(recording, created_at=recording.created_on)
        row = await run_in_threadpool(services.audios.get, audio_id)
        if row is None or not principal.may_see(row.owner_id):
            return None
        return Audio.from_row(row)

    @strawberry.field(description="Your recordings, newest first (everyone's for admins).")
    async def audios(
        self,
        info: Info,
        skip: int = 0,
        limit: int = 100,
        status: TranscriptionStatus | None = None,
        search: str | None = None,
    ) -> AudioList:
        principal = require_principal(info.context, Scope.RECORDINGS_READ)
        skip = max(0, skip)
        limit = max(0, min(limit, MAX_PAGE))
        where = AudioFilter(
            owner_id=None if principal.is_admin else principal.user_id,
            status=status,
            search=(checked_text(info.context, "search", search) or "").strip()[:200] or None,
        )
        page = await run_in_threadpool(info.context.services.audios.page, where, skip, limit)
        return AudioList(
            items=[Audio.from_row(r) for r in page.items], total=page.total, skip=skip, limit=limit
        )
