"""Taking in an upload: stream to staging, check it is audio and within the owner's quota,
store it, record it."""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import replace
from pathlib import PurePosixPath, PureWindowsPath
from typing import BinaryIO
from uuid import UUID

from domain.access import Principal
from domain.languages import UnsupportedLanguageError, normalise_language
from domain.recordings import AudioFacts, FileTooLargeError, InvalidAudioError
from domain.recordings_app import Recordings, Written
from domain.vocabulary import clean_prompt
from infrastructure import audio
from infrastructure.blobs import BlobTooLargeError, FileBlobStore, StagedBlob
from infrastructure.quota import UploadClaims

log = logging.getLogger("ovoz.intake")

_MAX_FILENAME = 200
_CONTENT_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "matroska,webm": "audio/webm",
    "mov,mp4,m4a,3gp,3g2,mj2": "audio/mp4",
    "aac": "audio/aac",
    "amr": "audio/amr",
    "aiff": "audio/aiff",
}


class AudioIntake:
    """Accepts uploaded files as recordings, or refuses them leaving nothing behind."""

    def __init__(
        self,
        recordings: Recordings,
        blobs: FileBlobStore,
        claims: UploadClaims,
        max_bytes: int,
        max_seconds: float,
        *,
        refused_languages: frozenset[str] = frozenset(),
    ) -> None:
        self.recordings = recordings
        self.blobs = blobs
        self.claims = claims
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.refused_languages = refused_languages

    def accept(
        self,
        owner: Principal,
        source: BinaryIO,
        filename: str | None,
        language: str | None,
        prompt: str | None = None,
    ) -> Written:
        """Blocking: run it in a worker thread. Everything that needs no file is checked
        before a byte is staged."""
        try:
            language = normalise_language(language)
        except ValueError:
            raise InvalidAudioError("UNKNOWN_LANGUAGE", "unknown language") from None
        if language in self.refused_languages:
            raise UnsupportedLanguageError(language)
        prompt = clean_prompt(prompt)
        try:
            staged = self.blobs.stage(source, self.max_bytes)
        except BlobTooLargeError:
            raise FileTooLargeError(self.max_bytes) from None
        recording_id = self.recordings.new_id()
        try:
            facts = replace(self._facts(staged, recording_id, filename, language), prompt=prompt)
            # Only now is the duration known; a refusal leaves no blob and no event.
            self.claims.admit(owner.user_id, recording_id, facts.duration_seconds, facts.size_bytes)
        except BaseException:
            self.blobs.discard(staged)
            raise
        try:
            self.blobs.commit(staged, facts.blob_key)
            written = self.recordings.upload(recording_id, owner.user_id, facts)
        except BaseException:
            self.blobs.discard(staged)
            self.blobs.delete(facts.blob_key)  # no event, so no blob either
            self.claims.release(recording_id)
            raise
        self.claims.recorded(recording_id, written.position)
        return written

    def _facts(
        self, staged: StagedBlob, recording_id: UUID, filename: str | None, language: str | None
    ) -> AudioFacts:
        if staged.size == 0:
            raise InvalidAudioError("EMPTY", "the file is empty")
        try:
            probe = audio.probe_audio(staged.path, self.max_seconds)
        except audio.InvalidAudioError as e:
            raise InvalidAudioError(e.reason, str(e)) from None
        return AudioFacts(
            filename=display_filename(filename),
            content_type=_CONTENT_TYPES.get(probe.container, "application/octet-stream"),
            size_bytes=staged.size,
            sha256=staged.sha256,
            blob_key=recording_id.hex,
            duration_seconds=probe.duration_seconds,
            language=language,
        )


def display_filename(raw: str | None) -> str:
    """A name safe to show: no directories, no control characters, bounded length.

    Browsers write a file's ``"``, CR and LF as ``%22``, ``%0D`` and ``%0A`` in a multipart
    filename (the HTML form-data encoding); the name the person chose is the decoded one."""
    name = raw or ""
    for encoded, plain in (("%22", '"'), ("%0D", ""), ("%0A", ""), ("%0d", ""), ("%0a", "")):
        name = name.replace(encoded, plain)
    name = PureWindowsPath(PurePosixPath(name).name).name
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C").strip(" .")
    if len(name) > _MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        name = (
            (stem[: _MAX_FILENAME - len(ext) - 1] + dot + ext)
            if dot and len(ext) <= 10
            else name[:_MAX_FILENAME]
        )
    return name or "recording"
