"""True erasure on real PostgreSQL (issue 6): per-subject encryption, crypto-shredding of
recordings and accounts, the redacted audit trail, replay after erasure, cross-process key
eviction and master-key rotation.

The "nothing left" checks look at everything an operator could hand over: a ``pg_dump`` of
the test schema and every file under the var directory (blobs included). Each of them is
first shown to *find* the secret while it is still legitimately stored, so that a check
that could never fail (wrong schema, wrong encoding, empty dump) fails instead.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import RecordConflictError
from psycopg import sql

from domain.access import Principal
from domain.errors import SubjectErasedError
from domain.identity import Role
from domain.recordings import AudioFacts, RecordingNotFoundError, SegmentEdit
from domain.recordings_app import Recordings
from infrastructure.bootstrap import Ovoz
from infrastructure.encryption import (
    KeyStore,
    SubjectEncryptingMapper,
    master_key_id,
    store_keys_with_events,
)
from infrastructure.rebuild import rebuild
from tests.conftest import AUDIO_DIR, FakeClock, shared_or_noise
from tests.factories import transcript_facts
from tests.integration.conftest import MakeOvoz
from tests.integration.helpers import (
    ALICE,
    BOB,
    CODES,
    USERS_ENV,
    settle_every_projection,
    sign_in,
    upload,
)

ROOT = Path(__file__).resolve().parents[2]
JFK = AUDIO_DIR / "jfk.flac"  # 11 s, 1.1 MB: the recording that gets erased
OTHER = AUDIO_DIR / "en_librispeech_1089-134686-0001.flac"  # 3.3 s: recordings that stay

ADMIN = Principal(uuid4(), Role.ADMIN, 0)

MASTER_A = "master-key-A-" + "a" * 40
MASTER_B = "master-key-B-" + "b" * 40


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def jfk() -> bytes:
    return shared_or_noise(JFK, 11.0, seed=1)


@pytest.fixture(scope="module")
def other_clip() -> bytes:
    return shared_or_noise(OTHER, 3.3, seed=2)


@pytest.fixture(scope="module")
def audio_windows(jfk: bytes) -> list[bytes]:
    """Five 1-KB runs of jfk.flac spread over the file, each of high entropy (no silence,
    no padding), so that finding one anywhere means the audio is still there."""
    windows: list[bytes] = []
    for fraction in (0.1, 0.3, 0.5, 0.7, 0.9):
        offset = int(len(jfk) * fraction)
        while len(set(jfk[offset : offset + 1024])) < 200:
            offset += 1024
        windows.append(jfk[offset : offset + 1024])
    assert len(windows) == 5
    assert all(len(w) == 1024 for w in windows)
    return windows


@pytest.fixture(scope="module")
def pg_dump_binary(database_url: str) -> str:
    """A pg_dump that can dump this server: the same major version, else a newer one."""
    with psycopg.connect(database_url) as conn:
        server_major = conn.info.server_version // 10000
    candidates: list[str] = [c for c in (shutil.which("pg_dump"), "/usr/bin/pg_dump") if c]
    candidates += sorted(str(p) for p in Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))
    try:
        import pgserver

        candidates.append(str(Path(pgserver.__file__).parent / "pginstall" / "bin" / "pg_dump"))
    except ImportError:
        pass
    usable: list[tuple[int, str]] = []
    for candidate in dict.fromkeys(candidates):
        if not os.access(candidate, os.X_OK):
            continue
        try:
            out = subprocess.run(
                [candidate, "--version"], check=False, capture_output=True, text=True, timeout=10
            ).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        match = re.search(r"(\d+)\.\d+", out)
        if match and int(match.group(1)) >= server_major:
            usable.append((int(match.group(1)), candidate))
    if not usable:
        pytest.skip(
            f"no pg_dump of major version >= {server_major} (the server's) among {candidates}"
        )
    return min(usable)[1]


# -- helpers --------------------------------------------------------------------------------


def token() -> str:
    """A word that appears nowhere else: a transcript fragment we can look for."""
    return f"zq{uuid.uuid4().hex[:12]}x"


def upload_seen(ovoz: Ovoz, who: Principal, data: bytes, filename: str = "clip.flac") -> UUID:
    """Upload, and wait until every view of the recordings log has the recording."""
    written = upload(ovoz, who, data, filename)
    assert ovoz.wait_for("recordings", written.position)
    return written.recording.id


def transcribe(ovoz: Ovoz, recording_id: UUID, segment_texts: list[str]) -> None:
    """What a worker records: start, then a completed transcript with these segments."""
    ovoz.recordings.start_transcription(recording_id, "test-worker", 1)
    facts = transcript_facts(
        *segment_texts,
        language_probability=0.98,
        duration=11.0,
        model_name="test-model",
        processing_seconds=1.5,
    )
    written = ovoz.recordings.complete_transcription(recording_id, 1, facts)
    assert ovoz.wait_for("recordings", written.position)


def pg_dump(binary: str, database_url: str, schema: str) -> bytes:
    result = subprocess.run(
        [binary, f"--dbname={database_url}", f"--schema={schema}", "--no-owner"],
        check=False,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    assert f"CREATE TABLE {schema}.".encode() in result.stdout, "the dump holds no table"
    return result.stdout


def files_under(root: Path) -> Iterable[tuple[Path, bytes]]:
    for directory, _, names in os.walk(root):
        for name in names:
            path = Path(directory) / name
            yield path, path.read_bytes()


def text_forms(text: str) -> dict[str, bytes]:
    """``text`` as it could sit in a dump or a file: UTF-8 (text columns), its hex (bytea
    columns), UTF-16 (both byte orders) and base64 at each of the three alignments."""
    raw = text.encode()
    forms = {"utf-8": raw, "utf-16-le": text.encode("utf-16-le")}
    forms["utf-16-be"] = text.encode("utf-16-be")
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        start = -(-shift // 3) * 4  # first base64 group made of text bytes only
        end = (shift + len(raw)) // 3 * 4
        forms[f"base64+{shift}"] = encoded[start:end]
        forms[f"urlsafe-base64+{shift}"] = base64.urlsafe_b64encode(b"\0" * shift + raw)[start:end]
    return forms


def phone_forms(e164: str) -> dict[str, bytes]:
    """The number as stored anywhere: E.164, digits only, national, each in every form."""
    digits = e164.lstrip("+")
    found: dict[str, bytes] = {}
    for label, text in (("e164", e164), ("digits", digits), ("national", digits[3:])):
        for encoding, needle in text_forms(text).items():
            found[f"{label} {encoding}"] = needle
    return found


def leaks(haystack: bytes, needles: dict[str, bytes]) -> list[str]:
    """Which needles appear in ``haystack``, as bytes or as the hex of a bytea value."""
    lowered = haystack.lower()
    return [
        label
        for label, needle in needles.items()
        if needle in haystack or needle.hex().encode() in lowered
    ]


def leaks_in_files(root: Path, needles: dict[str, bytes]) -> list[str]:
    return [
        f"{label} in {path}" for path, data in files_under(root) for label in leaks(data, needles)
    ]


def rows(ovoz: Ovoz, table: str) -> list[tuple[Any, ...]]:
    with ovoz.datastore.transaction(commit=False) as curs:
        curs.execute(sql.SQL("SELECT * FROM {} ORDER BY id").format(sql.Identifier(table)))
        return [tuple(r.values()) for r in curs.fetchall()]


def events_digest(database_url: str, schema: str) -> dict[str, str]:
    """A hash of every events table, row by row, bytes included."""
    with psycopg.connect(database_url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = %s AND table_name LIKE '%%\\_events' ORDER BY 1",
                (schema,),
            )
        ]
        digests: dict[str, str] = {}
        for table in tables:
            row = conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(string_agg(t::text, E'\\n' ORDER BY notification_id)) "
                    "FROM {}.{} t"
                ).format(sql.Identifier(schema), sql.Identifier(table))
            ).fetchone()
            assert row is not None
            digests[table] = f"{row[0]}:{row[1]}"
    assert {"identity_events", "recordings_events"} <= set(digests), digests
    return digests


def key_owners(ovoz: Ovoz) -> dict[UUID, str | None]:
    """subject id -> id of the master key its data key is wrapped under (None: destroyed)."""
    with ovoz.datastore.transaction(commit=False) as curs:
        curs.execute("SELECT subject_id, master_key_id FROM subject_keys")
        return {r["subject_id"]: r["master_key_id"] for r in curs.fetchall()}


# -- deleting a recording -------------------------------------------------------------------


def test_deleted_recording_leaves_no_transcript_or_audio_in_dump_or_blobs(
    make_ovoz: MakeOvoz,
    database_url: str,
    schema: str,
    tmp_path: Path,
    pg_dump_binary: str,
    jfk: bytes,
    other_clip: bytes,
    audio_windows: list[bytes],
) -> None:
    ovoz = make_ovoz(**USERS_ENV)
    alice = sign_in(ovoz, ALICE)
    doomed = upload_seen(ovoz, alice, jfk, "jfk.flac")
    kept = upload_seen(ovoz, alice, other_clip, "kept.flac")
    seg_a, seg_b, edited, kept_word = token(), token(), token(), token()
    transcribe(ovoz, doomed, [f"ask not {seg_a}", f"what your {seg_b} country"])
    # Replace the second segment: its old text stays only in the (encrypted) log.
    written = ovoz.recordings.edit_transcript(
        alice, doomed, None, [SegmentEdit(segment_id=1, text=f"can do {edited}")], None
    )
    assert ovoz.wait_for("recordings", written.position)
    transcribe(ovoz, kept, [f"this one {kept_word} stays"])
    settle_every_projection(ovoz)

    secrets = {"segment text": seg_a.encode(), "replaced text": seg_b.encode()}
    secrets["edited text"] = edited.encode()
    windows = {f"audio window {i}": w for i, w in enumerate(audio_windows)}
    blob_dir = ovoz.settings.blob_dir
    assert blob_dir == tmp_path / "blobs"

    # While the recording lives, the checks find it: the read model holds its text and
    # the blob store its audio. The replaced text is only in the log, which is encrypted.
    before = pg_dump(pg_dump_binary, database_url, schema)
    assert leaks(before, secrets) == ["segment text", "edited text"]
    assert sorted(leaks_in_files(blob_dir, windows)) == sorted(
        f"{label} in {ovoz.blobs.path(doomed.hex)}" for label in windows
    )

    ovoz.recordings.delete(alice, doomed)
    settle_every_projection(ovoz)

    after = pg_dump(pg_dump_binary, database_url, schema)
    assert leaks(after, {**secrets, **windows}) == []
    assert leaks_in_files(tmp_path, {**secrets, **windows}) == []
    assert not ovoz.blobs.path(doomed.hex).exists()
    assert ovoz.keys.is_destroyed(doomed)
    assert ovoz.audios.get(doomed) is None
    with pytest.raises(RecordingNotFoundError):
        ovoz.recordings.get(alice, doomed)
    # The other recording is untouched, in the dump and readable.
    assert leaks(after, {"kept": kept_word.encode()}) == ["kept"]
    assert ovoz.recordings.get(alice, kept).transcript_text == f"this one {kept_word} stays"
    assert ovoz.blobs.path(kept.hex).read_bytes() == other_clip


# -- deleting an account --------------------------------------------------------------------


def test_deleted_account_leaves_no_phone_or_transcript_and_the_phone_can_sign_up_again(
    make_ovoz: MakeOvoz,
    database_url: str,
    schema: str,
    tmp_path: Path,
    pg_dump_binary: str,
    clock: FakeClock,
    jfk: bytes,
    other_clip: bytes,
    audio_windows: list[bytes],
) -> None:
    ovoz = make_ovoz(**USERS_ENV)
    alice = sign_in(ovoz, ALICE)
    bob = sign_in(ovoz, BOB)
    alice_words = [token(), token(), token()]
    first = upload_seen(ovoz, alice, jfk, "speech.flac")
    second = upload_seen(ovoz, alice, other_clip, "second.flac")
    transcribe(ovoz, first, [f"we choose {alice_words[0]}", f"to go {alice_words[1]}"])
    transcribe(ovoz, second, [f"the {alice_words[2]} moon"])
    bob_word = token()
    bobs = upload_seen(ovoz, bob, other_clip, "bob.flac")
    transcribe(ovoz, bobs, [f"bob says {bob_word}"])
    settle_every_projection(ovoz)
    bob_history = ovoz.recordings.history(bob, bobs)

    phone = phone_forms(ALICE)
    words = {f"transcript word {i}": w.encode() for i, w in enumerate(alice_words)}
    windows = {f"audio window {i}": w for i, w in enumerate(audio_windows)}
    before = pg_dump(pg_dump_binary, database_url, schema)
    # The checks can see the phone (users read model) and the transcripts (audios).
    assert {"e164 utf-8", "digits utf-8", "national utf-8"} <= set(leaks(before, phone))
    assert len(leaks(before, words)) == len(words)
    assert leaks_in_files(tmp_path / "blobs", windows)

    position = ovoz.accounts.delete_account(alice)
    assert ovoz.wait_for("identity", position)
    settle_every_projection(ovoz)

    after = pg_dump(pg_dump_binary, database_url, schema)
    assert leaks(after, {**phone, **words, **windows}) == []
    assert leaks_in_files(tmp_path, {**phone, **words, **windows}) == []
    assert ovoz.users.get(alice.user_id) is None
    with ovoz.datastore.transaction(commit=False) as curs:
        curs.execute("SELECT id FROM users")
        assert [r["id"] for r in curs.fetchall()] == [bob.user_id]
    for recording_id in (first, second):
        assert ovoz.keys.is_destroyed(recording_id)
        assert ovoz.audios.get(recording_id) is None
        assert not ovoz.blobs.path(recording_id.hex).exists()
    assert ovoz.keys.is_destroyed(alice.user_id)

    # Bob is untouched: his data is in the dump, readable, and he signs in as before.
    assert leaks(after, {"bob e164": BOB.encode(), "bob word": bob_word.encode()}) == [
        "bob e164",
        "bob word",
    ]
    assert ovoz.recordings.get(bob, bobs).transcript_text == f"bob says {bob_word}"
    assert ovoz.recordings.history(bob, bobs) == bob_history
    assert all(not e.redacted and e.actor != "redacted" for e in bob_history)
    clock.advance(120)  # past the resend cooldown
    assert sign_in(ovoz, BOB).user_id == bob.user_id

    # The same phone signs up again, as a new person.
    again = sign_in(ovoz, ALICE)
    assert again.user_id != alice.user_id
    row = ovoz.users.get(again.user_id)
    assert row is not None
    assert row.phone == ALICE
    assert ovoz.audios.ids_of(again.user_id) == []


def test_erased_recording_audit_trail_is_redacted_for_admins_and_hidden_from_owner(
    make_ovoz: MakeOvoz, other_clip: bytes
) -> None:
    ovoz = make_ovoz(**USERS_ENV)
    alice = sign_in(ovoz, ALICE)
    bob = sign_in(ovoz, BOB)
    erased = upload_seen(ovoz, alice, other_clip)
    transcribe(ovoz, erased, [f"secret {token()}"])
    ovoz.recordings.edit_transcript(alice, erased, f"edited {token()}", [], None)
    bobs = upload_seen(ovoz, bob, other_clip)
    transcribe(ovoz, bobs, [f"fine {token()}"])
    trail = ovoz.recordings.history(alice, erased)
    assert [e.type for e in trail] == [
        "AudioUploaded",
        "TranscriptionStarted",
        "TranscriptionCompleted",
        "TranscriptEdited",
    ]
    assert trail[0].actor == str(alice.user_id)
    bob_trail = ovoz.recordings.history(bob, bobs)

    ovoz.recordings.delete(alice, erased)
    settle_every_projection(ovoz)

    redacted = ovoz.recordings.history(ADMIN, erased)
    assert [(e.type, e.version, e.at) for e in redacted] == [
        *((e.type, e.version, e.at) for e in trail),
        ("AudioDeleted", trail[-1].version + 1, redacted[-1].at),
    ]
    assert redacted[-1].at >= trail[-1].at
    assert all(e.actor == "redacted" and e.redacted for e in redacted)
    assert all(e.summary == "Details erased" for e in redacted)
    with pytest.raises(RecordingNotFoundError):
        ovoz.recordings.history(alice, erased)
    # Other subjects keep their full trail, for the admin too.
    assert ovoz.recordings.history(ADMIN, bobs) == bob_trail
    assert all(not e.redacted for e in bob_trail)


# -- replay ---------------------------------------------------------------------------------


def test_replay_after_erasures_rebuilds_read_models_without_erased_data(
    make_ovoz: MakeOvoz, clock: FakeClock, other_clip: bytes
) -> None:
    ovoz = make_ovoz(**USERS_ENV)
    alice = sign_in(ovoz, ALICE)
    bob = sign_in(ovoz, BOB)
    alices = [upload_seen(ovoz, alice, other_clip) for _ in range(2)]
    for recording_id in alices:
        transcribe(ovoz, recording_id, [f"alice {token()}"])
    bobs_kept, bobs_deleted = upload_seen(ovoz, bob, other_clip), upload_seen(ovoz, bob, other_clip)
    transcribe(ovoz, bobs_kept, [f"bob {token()}"])
    transcribe(ovoz, bobs_deleted, [f"gone {token()}"])
    ovoz.recordings.edit_transcript(bob, bobs_kept, f"bob edited {token()}", [], None)
    ovoz.recordings.delete(bob, bobs_deleted)
    ovoz.accounts.delete_account(alice)
    clock.advance(120)
    alice_again = sign_in(ovoz, ALICE)
    again = upload_seen(ovoz, alice_again, other_clip)
    settle_every_projection(ovoz)

    audios_before, users_before = rows(ovoz, "audios"), rows(ovoz, "users")
    assert [r[0] for r in audios_before] == sorted([bobs_kept, again])
    assert [r[0] for r in users_before] == sorted([bob.user_id, alice_again.user_id])

    audios_report = rebuild(ovoz, "audios")
    users_report = rebuild(ovoz, "users")

    # Every event was replayed, erased ones included, without an error.
    assert audios_report.events == ovoz.recordings.recorder.max_notification_id()
    assert users_report.events == ovoz.identity.recorder.max_notification_id()
    assert rows(ovoz, "audios") == audios_before
    assert rows(ovoz, "users") == users_before
    erased = {*alices, bobs_deleted, alice.user_id}
    assert not erased & {r[0] for r in rows(ovoz, "audios") + rows(ovoz, "users")}


# -- an upload racing the account deletion --------------------------------------------------


def test_upload_recorded_after_account_erasure_is_erased_by_the_processor(
    make_ovoz: MakeOvoz, other_clip: bytes
) -> None:
    ovoz = make_ovoz(**USERS_ENV)
    alice = sign_in(ovoz, ALICE)
    ovoz.accounts.delete_account(alice)
    settle_every_projection(ovoz)
    assert ovoz.keys.is_destroyed(alice.user_id)

    # Her token is still valid for a moment: an upload in flight lands after the erasure.
    written = upload(ovoz, alice, other_clip, "late.flac")
    late = written.recording.id
    settle_every_projection(ovoz)

    assert not ovoz.blobs.path(late.hex).exists()
    assert ovoz.audios.get(late) is None
    assert ovoz.keys.is_destroyed(late)
    assert [e.type for e in ovoz.recordings.history(ADMIN, late)] == [
        "AudioUploaded",
        "AudioDeleted",
    ]
    assert ovoz.audios.ids_of(alice.user_id) == []


# -- a key destroyed by another process -----------------------------------------------------


def test_key_destroyed_by_another_process_stops_decrypting_here_within_two_seconds(
    make_ovoz: MakeOvoz, other_clip: bytes
) -> None:
    here = make_ovoz(**USERS_ENV)
    elsewhere = make_ovoz(start=False, **USERS_ENV)
    time.sleep(1.0)  # both key listeners are up (each empties its cache when it starts)
    alice = sign_in(here, ALICE)
    recording_id = upload_seen(here, alice, other_clip)
    deadline = time.monotonic() + 5.0
    while True:  # read until the key sits in this process's cache (a listener that has
        # just connected empties it once)
        assert here.recordings.load(recording_id).id == recording_id
        if here.keys._cached(recording_id) is not None:
            break
        assert time.monotonic() < deadline, "the key is never cached"
        time.sleep(0.1)

    elsewhere.keys.destroy([recording_id])
    destroyed_at = time.monotonic()
    while True:
        try:
            here.recordings.load(recording_id)
        except RecordingNotFoundError:
            break
        assert time.monotonic() - destroyed_at < 2.0, "the destroyed key is still in use"
        time.sleep(0.02)
    with pytest.raises(SubjectErasedError):
        here.keys.key_for_reading(recording_id)
    # Other subjects are still readable here.
    assert here.identity.get_user(alice.user_id).phone == ALICE


# -- master-key rotation --------------------------------------------------------------------


def test_master_key_rotation_rewraps_every_key_and_leaves_events_untouched(
    make_ovoz: MakeOvoz,
    database_url: str,
    schema: str,
    tmp_path: Path,
    clock: FakeClock,
    other_clip: bytes,
) -> None:
    old = make_ovoz(MASTER_KEY=MASTER_A, **USERS_ENV)
    alice = sign_in(old, ALICE)
    kept, gone = upload_seen(old, alice, other_clip), upload_seen(old, alice, other_clip)
    text = f"rotate {token()}"
    transcribe(old, kept, [text])
    old.recordings.delete(alice, gone)
    settle_every_projection(old)
    recording = old.recordings.get(alice, kept)
    trail = old.recordings.history(alice, kept)
    id_a, id_b = master_key_id(MASTER_A.encode()), master_key_id(MASTER_B.encode())
    assert set(key_owners(old).values()) == {id_a, None}  # None: the deleted recording

    # Rotation through the application.
    events_before = events_digest(database_url, schema)
    rotating = make_ovoz(start=False, MASTER_KEY=MASTER_B, MASTER_KEY_PREVIOUS=MASTER_A)
    assert rotating.keys.rotate() == 3  # alice, her OTP challenge, the kept recording
    assert events_digest(database_url, schema) == events_before
    assert set(key_owners(old).values()) == {id_b, None}
    assert key_owners(old)[gone] is None

    # A process still on the old key writes new subjects; then rotation through the CLI.
    bob = sign_in(old, BOB)
    assert key_owners(old)[bob.user_id] == id_a
    events_before = events_digest(database_url, schema)
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATABASE_SCHEMA": schema,
        "OVOZ_VAR_DIR": str(tmp_path),  # JWT_SECRET, OTP_PEPPER, PHONE_HMAC_KEY from here
        "MASTER_KEY": MASTER_B,
        "MASTER_KEY_PREVIOUS": MASTER_A,
        "LOG_LEVEL": "WARNING",
    }
    cli = subprocess.run(
        [sys.executable, "-m", "infrastructure.cli", "keys", "rotate"],
        cwd=ROOT,
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 0, cli.stderr
    assert "re-wrapped 2 data key(s)" in cli.stdout  # bob and his OTP challenge
    assert events_digest(database_url, schema) == events_before
    owners = key_owners(old)
    assert set(owners.values()) == {id_b, None}
    assert [s for s, k in owners.items() if k is None] == [gone]

    # Only the new key from now on: everything still reads.
    new = make_ovoz(start=False, MASTER_KEY=MASTER_B, **USERS_ENV)
    again = new.recordings.get(alice, kept)
    assert again.transcript_text == recording.transcript_text == text
    assert again.version == recording.version
    assert new.recordings.history(alice, kept) == trail
    assert [e.type for e in new.recordings.history(ADMIN, gone)][-1] == "AudioDeleted"
    assert new.identity.get_user(alice.user_id).phone == ALICE
    audios, users = rows(new, "audios"), rows(new, "users")
    assert rebuild(new, "audios").events == new.recordings.recorder.max_notification_id()
    assert rebuild(new, "users").events == new.identity.recorder.max_notification_id()
    assert rows(new, "audios") == audios
    assert [r[0] for r in audios] == [kept]
    assert rows(new, "users") == users
    assert len(users) == 2
    clock.advance(120)
    assert sign_in_without_projection(new, ALICE) == alice.user_id
    assert set(key_owners(new).values()) == {id_b, None}


def sign_in_without_projection(ovoz: Ovoz, phone: str) -> UUID:
    """Sign in through the identity use cases only (this instance runs no projections)."""
    ovoz.identity.send_code(phone)
    return ovoz.identity.verify_code(phone, CODES[phone]).user_id


def test_audio_windows_are_distinct_runs_of_the_file(
    jfk: bytes, audio_windows: list[bytes]
) -> None:
    """The needles are real, high-entropy audio: not silence, not repeated, really in jfk."""
    assert len({hashlib.sha256(w).digest() for w in audio_windows}) == len(audio_windows)
    for window in audio_windows:
        assert jfk.count(window) == 1
        assert len(set(window)) >= 200


# -- data keys of new subjects ------------------------------------------------------------


class _Archive(Recordings):
    """A second recordings application (events of its own) over ovoz's key store."""

    name = "archive"


