"""Sessions: how long a sign-in lasts, and the refresh tokens that keep it going.

Verifying a code starts a *session*. The caller gets a short access token and a refresh
token; presenting the refresh token gets a new pair and **rotates** it: the one presented
is spent. Presenting a spent one again means two parties hold the session's tokens (one
stole them), so the whole session is revoked (reuse detection, RFC 9700 §4.14.2). A
session slides: each refresh extends it by the idle timeout, up to its maximum lifetime.

A ``Session`` aggregate lives in the identity log. Its events hold the hash of each refresh
token, never a token; the device label and the address it was used from are personal
data, in payloads encrypted under the session's own key, which account erasure destroys.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import RecordConflictError

from domain.errors import DomainError, SubjectErasedError
from domain.ports import Clock

if TYPE_CHECKING:
    from domain.signin import Identity

_T = TypeVar("_T")

TOKEN_PREFIX = "ovozrt_"  # noqa: S105 - lets secret scanners spot leaked tokens
_SECRET_BYTES = 32  # 256 bits from `secrets`
_ID_HEX = 32
# Hashes of spent tokens a session remembers for reuse detection (each refresh adds one;
# 90 days of refreshing every 15 minutes is 8,640). Truncated: telling a spent token from
# garbage needs no more than 128 bits.
_SPENT_MEMORY = 10_000
_SPENT_HEX = 32
_TRIES = 3


class ClientType(StrEnum):
    """Where the refresh token travels: in the response body (programs, apps), or only
    in an HttpOnly cookie that scripts cannot read (browsers)."""

    API = "API"
    BROWSER = "BROWSER"


class EndReason(StrEnum):
    SIGNED_OUT = "SIGNED_OUT"
    REVOKED = "REVOKED"
    SIGNED_OUT_EVERYWHERE = "SIGNED_OUT_EVERYWHERE"
    REUSE_DETECTED = "REUSE_DETECTED"


class InvalidSessionError(DomainError):
    """The refresh token is garbage, unknown, spent, expired or of an ended session.
    ``session_id`` names the session a spent token just ended (reuse detected)."""

    code = "INVALID_SESSION"

    def __init__(self, reason: str, session_id: UUID | None = None) -> None:
        super().__init__(reason)
        self.session_id = session_id


class SessionNotFoundError(DomainError):
    code = "NOT_FOUND"


@dataclass(frozen=True)
class SessionRules:
    idle_timeout: timedelta = timedelta(days=30)
    max_lifetime: timedelta = timedelta(days=90)
    # The token spent by the last refresh still rotates this long after it: a browser
    # that reloaded while that refresh was in flight never got its answer (the new
    # cookie), and sends the old token again. Presented later, or any older one, it is
    # reuse, and the session ends.
    refresh_grace: timedelta = timedelta(seconds=30)


@dataclass(frozen=True)
class Refreshed:
    """A session that goes on: its id, owner and the new refresh token (shown once)."""

    session_id: UUID
    user_id: UUID
    refresh_token: str
    client_type: ClientType
    position: int
    expires_at: datetime  # the end of the session's lifetime, however it is used


@dataclass(frozen=True)
class Ended:
    session_ids: list[UUID]
    position: int


def new_refresh_token(session_id: UUID) -> tuple[str, str]:
    """A fresh refresh token for ``session_id`` and the hash to store."""
    secret = secrets.token_urlsafe(_SECRET_BYTES)
    return f"{TOKEN_PREFIX}{session_id.hex}_{secret}", token_hash(secret)


def token_hash(secret: str) -> str:
    # The secret is 256 random bits: a fast hash is as strong as a slow one here.
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_refresh_token(token: str) -> tuple[UUID, str] | None:
    """The session id and secret a well-formed token names; None for anything else."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    rest = token[len(TOKEN_PREFIX) :]
    sid, sep, secret = rest[:_ID_HEX], rest[_ID_HEX : _ID_HEX + 1], rest[_ID_HEX + 1 :]
    if sep != "_" or not 32 <= len(secret) <= 64 or not secret.isascii():
        return None
    try:
        return UUID(hex=sid), secret
    except ValueError:
        return None


