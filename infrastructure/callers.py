"""Who a token's holder is *now*: the one check that GraphQL, the file endpoints and
every WebSocket subscription make, so that they can never disagree.

A token proves who signed in and when; it cannot know what happened since. An account
that was deleted stops working at once, and an admin whose number left
``ADMIN_PHONE_NUMBERS`` is a plain user from the next request on, whatever the token
says. Answers are remembered for a few seconds per user; a deletion in any process
reaches the others through the key-erasure NOTIFY (the user's data key is destroyed).

A session that ended (signed out, revoked, caught reusing a refresh token) takes its
access tokens with it: every process keeps the set of sessions ended within one
access-token lifetime (older ones' tokens have expired anyway), filled at start from the
sessions view and kept current by the sessions NOTIFY.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Collection
from dataclasses import replace
from uuid import UUID

from domain.access import Principal
from domain.identity import Role
from projections.users import UserReads

_REMEMBER_SECONDS = 5.0
_MAX_REMEMBERED = 100_000


class Callers:
    """The current principal behind a verified token."""

    def __init__(
        self,
        users: UserReads,
        admin_phones: Collection[str],
        remember_seconds: float = _REMEMBER_SECONDS,
        token_lifetime: float = 3600.0,
    ) -> None:
        self._users = users
        self._admins = frozenset(admin_phones)
        self._remember = remember_seconds
        self._lock = threading.Lock()
        # user id -> (until, the current role, or None: no such account)
        self._known: dict[UUID, tuple[float, Role | None]] = {}
        # session id -> until when its tokens could still be presented (monotonic)
        self._ended: dict[UUID, float] = {}
        self._token_lifetime = token_lifetime

    def peek(self, claimed: Principal) -> tuple[bool, Principal | None]:
        """Non-blocking: (True, the current principal or None) if a recent check knows."""
        with self._lock:
            entry = self._known.get(claimed.user_id)
            if claimed.session_id is not None and claimed.session_id in self._ended:
                return True, None
        if entry is None or entry[0] < time.monotonic():
            return False, None
        return True, _as(claimed, entry[1])

    def check(self, claimed: Principal) -> Principal | None:
        """Blocking (reads the users view): the current principal, or None if the
        account is gone."""
        row = self._users.get(claimed.user_id)
        role = None
        if row is not None:
            # ADMIN only while the view says so *and* the number is still configured.
            role = Role.ADMIN if row.role is Role.ADMIN and row.phone in self._admins else Role.USER
        self._remember_role(claimed.user_id, role)
        with self._lock:
            if claimed.session_id is not None and claimed.session_id in self._ended:
                return None
        return _as(claimed, role)

    def forget(self, user_id: UUID) -> None:
        """The account is being erased: refuse its tokens from now on, here."""
        self._remember_role(user_id, None, seconds=3600.0)

    def session_ended(self, session_id: UUID) -> None:
        """The session ended (here or, told by NOTIFY, in another process): its access
        tokens stop working from now on."""
        now = time.monotonic()
        with self._lock:
            if len(self._ended) >= _MAX_REMEMBERED:
                self._ended = {s: t for s, t in self._ended.items() if t > now}
            self._ended[session_id] = now + self._token_lifetime + 60.0

    def _remember_role(self, user_id: UUID, role: Role | None, seconds: float = 0.0) -> None:
        with self._lock:
            if len(self._known) >= _MAX_REMEMBERED:
                self._known.clear()
            self._known[user_id] = (time.monotonic() + (seconds or self._remember), role)


def _as(claimed: Principal, role: Role | None) -> Principal | None:
    if role is None:
        return None
    return claimed if claimed.role is role else replace(claimed, role=role)
