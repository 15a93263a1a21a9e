"""GraphQL types of recordings."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from enum import Enum
from typing import Annotated, Any
from uuid import UUID

import strawberry

from domain.access import Scope
from domain.quota import QuotaKind
from domain.recordings import Recording, TranscriptionStatus
from domain.scripts import Script, can_export_in
from domain.speaker_names import MAX_SPEAKER_NAME_CHARS
from graphql_api.context import Info
from graphql_api.errors import Error
from graphql_api.inputs import refuse
from graphql_api.media_urls import MediaSigner
from graphql_api.permissions import ReadsRecordings, require_principal
from graphql_api.recordings.queue import estimate_of
from graphql_api.recordings.speakers import speaker_names
from projections.audios import AudioRow
from projections.queue import QueueEstimate

READ = Scope.RECORDINGS_READ

# The domain's enum is the schema's: one list of the statuses a recording can be in.
strawberry.enum(TranscriptionStatus, name="TranscriptionStatus")
strawberry.enum(
    Script,
    name="Script",
    description="The script of an export: LATN as transcribed, CYRL Uzbek Cyrillic.",
)


@strawberry.enum(description="A transcript file format.")
class ExportFormat(Enum):
    TXT = "txt"
    SRT = "srt"
    VTT = "vtt"
    JSON = "json"


def _signer(info: Info) -> MediaSigner:
    signer = info.context.services.media
    if signer is None:
        raise RuntimeError("signed media links are not wired into this API's services")
    return signer


@strawberry.type
class Word:
    start: float
    end: float
    word: str
    probability: float | None


@strawberry.type(description="A stretch of the transcript with its timing.")
class Segment:
    id: int
    start: float
    end: float
    text: str
    avg_logprob: float | None
    no_speech_prob: float | None
    edited: bool
    words: list[Word]
    speaker: str | None = strawberry.field(
        default=None,
        description="Who speaks: the id of one of Audio.speakers (S1, S2, … in order of "
        "first appearance); null when the server could not tell speakers apart.",
    )

    @classmethod
    def from_dict(cls, s: dict[str, Any]) -> Segment:
        return cls(
            id=int(s["id"]),
            start=float(s["start"]),
            end=float(s["end"]),
            text=str(s["text"]),
            avg_logprob=s.get("avg_logprob"),
            no_speech_prob=s.get("no_speech_prob"),
            edited=bool(s.get("edited", False)),
            speaker=str(s["speaker"]) if s.get("speaker") else None,
            words=[
                Word(
                    start=float(w["start"]),
                    end=float(w["end"]),
                    word=str(w["word"]),
                    probability=w.get("probability"),
                )
                for w in s.get("words") or []
            ],
        )


@strawberry.type(description="Someone who speaks in a recording.")
class Speaker:
    id: str = strawberry.field(
        description="The label its segments carry (Segment.speaker): S1, S2, … in order of "
        "first appearance. Unique within its recording only."
    )
    name: str = strawberry.field(
        description="The name given with renameSpeaker, else a numbered default in the "
        "language of Accept-Language (Soʻzlovchi 1, Speaker 1, Спикер 1)."
    )
    renamed: bool = strawberry.field(description="True when someone gave this name.")


@strawberry.type
class Audio:
    id: strawberry.ID
    owner_id: strawberry.ID
    filename: str = strawberry.field(permission_classes=[ReadsRecordings])
    content_type: str
    size_bytes: int
    sha256: str
    duration_seconds: float | None
    status: TranscriptionStatus
    progress: float | None
    language: str | None
    transcript_text: str | None = strawberry.field(permission_classes=[ReadsRecordings])
    segments: list[Segment] = strawberry.field(permission_classes=[ReadsRecordings])
    error: str | None = strawberry.field(permission_classes=[ReadsRecordings])
    version: int
    created_at: datetime
    updated_at: datetime
    language_probability: float | None = strawberry.field(
        default=None, description="How sure the model was of the language it heard."
    )
    language_uncertain: bool = strawberry.field(
        default=False,
        description="True when the detected language is doubtful: check the transcript.",
    )
    model_name: str | None = None
    prompt: str | None = strawberry.field(
        default=None,
        description="What the upload told the model about the recording (uploadAudio's prompt).",
        permission_classes=[ReadsRecordings],
    )
    speaker_names: strawberry.Private[dict[str, str]] = dataclasses.field(default_factory=dict)

    @strawberry.field(
        description="The speakers of the current transcript, S1 first; empty when the "
        "server could not tell them apart. Names given with renameSpeaker outlive a new "
        "transcription: the speaker who is S1 again is named again.",
        permission_classes=[ReadsRecordings],
    )
    def speakers(self, info: Info) -> list[Speaker]:
        segments = [{"speaker": s.speaker} for s in self.segments]
        names = speaker_names(segments, self.speaker_names, info.context.locale)
        return [
            Speaker(id=label, name=name, renamed=label in self.speaker_names)
            for label, name in names.items()
        ]

    @strawberry.field(
        description="True when the recording's language (asked for, or heard) is one this "
        "server's models are not known to handle (see serverInfo.languages): expect a poor "
        "transcript until an administrator configures a model for it in WHISPER_MODELS."
    )
    def language_unsupported(self, info: Info) -> bool:
        return not info.context.services.server_info.handles(self.language)

    @strawberry.field(
        description="A link to the uploaded file that needs no Authorization header (for "
        "<audio> and downloads; range requests work). It lasts 15 minutes and only while "
        "the recording, your account and your session do: ask again for a fresh one.",
        permission_classes=[ReadsRecordings],
    )
    def file_url(self, info: Info) -> str:
        return _signer(info).file_url(UUID(self.id), require_principal(info.context, READ))

    @strawberry.field(
        description="A link to the current transcript as a file, signed as fileUrl is; in "
        "Uzbek Cyrillic with script: CYRL, which only Uzbek recordings have (others are "
        "refused with BAD_USER_INPUT).",
        permission_classes=[ReadsRecordings],
    )
    def export_url(self, info: Info, format: ExportFormat, script: Script = Script.LATN) -> str:
        caller = require_principal(info.context, READ)
        if not can_export_in(script, self.language):
            refuse(info.context, "script", "CYRILLIC_NEEDS_UZBEK", language=self.language or "?")
        locale = info.context.locale
        return _signer(info).export_url(UUID(self.id), format.value, caller, script, locale)

    # Set when the estimate is already known (subscriptions); else read on first use.
    queue: strawberry.Private[QueueEstimate | None] = None

    @strawberry.field(
        description="1-based place among the recordings waiting for a worker, in the order "
        "workers take them (everyone's, not only yours); null unless QUEUED."
    )
    async def queue_position(self, info: Info) -> int | None:
        return (await self._estimate(info)).position

    @strawberry.field(
        description="Seconds until the transcript should be ready, from this server's speed "
        "on its recent jobs and the work ahead; null when finished, or when no worker is "
        "running to take a QUEUED recording."
    )
    async def eta_seconds(self, info: Info) -> float | None:
        return (await self._estimate(info)).eta_seconds

    async def _estimate(self, info: Info) -> QueueEstimate:
        if self.queue is None:
            self.queue = await estimate_of(
                info.context, UUID(self.id), self.status, self.duration_seconds, self.progress
            )
        return self.queue

    @classmethod
    def from_row(cls, row: AudioRow) -> Audio:
        return cls(
            id=strawberry.ID(str(row.id)),
            owner_id=strawberry.ID(str(row.owner_id)),
            filename=row.filename,
            content_type=row.content_type,
            size_bytes=row.size_bytes,
            sha256=row.sha256,
            duration_seconds=row.duration_seconds,
            status=row.status,
            progress=row.progress,
            language=row.language,
            transcript_text=row.transcript_text,
            segments=[Segment.from_dict(s) for s in row.segments],
            error=row.error,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
            language_probability=row.language_probability,
            language_uncertain=row.language_uncertain,
            model_name=row.model_name,
            prompt=row.prompt,
            speaker_names=row.speaker_names,
        )

    @classmethod
    def from_aggregate(cls, r: Recording, created_at: datetime) -> Audio:
        """A recording rebuilt from the log (``atVersion``)."""
        return cls.from_row(AudioRow.of(r, created_at))


@strawberry.type
class AudioList:
    items: list[Audio]
    total: int = strawberry.field(description="All matches, not just this page.")
    skip: int
    limit: int


@strawberry.type
class DeletedAudio:
    id: strawberry.ID


@strawberry.type
class NotFound(Error):
    pass


@strawberry.type
class VersionConflict(Error):
    expected_version: int
    current_version: int


@strawberry.type
class InvalidAudio(Error):
    reason: str = strawberry.field(
        description="NOT_AUDIO, NO_AUDIO_STREAM, EMPTY, TRUNCATED, UNDECODABLE, TOO_LONG, "
        "UNKNOWN_LANGUAGE or NOT_A_FILE (the Upload value was not a file part)."
    )


@strawberry.type
class FileTooLarge(Error):
    max_bytes: int


# The domain's enum is the schema's: one list of the limits there are.
strawberry.enum(QuotaKind, description="A per-user limit on uploads.")


@strawberry.type(
    description="Accepting the upload would take you past a limit: QUEUED_AUDIO_SECONDS "
    "frees up as your queued recordings are transcribed, STORED_BYTES as you delete some."
)
class QuotaExceeded(Error):
    quota: QuotaKind
    limit: float = strawberry.field(description="The limit, in seconds or bytes.")
    used: float = strawberry.field(description="What you hold now, in the same unit.")
    requested: float = strawberry.field(description="What this upload would add.")


@strawberry.type
class InvalidEdit(Error):
    pass


@strawberry.type(description="You may see this recording but not change it this way.")
class NotPermitted(Error):
    pass


@strawberry.type
class InvalidState(Error):
    status: TranscriptionStatus


@strawberry.type(description="The prompt was not accepted; nothing was uploaded.")
class InvalidPrompt(Error):
    max_chars: int


@strawberry.type(
    description="This server refuses uploads in a language its models are not known to "
    "handle (see serverInfo); the message says what an administrator can configure."
)
class UnsupportedLanguage(Error):
    # Nullable as Audio.language is, so that one selection of uploadAudio's result can ask
    # both for `language` (GraphQL refuses same-named fields of conflicting types).
    language: str | None = strawberry.field(description="The language asked for (always set).")


@strawberry.type(description="The speaker's name was not saved; nothing changed.")
class InvalidSpeakerName(Error):
    reason: str = strawberry.field(description="EMPTY, TOO_LONG or NOT_PLAIN_TEXT.")
    max_chars: int = MAX_SPEAKER_NAME_CHARS


@strawberry.type(
    description="No segment of the current transcript has that speaker (see Audio.speakers)."
)
class UnknownSpeaker(Error):
    pass


@strawberry.type(description="Only a QUEUED or PROCESSING transcription can be cancelled.")
class NotCancellable(Error):
    status: TranscriptionStatus


@strawberry.input
class SegmentEditInput:
    id: int
    text: str


@strawberry.input
class AudioUpdateInput:
    transcript_text: str | None = None
    expected_version: int | None = None
    segments: list[SegmentEditInput] | None = strawberry.field(
        default=None,
        description="New text for individual segments; their timings are kept.",
    )


UploadAudioResult = Annotated[
    Audio | InvalidAudio | FileTooLarge | QuotaExceeded | InvalidPrompt | UnsupportedLanguage,
    strawberry.union("UploadAudioResult"),
]
UpdateAudioResult = Annotated[
    Audio | NotFound | VersionConflict | InvalidEdit | NotPermitted,
    strawberry.union("UpdateAudioResult"),
]
RenameSpeakerResult = Annotated[
    Audio | NotFound | VersionConflict | InvalidSpeakerName | UnknownSpeaker | NotPermitted,
    strawberry.union("RenameSpeakerResult"),
]
RetryTranscriptionResult = Annotated[
    Audio | NotFound | InvalidState, strawberry.union("RetryTranscriptionResult")
]
CancelTranscriptionResult = Annotated[
    Audio | NotFound | NotCancellable, strawberry.union("CancelTranscriptionResult")
]
DeleteAudioResult = Annotated[
    DeletedAudio | NotFound | VersionConflict, strawberry.union("DeleteAudioResult")
]