class Session(Aggregate):
    """One sign-in of one user on one device, and the chain of its refresh tokens."""

    class SessionStarted(Aggregate.Created):
        user_id: UUID
        refresh_hash: str
        client_type: str
        device: str
        address: str | None
        at: datetime
        idle_expires_at: datetime
        expires_at: datetime

    class SessionRefreshed(Aggregate.Event):
        refresh_hash: str
        at: datetime
        idle_expires_at: datetime
        address: str | None

    class SessionRevoked(Aggregate.Event):
        reason: str
        actor_id: UUID | None
        at: datetime

    @event(SessionStarted)
    def __init__(
        self,
        id: UUID,
        *,
        user_id: UUID,
        refresh_hash: str,
        client_type: str,
        device: str,
        address: str | None,
        at: datetime,
        idle_expires_at: datetime,
        expires_at: datetime,
    ) -> None:
        self.user_id = user_id
        self.refresh_hash = refresh_hash
        self.spent: list[str] = []
        # Plain values only (strings, not enums): a snapshot of this state must come back
        # as it was stored (see Identity.snapshotting_intervals).
        self.client_type_value = ClientType(client_type).value
        self.device = device
        self.address = address
        self.started_at = at
        self.last_used_at = at
        self.idle_expires_at = idle_expires_at
        self.expires_at = expires_at
        self.end_reason: str | None = None

    @property
    def client_type(self) -> ClientType:
        return ClientType(self.client_type_value)

    @property
    def ended(self) -> EndReason | None:
        return None if self.end_reason is None else EndReason(self.end_reason)

    def is_live(self, now: datetime) -> bool:
        return self.ended is None and now < self.idle_expires_at and now < self.expires_at

    def rotate(
        self,
        secret_hash: str,
        new_hash: str,
        now: datetime,
        rules: SessionRules,
        address: str | None,
    ) -> bool:
        """Spend the presented token for ``new_hash``. Returns False, having revoked the
        session, when the presented token was spent already; raises InvalidSessionError
        when it is not this session's or the session is over."""
        if self.ended is not None or not self.is_live(now):
            raise InvalidSessionError("session ended or expired")
        if hmac.compare_digest(secret_hash, self.refresh_hash) or self._lost_answer(
            secret_hash, now, rules
        ):
            idle = min(now + rules.idle_timeout, self.expires_at)
            self._record_refresh(
                refresh_hash=new_hash, at=now, idle_expires_at=idle, address=address
            )
            return True
        if secret_hash[:_SPENT_HEX] in self.spent:
            self.end(EndReason.REUSE_DETECTED, actor_id=None, now=now)
            return False
        raise InvalidSessionError("not this session's token")

    def _lost_answer(self, secret_hash: str, now: datetime, rules: SessionRules) -> bool:
        """The token the last refresh spent, presented again within the grace: its
        answer was lost on the way (a reload, a dropped connection)."""
        return (
            rules.refresh_grace > timedelta(0)
            and bool(self.spent)
            and hmac.compare_digest(secret_hash[:_SPENT_HEX], self.spent[-1])
            and now - self.last_used_at <= rules.refresh_grace
        )

    def end(self, reason: EndReason, actor_id: UUID | None, now: datetime) -> None:
        if self.ended is None:
            self._record_end(reason=reason.value, actor_id=actor_id, at=now)

    @event(SessionRefreshed)
    def _record_refresh(
        self, refresh_hash: str, at: datetime, idle_expires_at: datetime, address: str | None
    ) -> None:
        self.spent = [*self.spent[-(_SPENT_MEMORY - 1) :], self.refresh_hash[:_SPENT_HEX]]
        self.refresh_hash = refresh_hash
        self.last_used_at = at
        self.idle_expires_at = idle_expires_at
        self.address = address

    @event(SessionRevoked)
    def _record_end(self, reason: str, actor_id: UUID | None, at: datetime) -> None:
        self.end_reason = EndReason(reason).value