def archive_of(ovoz: Ovoz, keys: KeyStore | None = None) -> Recordings:
    store = keys or ovoz.keys
    return _Archive(
        ovoz.blobs,
        store,
        env=ovoz.params.eventsourcing_env(pool_size=1),
        mapper_factory=lambda t: SubjectEncryptingMapper(t, store),
    )


def archive_facts(recording_id: UUID) -> AudioFacts:
    return AudioFacts(
        filename="archived.flac",
        content_type="audio/flac",
        size_bytes=1000,
        sha256="ab" * 32,
        blob_key=recording_id.hex,
        duration_seconds=3.0,
        language=None,
    )


def key_and_event_transactions(ovoz: Ovoz, subject_id: UUID, events: str) -> tuple[int, int]:
    """The transaction ids that wrote the subject's key and its first event."""
    with ovoz.datastore.transaction(commit=False) as curs:
        curs.execute(
            "SELECT xmin::text::bigint AS tx FROM subject_keys WHERE subject_id = %s",
            (subject_id,),
        )
        key = curs.fetchone()
        curs.execute(
            sql.SQL(
                "SELECT xmin::text::bigint AS tx FROM {} "
                "WHERE originator_id = %s AND originator_version = 1"
            ).format(sql.Identifier(events)),
            (subject_id,),
        )
        event = curs.fetchone()
    assert key is not None, "the subject's key was never stored"
    assert event is not None
    return key["tx"], event["tx"]


