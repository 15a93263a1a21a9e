"""What per-subject encryption costs: event append and load throughput of the recordings
application with ``SubjectEncryptingMapper`` against the same application with
eventsourcing's plain mapper, in one run, on one database (issue 6: at most 15% slower).

Each side gets a fresh schema of its own (the encrypted one is ovoz, built by
``bootstrap``) and does the same operations, one thread, one event per save. Every
measure runs in slices that alternate between the sides (and which goes first), so that
other load on the machine or the database hits both alike; a rate is all operations over
all the time spent on them.

- **append, new recording**: ``Recordings.upload`` of fixed facts: one ``AudioUploaded``
  per save. With encryption this also creates and wraps the recording's data key and
  inserts it into ``subject_keys`` (in the event's transaction), as every first event does.
- **append, existing recording**: one ``TranscriptionStarted`` saved on an aggregate held
  in memory: the data key is cached, so this is the cost of encrypting itself.
- **load, key cache warm**: ``repository.get`` of a recording (two events), its key put in
  the cache just before (untimed).
- **load, key cache cold**: the same after ``keys.forget_cache()`` before every get, so each
  load also reads and unwraps the data key (the plain side, with no keys, just loads).

Run it: ``.venv/bin/python -m bench.encryption [--database-url URL] [--operations N]``;
from code: ``bench_encryption(database_url)`` returns the rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import psycopg
from psycopg import sql

from bench.database import scratch_environment
from bench.report import Row, table
from domain.ports import SubjectKeys
from domain.recordings import AudioFacts, Recording
from domain.recordings_app import Recordings
from infrastructure.blobs import FileBlobStore
from infrastructure.bootstrap import bootstrap
from infrastructure.config import Settings
from infrastructure.database import ConnectionParams, ensure_schema
from infrastructure.encryption import KeyStore

TARGET_SLOWDOWN = 0.15  # at most 15% slower than without encryption

APPEND_NEW = "event append, new recording (ops/s)"
APPEND_EXISTING = "event append, existing recording (ops/s)"
LOAD_WARM = "aggregate load, key cache warm (ops/s)"
LOAD_COLD = "aggregate load, key cache cold (ops/s)"
MEASURES = (APPEND_NEW, APPEND_EXISTING, LOAD_WARM, LOAD_COLD)

_OWNER = UUID("00000000-0000-4000-8000-00000000be4c")


def _facts(recording_id: UUID) -> AudioFacts:
    return AudioFacts(
        filename="bench.flac",
        content_type="audio/flac",
        size_bytes=176_400,
        sha256="ab" * 32,
        blob_key=recording_id.hex,
        duration_seconds=11.0,
        language="en",
    )


@dataclass
class _Side:
    """One recordings application in a schema of its own, encrypted or not."""

    label: str
    recordings: Recordings
    keys: KeyStore | None  # ovoz's data keys; the plain side has none

    @property
    def encrypted(self) -> bool:
        return self.keys is not None

    # -- the four operations, each over a slice of recording ids -------------------------

    def append_new(self, ids: list[UUID], held: dict[UUID, Recording]) -> None:
        for recording_id in ids:
            written = self.recordings.upload(recording_id, _OWNER, _facts(recording_id))
            held[recording_id] = written.recording

    def append_existing(self, ids: list[UUID], held: dict[UUID, Recording]) -> None:
        for recording_id in ids:
            recording = held[recording_id]
            recording.start_transcription("bench-worker", 1)
            self.recordings.save(recording)

    def warm_keys(self, ids: list[UUID]) -> None:
        """Untimed: put the keys of ``ids`` in the cache (they expire 30 s after use, and
        an earlier measure may have taken longer than that)."""
        if self.keys is not None:
            for recording_id in ids:
                self.keys.key_for_reading(recording_id)

    def load_warm(self, ids: list[UUID], held: dict[UUID, Recording]) -> None:
        for recording_id in ids:
            self.recordings.repository.get(recording_id)

    def load_cold(self, ids: list[UUID], held: dict[UUID, Recording]) -> None:
        for recording_id in ids:
            if self.keys is not None:
                self.keys.forget_cache()
            self.recordings.repository.get(recording_id)


class _NoKeys(SubjectKeys):
    """The plain side encrypts nothing: there are no keys to destroy."""

    def destroy(self, subject_ids: list[UUID]) -> None:
        raise NotImplementedError("the plain side has no keys")

    def is_destroyed(self, subject_id: UUID) -> bool:
        return False


@contextmanager
def _ovoz_side(database_url: str) -> Iterator[_Side]:
    """The recordings application as ovoz runs it: built by bootstrap, in a fresh schema."""
    with scratch_environment(database_url, "bench_enc_") as env:
        ovoz = bootstrap(Settings.from_env(env))
        try:
            yield _Side("enc", ovoz.recordings, ovoz.keys)
        finally:
            ovoz.close()


@contextmanager
def _plain_side(database_url: str, blob_root: Path) -> Iterator[_Side]:
    """The same application with eventsourcing's plain mapper, in a fresh schema."""
    params = ConnectionParams.from_url(database_url, f"bench_plain_{uuid.uuid4().hex[:10]}")
    ensure_schema(params)
    recordings = Recordings(
        FileBlobStore(blob_root / params.schema),
        _NoKeys(),
        env=params.eventsourcing_env(pool_size=2),
    )
    try:
        yield _Side("plain", recordings, None)
    finally:
        recordings.close()
        with params.connect() as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(params.schema))
            )


