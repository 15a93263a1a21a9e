"""Per-subject encryption of event payloads, so that erasure is real (crypto-shredding).

Every aggregate is a *subject* with its own random AES-256 data key. Keys are stored
wrapped (AES-GCM) under the master key in the ``subject_keys`` table. The mapper encrypts
each event's payload under the key of the aggregate it belongs to; ids, versions, topics
and timestamps stay readable. Destroying a key makes every payload of that subject
unreadable for good: what remains is the skeleton of its history.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.application import Application
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.utils import get_topic, resolve_topic
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from domain.erasure import ErasedEvent
from domain.errors import SubjectErasedError
from domain.ports import SubjectKeys
from infrastructure.notices import Channel

_MAGIC = b"OVZ1"
_NONCE_BYTES = 12
# Keys destroyed by another process are evicted at once through NOTIFY (see
# KeyStore.erasures_channel); the time limit bounds the damage if that channel is down.
_KEY_CACHE_SECONDS = 30.0
_KEY_CACHE_MAX = 50_000
ERASURES_CHANNEL = "ovoz_keys_destroyed"

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS subject_keys (
    subject_id uuid PRIMARY KEY,
    wrapped_key bytea,
    master_key_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    destroyed_at timestamptz
)
"""


def master_key_id(master_key: bytes) -> str:
    """A short public name of a master key (never the key)."""
    return hashlib.sha256(b"ovoz-master-key-id\x00" + master_key).hexdigest()[:16]


def _kek(master_key: bytes) -> AESGCM:
    # Derive a fixed-length wrapping key from the configured secret of any length.
    return AESGCM(hashlib.sha256(b"ovoz-kek\x00" + master_key).digest())


