"""Sessions over GraphQL: the Token a sign-in or a refresh returns, the refresh cookie of
browsers, and listing and ending sessions.

Browser mode (``clientType: BROWSER``): the refresh token never reaches scripts. It
travels only in an ``HttpOnly; Secure; SameSite=Strict`` cookie whose path is
``/graphql/session``, so the browser sends it with nothing but the requests that refresh
or end the session, and ``refreshSession`` reads it only there, and only from a request
carrying the ``X-Ovoz-CSRF`` header, which a cross-site form cannot send (a cross-site
script would need a CORS preflight that ovoz does not grant).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

import strawberry
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from domain.access import Principal
from domain.identity import Role as DomainRole
from domain.sessions import (
    ClientType,
    EndReason,
    InvalidSessionError,
    Refreshed,
    SessionNotFoundError,
)
from graphql_api.context import Context, Info
from graphql_api.errors import Error
from graphql_api.identity.types import Role, Token
from graphql_api.messages import message
from graphql_api.permissions import require_principal
from graphql_api.recordings.types import NotFound

SESSION_PATH = "/graphql/session"
REFRESH_COOKIE = "ovoz_refresh"
CSRF_HEADER = "x-ovoz-csrf"
_DEVICE_MAX = 100
_MARKUP = frozenset("<>&\"'`")


strawberry.enum(ClientType, description="Where the refresh token travels.")


@strawberry.type(description="The refresh token is missing, unknown, spent or expired.")
class InvalidSession(Error):
    pass


@strawberry.type(description="One sign-in on one device.")
class Session:
    id: strawberry.ID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime = strawberry.field(
        description="When it ends unless used again (idle timeout, within its lifetime)."
    )
    device: str = strawberry.field(description="From the User-Agent it signed in with.")
    ip_address: str | None
    client_type: ClientType
    current: bool = strawberry.field(description="Whether this request belongs to it.")


@strawberry.type
class SignedOut:
    sessions_ended: int


@strawberry.type
class RevokedSession:
    id: strawberry.ID


RefreshSessionResult = Annotated[Token | InvalidSession, strawberry.union("RefreshSessionResult")]
SignOutResult = Annotated[SignedOut, strawberry.union("SignOutResult")]
RevokeSessionResult = Annotated[RevokedSession | NotFound, strawberry.union("RevokeSessionResult")]


def invalid_session(locale: str) -> InvalidSession:
    code = "INVALID_SESSION"
    return InvalidSession(code=code, message=message(code, locale))


def not_found(locale: str) -> NotFound:
    code = "SESSION_NOT_FOUND"
    return NotFound(code="NOT_FOUND", message=message(code, locale))


async def token_for(
    context: Context, refreshed: Refreshed, phone: str, role: DomainRole, *, wait: bool = True
) -> Token:
    """The Token of a session that starts or goes on; in browser mode its refresh token
    goes into the cookie instead of the body. ``wait``: read-your-writes (a new session
    is listed by ``sessions`` once its token is out)."""
    services = context.services
    if wait:
        await run_in_threadpool(services.wait_for, services.identity.name, refreshed.position)
    issued = services.tokens.issue(refreshed.user_id, role, refreshed.session_id)
    browser = refreshed.client_type is ClientType.BROWSER
    if browser:
        lifetime = refreshed.expires_at - services.sessions.clock.now()
        _set_cookie(context, refreshed.refresh_token, lifetime)
    return Token(
        access_token=issued.token,
        token_type="Bearer",  # noqa: S106 - the scheme name, not a secret
        expires_in=issued.expires_in,
        user_id=strawberry.ID(str(refreshed.user_id)),
        phone_number=phone,
        role=Role(role.value),
        refresh_token=None if browser else refreshed.refresh_token,
        session_id=strawberry.ID(str(refreshed.session_id)),
    )


def device_label(user_agent: str | None) -> str:
    """A short, human name of the device a User-Agent describes ("Firefox on Android")."""
    ua = (user_agent or "").strip()
    if not ua:
        return "Unknown device"
    browsers = (
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("YaBrowser/", "Yandex Browser"),
        ("Firefox/", "Firefox"),
        ("Chromium/", "Chromium"),
        ("Chrome/", "Chrome"),
        ("Safari/", "Safari"),
    )
    systems = (
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    )
    browser = next((name for mark, name in browsers if mark in ua), None)
    system = next((name for mark, name in systems if mark in ua), None)
    if browser and system:
        return f"{browser} on {system}"
    if browser or system:
        return str(browser or system)
    # A program: its product token ("curl/8.5.0" -> "curl 8.5.0").
    product = ua.split()[0]
    name, _, version = product.partition("/")
    label = f"{name} {version}".strip()
    # Shown to people: nothing that could be markup, nothing unprintable.
    cleaned = "".join(ch for ch in label if ch.isprintable() and ch not in _MARKUP)
    return cleaned[:_DEVICE_MAX].strip() or "Unknown device"


def client_address(context: Context) -> str | None:
    """The caller's address as the server sees it: behind a trusted reverse proxy
    (FORWARDED_ALLOW_IPS), the one the proxy forwarded for."""
    client = context.request.client
    return client.host if client is not None else None


def _secure(context: Context) -> bool:
    """``Secure`` always in production and over https; in development over plain http
    only for this machine (browsers keep Secure cookies of http://localhost), since a
    browser drops a Secure cookie that http://192.168.1.5:8000 sets, and a phone on the
    LAN trying a development server would be signed out on every reload."""
    if context.services.production:
        return True
    url = context.request.url
    return url.scheme in ("https", "wss") or (url.hostname or "") in _LOOPBACK_HOSTS


_LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def _set_cookie(context: Context, token: str, lifetime: timedelta) -> None:
    response = context.response
    if not isinstance(response, Response):
        return
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=max(0, int(lifetime.total_seconds())),
        path=SESSION_PATH,
        secure=_secure(context),
        httponly=True,
        samesite="strict",
    )


def _clear_cookie(context: Context) -> None:
    response = context.response
    if isinstance(response, Response):
        response.delete_cookie(
            REFRESH_COOKIE,
            path=SESSION_PATH,
            secure=_secure(context),
            httponly=True,
            samesite="strict",
        )


def _cookie_token(context: Context) -> str | None:
    """The refresh cookie, where the browser sends it and the request proves it is not a
    cross-site form."""
    request = context.request
    if request.url.path != SESSION_PATH or request.headers.get(CSRF_HEADER) is None:
        return None
    return request.cookies.get(REFRESH_COOKIE)


def _person(context: Context) -> Principal:
    """Session operations are account operations: API keys may not run them."""
    return require_principal(context, None)


@strawberry.type
class SessionQuery:
    @strawberry.field(description="The caller's live sessions, most recently used first.")
    async def sessions(self, info: Info) -> list[Session]:
        principal = _person(info.context)
        services = info.context.services
        rows = await run_in_threadpool(services.session_reads.of_user, principal.user_id)
        now = services.sessions.clock.now()
        return [
            Session(
                id=strawberry.ID(str(row.id)),
                created_at=row.created_at,
                last_used_at=row.last_used_at,
                expires_at=min(row.idle_expires_at, row.expires_at),
                device=row.device,
                ip_address=row.address,
                client_type=row.client_type,
                current=row.id == principal.session_id,
            )
            for row in rows
            if row.is_live(now)
        ]


@strawberry.type
class SessionMutation:
    @strawberry.mutation(
        description="A new access token for a refresh token, which is rotated: the one "
        "presented is spent, and presenting it again ends the session. Browsers omit the "
        "argument and call this at /graphql/session with the X-Ovoz-CSRF header: the token "
        "is in the cookie."
    )
    async def refresh_session(
        self, info: Info, refresh_token: str | None = None
    ) -> RefreshSessionResult:
        context = info.context
        services = context.services
        token = refresh_token if refresh_token is not None else _cookie_token(context)
        if not token or len(token) > 200:
            return invalid_session(context.locale)
        try:
            refreshed = await run_in_threadpool(
                services.sessions.refresh, token, client_address(context)
            )
        except InvalidSessionError as e:
            if e.session_id is not None:  # reuse: the session ended; so do its tokens
                services.callers.session_ended(e.session_id)
            if refresh_token is None:
                _clear_cookie(context)
            return invalid_session(context.locale)
        claimed = Principal(user_id=refreshed.user_id, role=DomainRole.USER, expires_at=0)
        known, current = services.callers.peek(claimed)  # the account alive, its role now
        if not known:
            current = await run_in_threadpool(services.callers.check, claimed)
        row = await run_in_threadpool(services.users.get, refreshed.user_id)  # the phone
        if current is None or row is None:  # the account is gone
            return invalid_session(context.locale)
        # No read-your-writes wait: nothing the new token does depends on the sessions
        # view, and only its "last used" moves (a refresh is the hottest write there is).
        return await token_for(context, refreshed, row.phone, current.role, wait=False)

    @strawberry.mutation(description="End this session (its refresh and access tokens).")
    async def sign_out(self, info: Info) -> SignOutResult:
        principal = _person(info.context)
        ended = await _end(info.context, principal, _ids(principal.session_id))
        _clear_cookie(info.context)
        return SignedOut(sessions_ended=ended)

    @strawberry.mutation(description="End every session of the caller, this one too.")
    async def sign_out_everywhere(self, info: Info) -> SignOutResult:
        principal = _person(info.context)
        services = info.context.services
        ids = await run_in_threadpool(services.sessions_of, principal.user_id)
        ended = await _end(info.context, principal, ids, EndReason.SIGNED_OUT_EVERYWHERE)
        _clear_cookie(info.context)
        return SignedOut(sessions_ended=ended)

    @strawberry.mutation(description="End one of the caller's sessions.")
    async def revoke_session(self, info: Info, id: strawberry.ID) -> RevokeSessionResult:
        principal = _person(info.context)
        try:
            session_id = UUID(str(id))
        except ValueError:
            return not_found(info.context.locale)
        try:
            await _end(info.context, principal, [session_id], EndReason.REVOKED, strict=True)
        except SessionNotFoundError:
            return not_found(info.context.locale)
        return RevokedSession(id=strawberry.ID(str(session_id)))


def _ids(session_id: UUID | None) -> list[UUID]:
    return [] if session_id is None else [session_id]


async def _end(
    context: Context,
    principal: Principal,
    session_ids: list[UUID],
    reason: EndReason = EndReason.SIGNED_OUT,
    *,
    strict: bool = False,
) -> int:
    services = context.services
    if not session_ids:
        return 0
    ended = await run_in_threadpool(
        services.sessions.end, principal.user_id, session_ids, reason, principal.user_id, strict
    )
    for session_id in ended.session_ids:  # here at once; elsewhere by NOTIFY
        services.callers.session_ended(session_id)
    await run_in_threadpool(services.wait_for, services.identity.name, ended.position)
    return len(ended.session_ids)
