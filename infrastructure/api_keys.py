"""API keys as the API uses them: made, listed, revoked, and checked on every request
that presents one (``Authorization: Bearer ovoz_…`` over HTTP, on the file endpoints and
in a WebSocket's ``connection_init``).

A checked key is remembered for a few seconds (one view read per key and process, not
one per request). A key that stops working — revoked, or its owner's account deleted —
is announced by the api_keys view on ``API_KEYS_CHANNEL`` in the transaction that records
it, and every process's listener forgets it at once; should that channel be down, the
few seconds bound how long a revoked key still works. An erased owner's keys fail at once
anyway: the caller check (``infrastructure.callers``) learns of the erasure by its own
NOTIFY.

The principal of a key is always a plain ``USER``, even when the owner is an admin: a
key is meant for a script working on its owner's recordings, and a leaked admin key must
not open every user's. Its scopes are the key's; ``api_key_id`` names it.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

from domain.access import Principal, Scope
from domain.api_keys import ApiKeys, NewKey, key_id_of, parse_key
from domain.identity import Role
from graphql_api.context import CallerCheck
from infrastructure.notices import Channel
from infrastructure.projection_runner import SupervisedProjection
from infrastructure.views.api_keys import TOUCH_EVERY, ApiKeysView
from projections.api_keys import API_KEYS_CHANNEL, ApiKeyRow

_REMEMBER_SECONDS = 5.0
_MAX_REMEMBERED = 100_000
# A socket opened with a key is closed after this (the client reconnects): its
# subscriptions check the key again on every event, and this bounds how long an idle one
# outlives a revocation.
_KEY_SOCKET_SECONDS = 3600.0


def api_key_hash_key(phone_hmac_key: bytes) -> bytes:
    """The server secret keys are hashed under, derived from ``PHONE_HMAC_KEY`` (which can
    never rotate: ids are derived from it) and separate from its other uses."""
    return hmac.new(phone_hmac_key, b"ovoz api-key hash key", hashlib.sha256).digest()


class ApiKeyRegistry:
    """The API's one way to API keys (see the module docstring).

    ``remember_seconds`` is how long a verified key (or an unknown public id) is trusted
    without reading the view again.
    """

    def __init__(
        self,
        keys: ApiKeys,
        projection: SupervisedProjection,
        callers: CallerCheck,
        *,
        wait_timeout: float = 30.0,
        remember_seconds: float = _REMEMBER_SECONDS,
    ) -> None:
        if not isinstance(projection.view, ApiKeysView):
            raise TypeError("the api_keys projection must write the api_keys view")
        self._keys = keys
        self._projection = projection
        self._view: ApiKeysView = projection.view
        self._callers = callers
        self._wait_timeout = wait_timeout
        self._remember = remember_seconds
        self._lock = threading.Lock()
        self._known: dict[UUID, tuple[float, ApiKeyRow | None]] = {}  # key id -> (until, row)
        self._touched: dict[UUID, float] = {}  # key id -> when this process last wrote a use
        self._evictions = 0

    # -- the use cases the schema offers --------------------------------------------------

    def create(self, owner_id: UUID, name: str, scopes: Iterable[Scope]) -> NewKey:
        return self._keys.create(owner_id, name, [s.value for s in scopes])

    def revoke(self, owner_id: UUID, key_id: UUID) -> int:
        """Revoke the key; it stops working in this process now, elsewhere on NOTIFY."""
        position = self._keys.revoke(owner_id, key_id)
        self.forget(key_id)
        return position

    def live_of(self, owner_id: UUID) -> list[ApiKeyRow]:
        return self._view.live_of(owner_id)

    def ids_of(self, owner_id: UUID) -> list[UUID]:
        """Every key the owner has made so far (waits for the view to reach the head of
        the identity log): what erasing the account destroys."""
        self._projection.catch_up(self._wait_timeout)
        return self._view.ids_of(owner_id)

    # -- authentication -------------------------------------------------------------------

    def peek(self, token: str) -> tuple[bool, Principal | None]:
        """Non-blocking: (True, the principal or None) when recent checks decide it."""
        presented = parse_key(token)
        if presented is None:
            return True, None
        key_id = key_id_of(presented.public_id)
        with self._lock:
            entry = self._known.get(key_id)
        if entry is None or entry[0] < time.monotonic():
            return False, None
        row = entry[1]
        if not self._usable(row, token):
            return True, None
        assert row is not None
        known, owner = self._callers.peek(_claimed(row))
        return (True, _as_key(owner, row)) if known else (False, None)

    def check(self, token: str) -> Principal | None:
        """Blocking (reads the views): the principal ``token`` proves, or None."""
        presented = parse_key(token)
        if presented is None:
            return None
        key_id = key_id_of(presented.public_id)
        evictions_seen = self._evictions
        row = self._view.by_public_id(presented.public_id)
        self._remember_row(key_id, row, evictions_seen)
        if not self._usable(row, token):
            return None
        assert row is not None
        principal = _as_key(self._callers.check(_claimed(row)), row)
        if principal is not None:
            self._touch(row.id)
        return principal

    def forget(self, key_id: UUID) -> None:
        """The key stopped working: check it again on its next use."""
        with self._lock:
            self._known.pop(key_id, None)
            self._evictions += 1

    def forget_all(self) -> None:
        with self._lock:
            self._known.clear()
            self._evictions += 1

    def revocations_channel(self) -> Channel:
        """Keys that stop working in any process are forgotten here (see
        infrastructure.notices); when notices may have been missed, every key is checked
        again."""
        return Channel(API_KEYS_CHANNEL, self._evict, self.forget_all)

    # -- internals -----------------------------------------------------------------------

    def _usable(self, row: ApiKeyRow | None, token: str) -> bool:
        return (
            row is not None and row.revoked_at is None and self._keys.matches(token, row.key_hash)
        )

    def _remember_row(self, key_id: UUID, row: ApiKeyRow | None, evictions_seen: int) -> None:
        """Remember what the view said, unless an eviction arrived since it was read (it
        may be this very key's revocation, which must not be forgotten)."""
        with self._lock:
            if self._evictions != evictions_seen:
                return
            if len(self._known) >= _MAX_REMEMBERED:
                self._known.clear()
            self._known[key_id] = (time.monotonic() + self._remember, row)

    def _evict(self, payload: str) -> None:
        try:
            key_id = UUID(payload)
        except ValueError:
            return
        self.forget(key_id)

    def _touch(self, key_id: UUID) -> None:
        """Write the use into the view at most once a minute per key and process (the
        view's statement also skips a write another process made within the minute)."""
        now = time.monotonic()
        with self._lock:
            last = self._touched.get(key_id)
            if last is not None and now - last < TOUCH_EVERY.total_seconds():
                return
            if len(self._touched) >= _MAX_REMEMBERED:
                self._touched.clear()
            self._touched[key_id] = now
        self._view.touch(key_id, datetime.now(UTC))


def _claimed(row: ApiKeyRow) -> Principal:
    return Principal(user_id=row.owner_id, role=Role.USER, expires_at=0.0)


def _as_key(owner: Principal | None, row: ApiKeyRow) -> Principal | None:
    """The key's principal, if its owner's account is alive (``owner`` not None)."""
    if owner is None:
        return None
    return replace(
        owner,
        role=Role.USER,
        expires_at=time.time() + _KEY_SOCKET_SECONDS,
        scopes=frozenset(row.scopes),
        api_key_id=row.id,
    )