class KeyStore(SubjectKeys):
    """Data keys of subjects, wrapped under the master key, cached for a short time."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        master_key: bytes,
        previous_master_keys: tuple[bytes, ...] = (),
    ) -> None:
        self._datastore = datastore
        self._master_id = master_key_id(master_key)
        self._keks = {master_key_id(k): _kek(k) for k in (*previous_master_keys, master_key)}
        self._cache: OrderedDict[UUID, tuple[bytes, float]] = OrderedDict()
        self._evictions = 0
        self._lock = threading.Lock()
        # Told of every subject whose key another process destroyed (see erasures_channel).
        self.on_erased: Callable[[UUID], None] | None = None

    def create_table(self) -> None:
        with self._datastore.transaction(commit=True) as curs:
            curs.execute(_CREATE_TABLE)

    def key_for_writing(
        self, subject_id: UUID, new_subject_keys: NewSubjectKeys | None = None
    ) -> bytes:
        """The subject's key, created on first use. Raises if the subject was erased.

        With ``new_subject_keys`` (the subject's first event, in an application wired by
        store_keys_with_events) a new key is made there and stored by the application's
        recorder with that event, saving a transaction per new subject; otherwise it is
        created in a transaction of its own.
        """
        cached = self._cached(subject_id)
        if cached is not None:
            return cached
        if new_subject_keys is not None:
            return new_subject_keys.make(subject_id)
        key = self._load(subject_id)
        if key is None:
            key = self._create(subject_id)
        return key

    def new_key(self, subject_id: UUID) -> tuple[bytes, tuple[UUID, bytes, str]]:
        """A fresh key for a subject about to get its first events, and the subject_keys
        row the caller must store with them. Cached at once, for the subject's later
        events in the same write."""
        key = AESGCM.generate_key(bit_length=256)
        row = (subject_id, self._wrap(subject_id, key), self._master_id)
        return self._remember(subject_id, key, self._evictions), row

    def forget(self, subject_ids: Iterable[UUID]) -> None:
        """Drop keys from the cache: they were made but their write failed."""
        with self._lock:
            for subject_id in subject_ids:
                self._cache.pop(subject_id, None)

    def key_for_reading(self, subject_id: UUID) -> bytes:
        """The subject's key; SubjectErasedError if it was destroyed or never existed."""
        cached = self._cached(subject_id)
        if cached is not None:
            return cached
        key = self._load(subject_id)
        if key is None:
            raise SubjectErasedError(str(subject_id))
        return key

    def prefetch(self, subject_ids: Iterable[UUID]) -> None:
        """Load the live keys of many subjects in one query (replays read thousands)."""
        missing = [s for s in set(subject_ids) if self._cached(s) is None]
        if not missing:
            return
        evictions_seen = self._evictions
        with self._datastore.cursor() as curs:  # one statement: no transaction needed
            curs.execute(
                "SELECT subject_id, wrapped_key, master_key_id FROM subject_keys "
                "WHERE subject_id = ANY(%s) AND destroyed_at IS NULL",
                (missing,),
            )
            rows = curs.fetchall()
        for row in rows:
            key = self._unwrap(row["subject_id"], bytes(row["wrapped_key"]), row["master_key_id"])
            self._remember(row["subject_id"], key, evictions_seen)

    def destroy(self, subject_ids: list[UUID]) -> None:
        """Destroy the keys of ``subject_ids`` for good (crypto-shredding)."""
        if not subject_ids:
            return
        with self._datastore.transaction(commit=True) as curs:
            for subject_id in subject_ids:
                curs.execute("SELECT pg_notify(%s, %s)", (ERASURES_CHANNEL, str(subject_id)))
            curs.execute(
                "INSERT INTO subject_keys (subject_id, wrapped_key, master_key_id, destroyed_at) "
                "SELECT unnest(%s::uuid[]), NULL, NULL, now() "
                "ON CONFLICT (subject_id) DO UPDATE "
                "SET wrapped_key = NULL, master_key_id = NULL, destroyed_at = now()",
                (subject_ids,),
            )
        with self._lock:
            for subject_id in subject_ids:
                self._cache.pop(subject_id, None)
            self._evictions += 1

    def is_destroyed(self, subject_id: UUID) -> bool:
        with self._datastore.cursor() as curs:  # one statement: no transaction needed
            curs.execute(
                "SELECT destroyed_at IS NOT NULL AS gone FROM subject_keys WHERE subject_id = %s",
                (subject_id,),
            )
            row = curs.fetchone()
        return bool(row and row["gone"])

    def rotate(self) -> int:
        """Re-wrap every live key under the current master key. Returns how many moved."""
        moved = 0
        with self._datastore.transaction(commit=True) as curs:
            curs.execute(
                "SELECT subject_id, wrapped_key, master_key_id FROM subject_keys "
                "WHERE wrapped_key IS NOT NULL AND master_key_id <> %s FOR UPDATE",
                (self._master_id,),
            )
            for row in curs.fetchall():
                key = self._unwrap(
                    row["subject_id"], bytes(row["wrapped_key"]), row["master_key_id"]
                )
                curs.execute(
                    "UPDATE subject_keys SET wrapped_key = %s, master_key_id = %s "
                    "WHERE subject_id = %s",
                    (self._wrap(row["subject_id"], key), self._master_id, row["subject_id"]),
                )
                moved += 1
        return moved

    def erasures_channel(self) -> Channel:
        """Keys other processes destroy are evicted from the cache (see
        infrastructure.notices); when notices may have been missed, the whole cache."""
        return Channel(ERASURES_CHANNEL, self._evict, self.forget_cache)

    def _evict(self, payload: str) -> None:
        try:
            subject_id = UUID(payload)
        except ValueError:
            return
        with self._lock:
            self._cache.pop(subject_id, None)
            self._evictions += 1
        if self.on_erased is not None:
            self.on_erased(subject_id)

    def forget_cache(self) -> None:
        with self._lock:
            self._cache.clear()
            self._evictions += 1

    # -- internals -----------------------------------------------------------------------

    def _cached(self, subject_id: UUID) -> bytes | None:
        with self._lock:
            entry = self._cache.get(subject_id)
            if entry is None:
                return None
            if entry[1] < time.monotonic():
                del self._cache[subject_id]
                return None
            self._cache.move_to_end(subject_id)
            return entry[0]

    def _remember(self, subject_id: UUID, key: bytes, evictions_seen: int) -> bytes:
        """Cache ``key`` unless an eviction arrived since it was read (it may be the
        destruction of this very key, which must not come back)."""
        with self._lock:
            if self._evictions == evictions_seen:
                self._cache[subject_id] = (key, time.monotonic() + _KEY_CACHE_SECONDS)
                while len(self._cache) > _KEY_CACHE_MAX:
                    self._cache.popitem(last=False)
        return key

    def _load(self, subject_id: UUID) -> bytes | None:
        evictions_seen = self._evictions
        with self._datastore.cursor() as curs:  # one statement: no transaction needed
            curs.execute(
                "SELECT wrapped_key, master_key_id, destroyed_at FROM subject_keys "
                "WHERE subject_id = %s",
                (subject_id,),
            )
            row = curs.fetchone()
        if row is None:
            return None
        if row["destroyed_at"] is not None:
            raise SubjectErasedError(str(subject_id))
        key = self._unwrap(subject_id, bytes(row["wrapped_key"]), row["master_key_id"])
        return self._remember(subject_id, key, evictions_seen)

    def _create(self, subject_id: UUID) -> bytes:
        evictions_seen = self._evictions
        key = AESGCM.generate_key(bit_length=256)
        with self._datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO subject_keys (subject_id, wrapped_key, master_key_id) "
                "VALUES (%s, %s, %s) ON CONFLICT (subject_id) DO NOTHING",
                (subject_id, self._wrap(subject_id, key), self._master_id),
            )
            created = curs.rowcount == 1
        if created:
            return self._remember(subject_id, key, evictions_seen)
        # Another process created it first (or erased it): use what is stored.
        stored = self._load(subject_id)
        if stored is None:
            raise SubjectErasedError(str(subject_id))
        return stored

    def _wrap(self, subject_id: UUID, key: bytes) -> bytes:
        nonce = os.urandom(_NONCE_BYTES)
        return nonce + self._keks[self._master_id].encrypt(nonce, key, subject_id.bytes)

    def _unwrap(self, subject_id: UUID, wrapped: bytes, key_id: str) -> bytes:
        kek = self._keks.get(key_id)
        if kek is None:
            raise RuntimeError(
                f"data key of {subject_id} is wrapped under master key {key_id}, which is "
                "not configured (set MASTER_KEY_PREVIOUS to rotate)"
            )
        return kek.decrypt(wrapped[:_NONCE_BYTES], wrapped[_NONCE_BYTES:], subject_id.bytes)