def test_a_new_recordings_key_is_stored_in_the_transaction_of_its_first_event(
    make_ovoz: MakeOvoz, other_clip: bytes
) -> None:
    ovoz = make_ovoz(**USERS_ENV)
    alice = sign_in(ovoz, ALICE)
    recording_id = upload_seen(ovoz, alice, other_clip)
    key_tx, event_tx = key_and_event_transactions(ovoz, recording_id, "recordings_events")
    assert key_tx == event_tx


def test_an_application_not_wired_to_store_keys_with_events_still_keeps_its_keys(
    ovoz: Ovoz,
) -> None:
    # ovoz's own applications store new keys with their events; this one shares their
    # key store without being wired so: its keys must be stored all the same.
    archive = archive_of(ovoz)
    try:
        recording_id = archive.new_id()
        archive.upload(recording_id, uuid4(), archive_facts(recording_id))
        key_tx, event_tx = key_and_event_transactions(ovoz, recording_id, "archive_events")
        assert key_tx != event_tx  # a transaction of its own, before the event's
        ovoz.keys.forget_cache()
        assert archive.repository.get(recording_id).filename == "archived.flac"
    finally:
        archive.close()


def test_wiring_keys_with_events_to_a_mapper_of_other_keys_fails_loudly(ovoz: Ovoz) -> None:
    other_keys = KeyStore(ovoz.datastore, b"another master key" * 2)
    archive = archive_of(ovoz, other_keys)
    plain = _Archive(ovoz.blobs, ovoz.keys, env=ovoz.params.eventsourcing_env(pool_size=1))
    try:
        with pytest.raises(TypeError, match="does not encrypt with these keys"):
            store_keys_with_events(archive, ovoz.keys)
        with pytest.raises(TypeError, match="does not encrypt with these keys"):
            store_keys_with_events(plain, ovoz.keys)
        # Refused, nothing changed: the archive's new keys still go in their own write.
        recording_id = archive.new_id()
        archive.upload(recording_id, uuid4(), archive_facts(recording_id))
        other_keys.forget_cache()
        assert archive.repository.get(recording_id).filename == "archived.flac"
    finally:
        archive.close()
        plain.close()


def test_a_key_whose_first_write_failed_is_not_used_for_later_writes(
    make_ovoz: MakeOvoz,
) -> None:
    ovoz = make_ovoz(**USERS_ENV)
    erased = uuid4()
    ovoz.keys.destroy([erased])  # a key row exists: storing a new key with the event fails
    with pytest.raises(RecordConflictError):
        ovoz.recordings.upload(erased, uuid4(), archive_facts(erased))
    # The key made for that write was never stored: it must not linger in the cache.
    with pytest.raises(SubjectErasedError):
        ovoz.keys.key_for_writing(erased)
    assert ovoz.recordings.recorder.select_events(erased) == []
