"""The typed context every resolver receives."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol
from uuid import UUID

import strawberry
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket

from domain.access import Principal, Scope
from domain.accounts import AccountErasure
from domain.api_keys import NewKey
from domain.identity import Role
from domain.recordings_app import Recordings, Written
from domain.scripts import Script
from domain.sessions import Sessions
from domain.signin import Identity
from domain.webhooks import Webhooks
from graphql_api.identity.pacing import SignInPacing
from graphql_api.media_urls import MediaSigner
from projections.api_keys import ApiKeyRow
from projections.audios import AudioReads
from projections.queue import QueueReads
from projections.sessions import SessionReads
from projections.users import UserReads
from projections.webhooks import DeliveryReads, WebhookReads


class IssuedToken(Protocol):
    @property
    def token(self) -> str: ...
    @property
    def expires_in(self) -> int: ...


class UploadIntake(Protocol):
    def accept(
        self,
        owner: Principal,
        source: BinaryIO,
        filename: str | None,
        language: str | None,
        prompt: str | None = None,
    ) -> Written: ...


class LiveEvents(Protocol):
    def subscribe(
        self, *, audio_id: UUID | None = None, owner_id: UUID | None = None
    ) -> AbstractAsyncContextManager[asyncio.Queue[dict[str, Any]]]: ...


class CallerCheck(Protocol):
    """Who a verified token's holder is now (see infrastructure.callers.Callers)."""

    def peek(self, claimed: Principal) -> tuple[bool, Principal | None]: ...
    def check(self, claimed: Principal) -> Principal | None: ...
    def forget(self, user_id: UUID) -> None: ...
    def session_ended(self, session_id: UUID) -> None: ...


class ApiKeyAccess(Protocol):
    """API keys: made, listed, revoked, checked (see infrastructure.api_keys)."""

    def create(self, owner_id: UUID, name: str, scopes: Iterable[Scope]) -> NewKey: ...
    def revoke(self, owner_id: UUID, key_id: UUID) -> int: ...
    def live_of(self, owner_id: UUID) -> list[ApiKeyRow]: ...
    def peek(self, token: str) -> tuple[bool, Principal | None]: ...
    def check(self, token: str) -> Principal | None: ...


class TokenService(Protocol):
    def issue(self, user_id: UUID, role: Role, session_id: UUID) -> IssuedToken: ...
    def verify(self, token: str) -> Principal | None: ...


@dataclass(frozen=True)
class LanguageFacts:
    code: str
    name: str  # in the language itself
    supported: bool  # the configured model is known to handle it


@dataclass(frozen=True)
class ServerFacts:
    """What a client needs to know before it uploads (``serverInfo``)."""

    max_upload_bytes: int = 500 * 1024 * 1024
    max_audio_seconds: float = 4 * 3600.0
    languages: tuple[LanguageFacts, ...] = ()
    refuses_unsupported_languages: bool = False  # REFUSE_UNSUPPORTED_LANGUAGES
    speaker_labels: bool = False  # transcripts here get speaker labels

    def handles(self, language: str | None) -> bool:
        """False for one of ovoz's languages that the configured model is not known to
        handle; True otherwise (no language yet, or one outside ovoz's three)."""
        return not any(f.code == language and not f.supported for f in self.languages)


@dataclass(frozen=True)
class WebhookServices:
    """Webhooks: the use cases, the read model, and the delivery log."""

    use_cases: Webhooks
    views: WebhookReads
    deliveries: DeliveryReads


@dataclass(frozen=True)
class Services:
    """What the API needs, handed in by the composition root."""

    identity: Identity
    recordings: Recordings
    intake: UploadIntake
    users: UserReads
    audios: AudioReads
    tokens: TokenService
    blob_path: Callable[[str], Path]
    accounts: AccountErasure
    callers: CallerCheck
    live: LiveEvents
    # (format, text, segments, speaker label -> name, extra JSON fields, script)
    # -> the transcript file's text
    render_transcript: Callable[
        [str, str, list[dict[str, Any]], dict[str, str], dict[str, Any], Script], str
    ]
    wait_for: Callable[[str, int], bool]  # read-your-writes: (application, position)
    sessions: Sessions
    session_reads: SessionReads
    sessions_of: Callable[[UUID], list[UUID]]  # every session of a user, up to the head
    signin: SignInPacing = field(default_factory=SignInPacing)  # sign-in threads, timing
    api_keys: ApiKeyAccess | None = None  # None: no key is accepted
    webhooks: WebhookServices | None = None  # None: the webhook fields answer INTERNAL
    media: MediaSigner | None = None  # None: Audio.fileUrl/exportUrl answer INTERNAL
    server_info: ServerFacts = field(default_factory=ServerFacts)
    production: bool = False  # ENV=production: cookies are always Secure
    queue: QueueReads | None = None  # None: queuePosition and etaSeconds are null


@dataclass
class Context:
    request: Request | WebSocket
    response: Response | WebSocket | None
    services: Services
    locale: str
    request_id: str
    principal: Principal | None = None
    authorization: str | None = None  # what authenticated the principal
    connection_params: Any = None  # the graphql-transport-ws connection_init payload
    # Batches the queue reads of one request's (or one tick's) recordings into one; built on
    # first use by graphql_api.recordings.queue.
    queue_loader: Any = None


Info = strawberry.Info[Context, None]