class SubjectEncryptingMapper(Mapper[UUID]):
    """Maps domain events to stored events whose payload is encrypted per subject.

    Stored state: ``OVZ1 | u16 header length | header JSON | nonce | AES-GCM ciphertext``.
    The header holds only the timestamp; the additional data binds the ciphertext to its
    row (originator id, version, topic), so a payload cannot be moved to another event.
    ``erased_as_placeholder`` makes unreadable events come back as ErasedEvent (for
    projections and the audit trail) instead of raising SubjectErasedError.
    """

    def __init__(
        self, transcoder: Transcoder, keys: KeyStore, *, erased_as_placeholder: bool = False
    ) -> None:
        super().__init__(transcoder=transcoder)
        self.keys = keys
        self.erased_as_placeholder = erased_as_placeholder
        self.new_subject_keys: NewSubjectKeys | None = None  # see store_keys_with_events

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        topic = get_topic(domain_event.__class__)
        state = dict(vars(domain_event))
        originator_id: UUID = state.pop("originator_id")
        version: int = state.pop("originator_version")
        timestamp: datetime = state.pop("timestamp")
        class_version = getattr(type(domain_event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        header_fields = {"ts": timestamp.isoformat()}
        if isinstance(state.get("owner_id"), UUID):
            header_fields["owner"] = str(state["owner_id"])  # a pseudonymous id, not data
        header = json.dumps(header_fields).encode()
        key = self.keys.key_for_writing(
            originator_id, self.new_subject_keys if version == 1 else None
        )
        nonce = os.urandom(_NONCE_BYTES)
        aad = _aad(originator_id, version, topic, header)
        ciphertext = AESGCM(key).encrypt(nonce, self.transcoder.encode(state), aad)
        blob = _MAGIC + struct.pack(">H", len(header)) + header + nonce + ciphertext
        return StoredEvent(
            originator_id=originator_id, originator_version=version, topic=topic, state=blob
        )

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[UUID]:
        originator_id = _as_uuid(stored_event.originator_id)
        raw_header, nonce, ciphertext = _split_blob(stored_event.state)
        header: dict[str, Any] = json.loads(raw_header)
        timestamp = datetime.fromisoformat(header["ts"])
        try:
            key = self.keys.key_for_reading(originator_id)
        except SubjectErasedError:
            if not self.erased_as_placeholder:
                raise
            owner = header.get("owner")
            return ErasedEvent(
                originator_id=originator_id,
                originator_version=stored_event.originator_version,
                timestamp=timestamp,
                topic=stored_event.topic,
                owner_id=UUID(owner) if owner else None,
            )
        aad = _aad(originator_id, stored_event.originator_version, stored_event.topic, raw_header)
        try:
            plaintext = AESGCM(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise SubjectErasedError(f"payload of {originator_id} does not decrypt") from None
        state: dict[str, Any] = self.transcoder.decode(plaintext)
        state["originator_id"] = originator_id
        state["originator_version"] = stored_event.originator_version
        state["timestamp"] = timestamp
        cls = resolve_topic(stored_event.topic)
        class_version = getattr(cls, "class_version", 1)
        from_version = state.pop("class_version", 1)
        while from_version < class_version:
            getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
            from_version += 1
        domain_event = object.__new__(cls)
        object.__setattr__(domain_event, "__dict__", state)
        return domain_event  # type: ignore[no-any-return]


def _aad(originator_id: UUID, version: int, topic: str, header: bytes) -> bytes:
    """What the ciphertext is bound to: its row and its readable header (timestamp, owner),
    so neither a payload nor its header can be moved or altered unnoticed."""
    return originator_id.bytes + struct.pack(">q", version) + topic.encode() + b"\x00" + header


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def _split_blob(blob: bytes) -> tuple[bytes, bytes, bytes]:
    """The readable header (JSON), the nonce and the ciphertext of a stored payload."""
    if not blob.startswith(_MAGIC):
        raise ValueError("stored event state is not in the ovoz encrypted format")
    (header_len,) = struct.unpack(">H", blob[4:6])
    header = blob[6 : 6 + header_len]
    rest = blob[6 + header_len :]
    return header, rest[:_NONCE_BYTES], rest[_NONCE_BYTES:]


class NewSubjectKeys:
    """The keys of one application's new subjects, between being made and being stored.

    The application's mapper makes a key here for a subject's first event; its recorder
    inserts the key in the transaction of that event, and the key is forgotten if that
    transaction fails. Only store_keys_with_events makes one, and hands the same one to
    the mapper and the recorder of one application: a key made here can only be stored
    by the recorder that stores its events.
    """

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys
        self._pending: dict[UUID, tuple[UUID, bytes, str]] = {}
        self._lock = threading.Lock()

    def make(self, subject_id: UUID) -> bytes:
        key, row = self._keys.new_key(subject_id)
        with self._lock:
            self._pending[subject_id] = row
        return key

    def take(self, subject_ids: Iterable[UUID]) -> list[tuple[UUID, bytes, str]]:
        """The rows for subject_keys of these subjects' keys not stored yet. They stay
        pending until settled (a retried transaction takes them again)."""
        with self._lock:
            return [self._pending[s] for s in set(subject_ids) if s in self._pending]

    def settle(self, subject_ids: Iterable[UUID], *, stored: bool) -> None:
        """After the transaction: keep the keys it stored, forget those it did not."""
        with self._lock:
            made = [s for s in set(subject_ids) if self._pending.pop(s, None) is not None]
        if not stored:
            self._keys.forget(made)


class KeyedApplicationRecorder(PostgresApplicationRecorder):
    """Stores the data keys of new subjects in the transaction that stores their first
    events (a subject's key and its first event are written together or not at all).

    Selected with ``APPLICATION_RECORDER_TOPIC``; store_keys_with_events gives it its
    application's NewSubjectKeys. A key row that already exists fails the insert, and
    so the whole transaction, like any concurrent write to the same aggregate would."""

    new_subject_keys: NewSubjectKeys | None = None

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        subject_ids = [_as_uuid(e.originator_id) for e in stored_events]
        new_keys = self.new_subject_keys
        try:
            ids: Sequence[int] | None = super().insert_events(stored_events, **kwargs)
        except BaseException:
            if new_keys is not None:
                new_keys.settle(subject_ids, stored=False)
            raise
        if new_keys is not None:
            new_keys.settle(subject_ids, stored=True)
        return ids

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        if self.new_subject_keys is not None:
            rows = self.new_subject_keys.take(_as_uuid(e.originator_id) for e in stored_events)
            if rows:
                curs.executemany(
                    SQL(
                        "INSERT INTO {}.subject_keys (subject_id, wrapped_key, master_key_id) "
                        "VALUES (%s, %s, %s)"
                    ).format(Identifier(self.datastore.schema)),
                    rows,
                )
        super()._insert_events(curs, stored_events, **kwargs)


def store_keys_with_events(app: Application[UUID], keys: KeyStore) -> None:
    """Let ``app`` store the keys of its new subjects with their first events.

    The wiring is one object shared by this application's mapper and recorder, never by
    another application's: keys made for one application cannot wait on a recorder that
    will never store them. An application not wired so creates each new key in a
    transaction of its own. Wiring an application whose mapper does not encrypt with
    ``keys``, or whose recorder cannot store them, fails here.
    """
    mapper, recorder = app.mapper, app.recorder
    if not isinstance(mapper, SubjectEncryptingMapper) or mapper.keys is not keys:
        raise TypeError(f"the {app.name} application's mapper does not encrypt with these keys")
    if not isinstance(recorder, KeyedApplicationRecorder):
        raise TypeError(
            f"the {app.name} application's recorder cannot store keys with events "
            "(APPLICATION_RECORDER_TOPIC must name KeyedApplicationRecorder)"
        )
    new_keys = NewSubjectKeys(keys)
    recorder.new_subject_keys = new_keys
    mapper.new_subject_keys = new_keys
