"""auditTrail: the ordered history of a recording."""

from __future__ import annotations

from datetime import datetime

import strawberry
from starlette.concurrency import run_in_threadpool

from domain.access import Scope
from domain.audit import AuditEntry
from domain.recordings import RecordingNotFoundError
from graphql_api.context import Info
from graphql_api.messages import message
from graphql_api.permissions import require_principal
from graphql_api.recordings.queries import parse_id


@strawberry.type(description="One event of a recording's history.")
class AuditEvent:
    version: int
    type: str
    at: datetime
    actor: str = strawberry.field(description="A user id, a worker, 'system' or 'redacted'.")
    summary: str = strawberry.field(
        description="What happened, in the language of Accept-Language (Uzbek by default)."
    )
    redacted: bool = strawberry.field(description="The event's details were erased.")

    @classmethod
    def from_entry(cls, e: AuditEntry, locale: str) -> AuditEvent:
        key, values = e.detail
        return cls(
            version=e.version,
            type=e.type,
            at=e.at,
            actor=e.actor,
            summary=message(key, locale, **values) if key else e.summary,
            redacted=e.redacted,
        )


@strawberry.type
class AuditQuery:
    @strawberry.field(description="Every event of a recording, oldest first (owner and admins).")
    async def audit_trail(self, info: Info, audio_id: strawberry.ID) -> list[AuditEvent]:
        principal = require_principal(info.context, Scope.RECORDINGS_READ)
        recording_id = parse_id(audio_id)
        if recording_id is None:
            return []
        try:
            entries = await run_in_threadpool(
                info.context.services.recordings.history, principal, recording_id
            )
        except RecordingNotFoundError:
            return []
        return [AuditEvent.from_entry(e, info.context.locale) for e in entries]