_Step = Callable[[_Side, list[UUID], dict[UUID, Recording]], None]
_STEPS: tuple[tuple[str, _Step], ...] = (
    (APPEND_NEW, _Side.append_new),
    (APPEND_EXISTING, _Side.append_existing),
    (LOAD_WARM, _Side.load_warm),
    (LOAD_COLD, _Side.load_cold),
)


def _rounds(
    sides: tuple[_Side, _Side], operations: int, rounds: int, slices: int
) -> dict[tuple[str, str], float]:
    """Seconds spent per (side, measure). Every measure runs in ``slices`` slices that
    alternate between the sides (and which side goes first), so that load elsewhere on
    the machine or the database hits both sides alike."""
    seconds: dict[tuple[str, str], float] = {}
    size = max(1, operations // slices)
    for r in range(rounds):
        ids = {side.label: [uuid.uuid4() for _ in range(size * slices)] for side in sides}
        held: dict[str, dict[UUID, Recording]] = {side.label: {} for side in sides}
        for name, step in _STEPS:
            for k in range(slices):
                order = sides if (r + k) % 2 == 0 else sides[::-1]
                for side in order:
                    chunk = ids[side.label][k * size : (k + 1) * size]
                    if step is _Side.load_warm:
                        side.warm_keys(chunk)
                    started = time.perf_counter()
                    step(side, chunk, held[side.label])
                    elapsed = time.perf_counter() - started
                    key = (side.label, name)
                    seconds[key] = seconds.get(key, 0.0) + elapsed
        for side in sides:  # the loads really read what was written
            last: Recording = side.recordings.repository.get(ids[side.label][-1])
            assert last.version == 2, f"{side.label}: recording at version {last.version}"
    return seconds


def _note(ratio: float) -> str:
    slower = (1.0 / ratio - 1.0) if ratio else float("inf")
    verdict = "ok" if slower <= TARGET_SLOWDOWN else "MISSED"
    trend = f"{slower * 100:.1f}% slower" if slower >= 0 else f"{-slower * 100:.1f}% faster"
    return f"{trend}; target <= {TARGET_SLOWDOWN * 100:.0f}% slower: {verdict}"


def bench_encryption(
    database_url: str, *, operations: int = 600, rounds: int = 2, slices: int = 12
) -> list[Row]:
    """Rows of ovoz = encrypted ops/s against baseline = plain ops/s;
    ratio is encrypted / plain, so 1.0 means no cost and 0.87 is 15% slower.
    ``operations`` per measure, side and round."""
    with (
        tempfile.TemporaryDirectory(prefix="ovoz-bench-enc-") as tmp,
        _ovoz_side(database_url) as encrypted,
        _plain_side(database_url, Path(tmp)) as plain,
    ):
        sides = (encrypted, plain)
        _rounds(sides, 2 * slices, 1, slices)  # warm up: connections, tables, code
        seconds = _rounds(sides, operations, rounds, slices)
    done = max(1, operations // slices) * slices * rounds
    rows: list[Row] = []
    for name in MEASURES:
        ours = done / seconds[(encrypted.label, name)]
        base = done / seconds[(plain.label, name)]
        ratio = ours / base
        rows.append(Row(name, ours, base, ratio, "ops/s", _note(ratio)))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    from bench.database import DEFAULT_URL, bench_database

    p = argparse.ArgumentParser(prog="python -m bench.encryption", description=__doc__)
    p.add_argument("--database-url", default=os.environ.get("DATABASE_URL") or DEFAULT_URL)
    p.add_argument("--operations", type=int, default=600, help="per measure, side and round")
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args(argv)
    with bench_database(args.database_url, None) as db:
        with psycopg.connect(db.url) as conn:
            version = conn.info.server_version
        started = time.perf_counter()
        rows = bench_encryption(db.url, operations=args.operations, rounds=args.rounds)
        seconds = time.perf_counter() - started
    print(table(rows))
    print(
        f"\nPostgreSQL {version // 10000}.{version % 10000} ({db.where}); "
        f"{args.operations} operations x {args.rounds} rounds per measure and side, "
        f"interleaved in slices; one thread; {seconds:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
