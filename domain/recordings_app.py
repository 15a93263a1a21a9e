"""The recordings use cases: upload, read, edit and delete."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import Mapper, RecordConflictError

from domain.access import Principal
from domain.audit import AuditEntry, audit_entry
from domain.errors import SubjectErasedError
from domain.ports import BlobStore, SubjectKeys
from domain.recordings import (
    AudioFacts,
    NotPermittedError,
    Recording,
    RecordingNotFoundError,
    SegmentEdit,
    TranscriptFacts,
    VersionConflictError,
)
from domain.signin import MapperFactory

log = logging.getLogger("ovoz.recordings")

# Each try reads the recording afresh; a person's own edits rarely race their delete,
# so this bound is met only by a storm of writes.
_DELETE_TRIES = 10


@dataclass(frozen=True)
class Written:
    """A recording after a write, and the log position read models must reach."""

    recording: Recording
    position: int


class Recordings(Application[UUID]):
    """Use cases of a person's recordings. Every read checks who is asking."""

    name = "recordings"

    def __init__(
        self,
        blobs: BlobStore,
        keys: SubjectKeys,
        env: Mapping[str, str] | None = None,
        mapper_factory: MapperFactory | None = None,
        history_mapper_factory: MapperFactory | None = None,
    ) -> None:
        """``history_mapper_factory`` builds the mapper the audit trail reads with: one
        that shows events of erased recordings as ErasedEvent instead of failing."""
        self._mapper_factory = mapper_factory
        self.blobs = blobs
        self.keys = keys
        super().__init__(env)
        self.history_mapper = (
            history_mapper_factory(self.construct_transcoder())
            if history_mapper_factory
            else self.mapper
        )

    def construct_mapper(self) -> Mapper[UUID]:
        if self._mapper_factory is None:
            return super().construct_mapper()
        return self._mapper_factory(self.construct_transcoder())

    @staticmethod
    def new_id() -> UUID:
        """An id for a recording about to be uploaded (its blob is stored under it)."""
        return uuid4()

    def upload(self, recording_id: UUID, owner_id: UUID, facts: AudioFacts) -> Written:
        recording = Recording(
            id=recording_id,
            owner_id=owner_id,
            filename=facts.filename,
            content_type=facts.content_type,
            size_bytes=facts.size_bytes,
            sha256=facts.sha256,
            blob_key=facts.blob_key,
            duration_seconds=facts.duration_seconds,
            language=facts.language,
            prompt=facts.prompt,
        )
        return self._save(recording)

    def get(
        self, principal: Principal, recording_id: UUID, version: int | None = None
    ) -> Recording:
        """The recording (as it was at ``version``, if given) if the caller may see it."""
        try:
            recording: Recording = self.repository.get(recording_id, version=version)
        except (AggregateNotFoundError, SubjectErasedError, ValueError):
            raise RecordingNotFoundError(str(recording_id)) from None
        if not isinstance(recording, Recording) or not principal.may_see(recording.owner_id):
            raise RecordingNotFoundError(str(recording_id))
        if version is not None and recording.version != version:  # past the last version
            raise RecordingNotFoundError(str(recording_id))
        if version is None and recording.deleted:
            raise RecordingNotFoundError(str(recording_id))
        return recording

    def history(self, principal: Principal, recording_id: UUID) -> list[AuditEntry]:
        """Every event of the recording, in order. Owner and admins only; once a
        recording is erased its owner can no longer be told, so only admins see that."""
        stored = self.recorder.select_events(recording_id)
        events = [self.history_mapper.to_domain_event(s) for s in stored]
        if not events:
            raise RecordingNotFoundError(str(recording_id))
        first = events[0]
        owner = first.owner_id if isinstance(first, Recording.AudioUploaded) else None
        if not (principal.is_admin or (owner is not None and principal.may_see(owner))):
            raise RecordingNotFoundError(str(recording_id))
        return [audit_entry(e) for e in events]

    def edit_transcript(
        self,
        principal: Principal,
        recording_id: UUID,
        text: str | None,
        segment_edits: list[SegmentEdit],
        expected_version: int | None,
    ) -> Written:
        recording = self.get(principal, recording_id)
        if not principal.may_edit(recording.owner_id):
            raise NotPermittedError("only the owner edits a transcript")
        recording.edit_transcript(principal.user_id, text, segment_edits, expected_version)
        return self._save_edit(recording, expected_version)

    def rename_speaker(
        self,
        principal: Principal,
        recording_id: UUID,
        speaker: str,
        name: str,
        expected_version: int | None,
    ) -> Written:
        """Name a speaker of the transcript (the owner only, as for edits). Renaming to
        the name it has writes nothing: the answer is the recording as it is."""
        recording = self.get(principal, recording_id)
        if not principal.may_edit(recording.owner_id):
            raise NotPermittedError("only the owner renames a speaker")
        recording.rename_speaker(principal.user_id, speaker, name, expected_version)
        if not recording.pending_events:
            return Written(recording, 0)  # nothing new for a read model to reach
        return self._save_edit(recording, expected_version)

    def delete(self, principal: Principal, recording_id: UUID) -> int:
        """Record the deletion, then erase: the blob and the data key go for good.

        A deletion names no version, so a write that lands between our read and our
        save is no reason to refuse it: read again and retry. Only when other writes
        keep winning does the caller hear of it, as a VersionConflictError."""
        for _ in range(_DELETE_TRIES):
            recording = self.get(principal, recording_id)
            read_version = recording.version
            recording.delete(principal.user_id)
            try:
                position = self._save(recording).position
                break
            except RecordConflictError:
                continue
        else:
            raise VersionConflictError(read_version, self._current_version(recording_id))
        try:
            self.erase(recording_id, recording.blob_key)
        except Exception:
            # The deletion is recorded; the erasure processor finishes the erasing.
            log.warning("erasing %s failed; the erasure processor retries", recording_id)
        return position

    def erase(self, recording_id: UUID, blob_key: str) -> None:
        """Remove the audio and destroy the data key (idempotent; the erasure
        processor repeats it after a crash). In this order: a destroyed key means the
        blob is gone, which finish_erasing relies on."""
        self.blobs.delete(blob_key)
        self.keys.destroy([recording_id])

    def finish_erasing(self, recording_id: UUID) -> None:
        """Erase a deleted recording again (the erasure processor, after a crash or a
        failed erase). The blob key is the one its upload recorded; if that event can
        no longer be read, the key was destroyed, so the blob went before it."""
        uploaded = self.events.get(recording_id, lte=1)
        try:
            first = next(iter(uploaded), None)
        except SubjectErasedError:
            first = None
        if isinstance(first, Recording.AudioUploaded):
            self.blobs.delete(first.blob_key)
        self.keys.destroy([recording_id])

    # -- transcription (called by workers, which act for the system, not a person) -------

    def load(self, recording_id: UUID) -> Recording:
        """The live recording, whoever owns it."""
        try:
            recording: Recording = self.repository.get(recording_id)
        except (AggregateNotFoundError, SubjectErasedError):
            raise RecordingNotFoundError(str(recording_id)) from None
        if recording.deleted:
            raise RecordingNotFoundError(str(recording_id))
        return recording

    def start_transcription(self, recording_id: UUID, worker: str, attempt: int) -> Written:
        recording = self.load(recording_id)
        recording.start_transcription(worker, attempt)
        return self._save(recording)

    def complete_transcription(
        self, recording_id: UUID, attempt: int, facts: TranscriptFacts
    ) -> Written:
        recording = self.load(recording_id)
        recording.complete_transcription(attempt, facts)
        return self._save(recording)

    def fail_transcription(
        self, recording_id: UUID, attempt: int, reason: str, *, retryable: bool
    ) -> Written:
        recording = self.load(recording_id)
        recording.fail_transcription(attempt, reason, retryable=retryable)
        return self._save(recording)

    def cancel_transcription(self, principal: Principal, recording_id: UUID) -> Written:
        """Stop the recording's transcription (owner or admin). A write landing between our
        read and our save (a worker starting or completing) means reading again: then
        the recording is still cancellable, or it is not (NotCancellableError)."""
        for _ in range(_DELETE_TRIES):
            recording = self.get(principal, recording_id)
            read_version = recording.version
            recording.cancel(principal.user_id)
            try:
                return self._save(recording)
            except RecordConflictError:
                continue
        raise VersionConflictError(read_version, self._current_version(recording_id))

    def retry_transcription(self, principal: Principal, recording_id: UUID) -> Written:
        recording = self.get(principal, recording_id)
        recording.requeue(principal.user_id)
        return self._save(recording)

    def _save_edit(self, recording: Recording, expected_version: int | None) -> Written:
        """Save a person's change; someone else's write since we read it is a conflict."""
        try:
            return self._save(recording)
        except RecordConflictError:
            raise VersionConflictError(
                expected_version if expected_version is not None else recording.version - 1,
                self._current_version(recording.id),
            ) from None

    def _save(self, recording: Recording) -> Written:
        recordings = self.save(recording)
        return Written(recording, max(r.notification.id for r in recordings))

    def _current_version(self, recording_id: UUID) -> int:
        try:
            current: Recording = self.repository.get(recording_id)
        except (AggregateNotFoundError, SubjectErasedError):
            raise RecordingNotFoundError(str(recording_id)) from None
        return current.version
