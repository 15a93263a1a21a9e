"""API keys: credentials for programs, limited to the scopes their owner chose.

A key reads ``ovoz_<public id>_<secret>``: the fixed prefix lets secret scanners (GitHub's,
gitleaks) recognise a leaked one, the 8-character public id names it (``prefix`` in the
API, ``ovoz_<public id>``) and finds its row, and the secret is 32 random bytes in
base64url (43 characters). The key is shown once, when it is made; what is kept is a
keyed hash (HMAC-SHA256 under a server secret), so that a leaked table or event log can
neither be used nor checked against guesses offline. A 256-bit secret needs no slow hash.

An ``ApiKey`` is an aggregate of the identity application, one subject of its own: its
events (name, scopes, hash) are encrypted under its own data key, which erasing the
owner's account destroys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from uuid import UUID, uuid5

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import RecordConflictError

from domain.access import Scope
from domain.errors import DomainError, SubjectErasedError
from domain.signin import Identity

API_KEY_PREFIX = "ovoz_"
PUBLIC_ID_LENGTH = 8
SECRET_LENGTH = 43  # base64url of 32 bytes, unpadded
KEY_LENGTH = len(API_KEY_PREFIX) + PUBLIC_ID_LENGTH + 1 + SECRET_LENGTH
MAX_NAME_LENGTH = 100
MAX_LIVE_KEYS = 50
_PUBLIC_ALPHABET = string.ascii_lowercase + string.digits  # 36^8: about 41 bits
_SECRET_ALPHABET = frozenset(string.ascii_letters + string.digits + "-_")
# Key ids are derived from public ids: the event store's (id, version) uniqueness then
# guarantees that no two keys share a public id, with no table or lock of our own.
_KEY_ID_NAMESPACE = UUID("5b0c2a3e-8f4d-4a57-9c1e-6d2f0b7a9e41")
_CREATE_TRIES = 5


class InvalidApiKeyInputError(DomainError):
    """``argument`` (``name`` or ``scopes``) cannot make a key."""

    code = "INVALID_API_KEY_INPUT"

    def __init__(self, argument: str, detail: str) -> None:
        super().__init__(f"{argument}: {detail}")
        self.argument = argument


class ApiKeyLimitError(DomainError):
    """The owner already has ``limit`` live keys."""

    code = "API_KEY_LIMIT_REACHED"

    def __init__(self, limit: int) -> None:
        super().__init__(f"at most {limit} live keys")
        self.limit = limit


class ApiKeyNotFoundError(DomainError):
    """No live key of the caller's has this id (absent, revoked, erased, someone else's:
    all look the same)."""

    code = "API_KEY_NOT_FOUND"


class ApiKey(Aggregate):
    """One API key: whose it is, what it may do, and the keyed hash of its secret."""

    class ApiKeyCreated(Aggregate.Created):
        owner_id: UUID
        name: str
        scopes: list[str]
        key_hash: str
        public_id: str

    class ApiKeyRevoked(Aggregate.Event):
        owner_id: UUID
        actor_id: UUID

    @event(ApiKeyCreated)
    def __init__(
        self,
        *,
        id: UUID,  # derived from the public id, see key_id_of
        owner_id: UUID,
        name: str,
        scopes: list[str],
        key_hash: str,
        public_id: str,
    ) -> None:
        self.owner_id = owner_id
        self.name = name
        self.scopes = [Scope(s) for s in scopes]
        self.key_hash = key_hash
        self.public_id = public_id
        self.revoked = False

    def revoke(self, actor_id: UUID) -> None:
        if self.revoked:
            raise ApiKeyNotFoundError(str(self.id))
        self._record_revocation(owner_id=self.owner_id, actor_id=actor_id)

    @event(ApiKeyRevoked)
    def _record_revocation(self, owner_id: UUID, actor_id: UUID) -> None:
        self.revoked = True


@dataclass(frozen=True)
class NewKey:
    """A key just made: ``key`` is the only copy of the secret there will ever be.
    ``position`` is the identity log position read models must reach."""

    key: str
    api_key: ApiKey
    position: int


@dataclass(frozen=True)
class PresentedKey:
    """A string that has the shape of a key: its public id and the whole key."""

    public_id: str
    key: str


def parse_key(token: str) -> PresentedKey | None:
    """The parts of ``token`` if it is shaped like a key, else None (checks nothing
    stored: a well-shaped key may still be unknown or wrong)."""
    if len(token) != KEY_LENGTH or not token.startswith(API_KEY_PREFIX):
        return None
    public_id = token[len(API_KEY_PREFIX) : len(API_KEY_PREFIX) + PUBLIC_ID_LENGTH]
    separator = token[len(API_KEY_PREFIX) + PUBLIC_ID_LENGTH]
    secret = token[-SECRET_LENGTH:]
    if separator != "_" or not all(c in _PUBLIC_ALPHABET for c in public_id):
        return None
    if not all(c in _SECRET_ALPHABET for c in secret):
        return None
    return PresentedKey(public_id=public_id, key=token)


def key_hash(hash_key: bytes, key: str) -> str:
    """The keyed hash kept of a key (hex). The whole key is hashed, public id included,
    so a stored hash belongs to one public id only."""
    return hmac.new(hash_key, b"ovoz-api-key\x00" + key.encode(), hashlib.sha256).hexdigest()


def key_id_of(public_id: str) -> UUID:
    return uuid5(_KEY_ID_NAMESPACE, public_id)


def display_prefix(public_id: str) -> str:
    """What lists show of a key: enough to recognise it, nothing to use."""
    return f"{API_KEY_PREFIX}{public_id}"


def checked_scopes(scopes: Iterable[str]) -> list[Scope]:
    """The scopes, each once, in a stable order; at least one."""
    try:
        chosen = {Scope(s) for s in scopes}
    except ValueError:
        raise InvalidApiKeyInputError("scopes", "unknown scope") from None
    if not chosen:
        raise InvalidApiKeyInputError("scopes", "no scope")
    return sorted(chosen)


def checked_name(name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_LENGTH:
        raise InvalidApiKeyInputError("name", f"1 to {MAX_NAME_LENGTH} characters")
    return name


class ApiKeys:
    """The API-key use cases, over the identity application's log.

    ``live_keys_of(owner)`` counts the owner's live keys (from the read model, which the
    API waits for after every write). Two creations racing past the limit can together
    exceed it by one or two: the limit bounds abuse, it is not an invariant.
    """

    def __init__(
        self, identity: Identity, hash_key: bytes, live_keys_of: Callable[[UUID], int]
    ) -> None:
        self.identity = identity
        self._hash_key = hash_key
        self._live_keys_of = live_keys_of

    def create(self, owner_id: UUID, name: str, scopes: Iterable[str]) -> NewKey:
        name = checked_name(name)
        chosen = checked_scopes(scopes)
        if self._live_keys_of(owner_id) >= MAX_LIVE_KEYS:
            raise ApiKeyLimitError(MAX_LIVE_KEYS)
        # Keys of an erased (or erasing) account would outlive its data: refuse them.
        self.identity.get_user(owner_id)
        for _ in range(_CREATE_TRIES):
            public_id = "".join(secrets.choice(_PUBLIC_ALPHABET) for _ in range(PUBLIC_ID_LENGTH))
            secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
            key = f"{API_KEY_PREFIX}{public_id}_{secret}"
            api_key = ApiKey(
                id=key_id_of(public_id),
                owner_id=owner_id,
                name=name,
                scopes=[s.value for s in chosen],
                key_hash=key_hash(self._hash_key, key),
                public_id=public_id,
            )
            try:
                recordings = self.identity.save(api_key)
            except RecordConflictError:
                continue  # that public id is taken: draw another
            position = max(r.notification.id for r in recordings)
            return NewKey(key=key, api_key=api_key, position=position)
        raise RuntimeError("no free public id after several draws")

    def matches(self, key: str, stored_hash: str) -> bool:
        """Whether ``key`` is the key whose hash is ``stored_hash`` (in constant time)."""
        return hmac.compare_digest(key_hash(self._hash_key, key), stored_hash)

    def revoke(self, owner_id: UUID, key_id: UUID) -> int:
        """Revoke the owner's live key ``key_id``; returns the log position."""
        for _ in range(_CREATE_TRIES):
            api_key = self._owned(owner_id, key_id)
            api_key.revoke(actor_id=owner_id)
            try:
                recordings = self.identity.save(api_key)
            except RecordConflictError:
                continue  # revoked meanwhile: reading it again says so
            return max(r.notification.id for r in recordings)
        raise ApiKeyNotFoundError(str(key_id))

    def _owned(self, owner_id: UUID, key_id: UUID) -> ApiKey:
        try:
            api_key: ApiKey = self.identity.repository.get(key_id)
        except (AggregateNotFoundError, SubjectErasedError):
            raise ApiKeyNotFoundError(str(key_id)) from None
        if not isinstance(api_key, ApiKey) or api_key.owner_id != owner_id or api_key.revoked:
            raise ApiKeyNotFoundError(str(key_id))
        return api_key
