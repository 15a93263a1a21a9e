"""The filesystem blob store for audio: staged while streaming in, then committed atomically."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from domain.ports import BlobStore

_KEY = re.compile(r"^[0-9a-f]{32}$")
_CHUNK = 1024 * 1024
_STALE_STAGING_SECONDS = 24 * 3600


class BlobTooLargeError(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit} bytes")
        self.limit = limit


@dataclass(frozen=True)
class StagedBlob:
    """Bytes on disk, hashed and measured, not yet part of the store."""

    path: Path
    size: int
    sha256: str


logger = logging.getLogger("ovoz.blobs")
_PRIVATE_DIR = 0o700
_PRIVATE_FILE = 0o600


class FileBlobStore(BlobStore):
    """Blobs under ``root/ab/cd/<key>``. Writes go to a staging file first, are fsynced,
    and appear under their key only by an atomic rename, so a crash never leaves half a
    blob under a key. Keys are opaque hex ids, never derived from user input."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / ".staging"

    def prepare(self) -> None:
        self.staging.mkdir(mode=_PRIVATE_DIR, parents=True, exist_ok=True)
        try:
            self.root.chmod(_PRIVATE_DIR)  # audio is personal data: the service's user only
        except PermissionError:  # a directory the operator owns: their permissions stand
            logger.warning("cannot make %s private (not its owner)", self.root)
        cutoff = time.time() - _STALE_STAGING_SECONDS
        for leftover in self.staging.iterdir():  # from a crash in the middle of an upload
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink(missing_ok=True)

    def stage(self, source: BinaryIO, max_bytes: int) -> StagedBlob:
        """Copy ``source`` to a staging file, hashing as it goes; refuse past ``max_bytes``."""
        self.staging.mkdir(mode=_PRIVATE_DIR, parents=True, exist_ok=True)
        path = self.staging / uuid.uuid4().hex
        digest = hashlib.sha256()
        size = 0
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE)
            with open(fd, "wb") as out:
                while chunk := source.read(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise BlobTooLargeError(max_bytes)
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return StagedBlob(path=path, size=size, sha256=digest.hexdigest())

    def commit(self, staged: StagedBlob, key: str) -> None:
        target = self.path(key)
        target.parent.mkdir(mode=_PRIVATE_DIR, parents=True, exist_ok=True)
        os.replace(staged.path, target)
        _fsync_dir(target.parent)

    def discard(self, staged: StagedBlob) -> None:
        staged.path.unlink(missing_ok=True)

    def path(self, key: str) -> Path:
        if not _KEY.match(key):
            raise ValueError("not a blob key")
        return self.root / key[:2] / key[2:4] / key

    def exists(self, key: str) -> bool:
        return self.path(key).exists()

    def delete(self, key: str) -> None:
        path = self.path(key)
        path.unlink(missing_ok=True)
        if path.parent.exists():
            _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