class Sessions:
    """The session use cases, over the identity application (sessions share its log)."""

    def __init__(self, identity: Identity, clock: Clock, rules: SessionRules) -> None:
        self.identity = identity
        self.clock = clock
        self.rules = rules

    def start(
        self, user_id: UUID, client_type: ClientType, device: str, address: str | None
    ) -> Refreshed:
        self.identity.get_user(user_id)  # UserNotFoundError: the account was just deleted
        now = self.clock.now()
        session_id = uuid4()
        token, digest = new_refresh_token(session_id)
        session = Session(
            id=session_id,
            user_id=user_id,
            refresh_hash=digest,
            client_type=client_type.value,
            device=device,
            address=address,
            at=now,
            idle_expires_at=now + min(self.rules.idle_timeout, self.rules.max_lifetime),
            expires_at=now + self.rules.max_lifetime,
        )
        position = self._save(session)
        return Refreshed(session_id, user_id, token, client_type, position, session.expires_at)

    def refresh(self, token: str, address: str | None) -> Refreshed:
        """Rotate ``token``. InvalidSessionError for anything but the live token of a
        live session; a spent token also revokes its session (and the caller learns
        only that it is invalid)."""
        parsed = parse_refresh_token(token)
        if parsed is None:
            raise InvalidSessionError("malformed token")
        session_id, secret = parsed
        presented = token_hash(secret)

        def rotate() -> Refreshed | None:
            session = self._get(session_id)
            if session is None:
                raise InvalidSessionError("no such session")
            new_token, new_hash = new_refresh_token(session_id)
            kept = session.rotate(presented, new_hash, self.clock.now(), self.rules, address)
            position = self._save(session)
            if not kept:
                return None
            return Refreshed(
                session_id,
                session.user_id,
                new_token,
                session.client_type,
                position,
                session.expires_at,
            )

        # Two refreshes of one token race on the session's next version: the loser starts
        # again, finds the token spent, and revokes the session: exactly what reuse is.
        try:
            refreshed = _retry_on_conflict(rotate)
        except RecordConflictError:
            raise InvalidSessionError("too many refreshes of one session at once") from None
        if refreshed is None:
            raise InvalidSessionError("spent token presented again: session revoked", session_id)
        return refreshed

    def get(self, session_id: UUID) -> Session | None:
        return self._get(session_id)

    def end(
        self,
        user_id: UUID,
        session_ids: list[UUID],
        reason: EndReason,
        actor_id: UUID,
        strict: bool = False,
    ) -> Ended:
        """End the user's sessions among ``session_ids``; one that is not the user's (or
        does not exist) is skipped, or with ``strict`` is SessionNotFoundError. Another
        user's session looks exactly like a missing one."""
        ended: list[UUID] = []
        position = 0
        for session_id in session_ids:

            def end_one(session_id: UUID = session_id) -> int | None:
                session = self._get(session_id)
                if session is None or session.user_id != user_id or session.ended is not None:
                    return None  # not the user's, or over already: nothing to end
                session.end(reason, actor_id, self.clock.now())
                return self._save(session)

            saved = _retry_on_conflict(end_one)
            if saved is None:
                if strict:
                    raise SessionNotFoundError(str(session_id))
                continue
            ended.append(session_id)
            position = max(position, saved)
        return Ended(ended, position)

    def _get(self, session_id: UUID) -> Session | None:
        try:
            session: Session = self.identity.repository.get(session_id)
        except (AggregateNotFoundError, SubjectErasedError):
            return None
        return session if isinstance(session, Session) else None

    def _save(self, session: Session) -> int:
        recordings = self.identity.save(session)
        return max((r.notification.id for r in recordings), default=0)


def _retry_on_conflict(action: Callable[[], _T]) -> _T:
    for attempt in range(_TRIES):
        try:
            return action()
        except RecordConflictError:
            if attempt == _TRIES - 1:
                raise
    raise AssertionError("unreachable")
