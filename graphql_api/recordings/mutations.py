"""uploadAudio, updateAudio and deleteAudio: thin resolvers over the use cases."""

from __future__ import annotations

import strawberry
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from domain.access import Scope
from domain.recordings import (
    InvalidEditError,
    NotCancellableError,
    NotPermittedError,
    RecordingNotFoundError,
    SegmentEdit,
    TranscriptionStateError,
    VersionConflictError,
)
from domain.recordings_app import Written
from domain.speaker_names import MAX_SPEAKER_NAME_CHARS
from domain.vocabulary import MAX_PROMPT_CHARS
from graphql_api.context import Context, Info
from graphql_api.permissions import require_principal
from graphql_api.recordings import convert
from graphql_api.recordings.queries import parse_id
from graphql_api.recordings.types import (
    Audio,
    AudioUpdateInput,
    CancelTranscriptionResult,
    DeleteAudioResult,
    DeletedAudio,
    RenameSpeakerResult,
    RetryTranscriptionResult,
    UpdateAudioResult,
    UploadAudioResult,
)


async def audio_after(context: Context, written: Written) -> Audio:
    """The recording as queries will show it: wait (bounded) for the read model to
    pass the write; if it is slow, answer from the written aggregate itself."""
    services = context.services
    await run_in_threadpool(services.wait_for, services.recordings.name, written.position)
    row = await run_in_threadpool(services.audios.get, written.recording.id)
    if row is not None and row.version >= written.recording.version:
        return Audio.from_row(row)
    return Audio.from_aggregate(written.recording, created_at=written.recording.created_on)


@strawberry.type
class RecordingsMutation:
    @strawberry.mutation(
        description="Upload a recording (GraphQL multipart request). `prompt`: what the "
        f"recording is about, in up to {MAX_PROMPT_CHARS} characters (names, topic, "
        "spelling); the model is given it with your vocabulary."
    )
    async def upload_audio(
        self, info: Info, file: Upload, language: str | None = None, prompt: str | None = None
    ) -> UploadAudioResult:
        principal = require_principal(info.context, Scope.RECORDINGS_WRITE)
        locale = info.context.locale
        upload: object = file  # the Upload scalar passes any variable value through
        if not isinstance(upload, UploadFile):
            # A JSON value for the variable, or a multipart part without a filename
            # (which the form parser takes for a text field): nothing to read as a file.
            return convert.not_a_file(locale)
        try:
            written = await run_in_threadpool(
                info.context.services.intake.accept,
                principal,
                upload.file,
                upload.filename,
                language,
                prompt,
            )
        except convert.UPLOAD_REFUSALS as e:
            return convert.upload_refusal(
                locale, e, info.context.services.server_info.max_audio_seconds
            )
        finally:
            await upload.close()
        return await audio_after(info.context, written)

    @strawberry.mutation(description="Correct the transcript (whole text or per segment).")
    async def update_audio(
        self, info: Info, id: strawberry.ID, input: AudioUpdateInput
    ) -> UpdateAudioResult:
        principal = require_principal(info.context, Scope.RECORDINGS_WRITE)
        locale = info.context.locale
        audio_id = parse_id(id)
        if audio_id is None:
            return convert.not_found(locale)
        edits = [SegmentEdit(segment_id=s.id, text=s.text) for s in input.segments or []]
        try:
            written = await run_in_threadpool(
                info.context.services.recordings.edit_transcript,
                principal,
                audio_id,
                input.transcript_text,
                edits,
                input.expected_version,
            )
        except RecordingNotFoundError:
            return convert.not_found(locale)
        except VersionConflictError as e:
            return convert.version_conflict(locale, e)
        except InvalidEditError as e:
            return convert.invalid_edit(locale, str(e))
        except NotPermittedError:
            return convert.not_permitted(locale)
        return await audio_after(info.context, written)

    @strawberry.mutation(
        description="Name a speaker of the transcript (an id of Audio.speakers) for every "
        "reader and every export: plain text, spaces collapsed, 1 to "
        f"{MAX_SPEAKER_NAME_CHARS} characters. The name is kept when the recording is "
        "transcribed again. The name it already has changes nothing."
    )
    async def rename_speaker(
        self,
        info: Info,
        audio_id: strawberry.ID,
        speaker: str,
        name: str,
        expected_version: int | None = None,
    ) -> RenameSpeakerResult:
        principal = require_principal(info.context, Scope.RECORDINGS_WRITE)
        locale = info.context.locale
        recording_id = parse_id(audio_id)
        if recording_id is None:
            return convert.not_found(locale)
        try:
            written = await run_in_threadpool(
                info.context.services.recordings.rename_speaker,
                principal,
                recording_id,
                speaker,
                name,
                expected_version,
            )
        except convert.RENAME_REFUSALS as e:
            return convert.rename_refusal(locale, e)
        return await audio_after(info.context, written)

    @strawberry.mutation(
        description="Stop a recording's transcription: a QUEUED one never starts, a "
        "PROCESSING one's engine stops within moments. The recording ends CANCELLED; "
        "retryTranscription queues it again."
    )
    async def cancel_transcription(
        self, info: Info, id: strawberry.ID
    ) -> CancelTranscriptionResult:
        principal = require_principal(info.context, Scope.RECORDINGS_WRITE)
        recordings = info.context.services.recordings
        locale = info.context.locale
        audio_id = parse_id(id)
        if audio_id is None:
            return convert.not_found(locale)
        try:
            written = await run_in_threadpool(recordings.cancel_transcription, principal, audio_id)
        except RecordingNotFoundError:
            return convert.not_found(locale)
        except NotCancellableError as e:
            return convert.not_cancellable(locale, e.status)
        return await audio_after(info.context, written)

    @strawberry.mutation(
        description="Queue a FAILED or CANCELLED recording for transcription again."
    )
    async def retry_transcription(self, info: Info, id: strawberry.ID) -> RetryTranscriptionResult:
        principal = require_principal(info.context, Scope.RECORDINGS_WRITE)
        recordings = info.context.services.recordings
        locale = info.context.locale
        audio_id = parse_id(id)
        if audio_id is None:
            return convert.not_found(locale)
        try:
            written = await run_in_threadpool(recordings.retry_transcription, principal, audio_id)
        except RecordingNotFoundError:
            return convert.not_found(locale)
        except TranscriptionStateError:
            current = await run_in_threadpool(recordings.get, principal, audio_id)
            return convert.invalid_state(locale, current.status)
        return await audio_after(info.context, written)

    @strawberry.mutation(description="Delete a recording for good: audio, transcript and key.")
    async def delete_audio(self, info: Info, id: strawberry.ID) -> DeleteAudioResult:
        principal = require_principal(info.context, Scope.RECORDINGS_WRITE)
        services = info.context.services
        audio_id = parse_id(id)
        if audio_id is None:
            return convert.not_found(info.context.locale)
        try:
            position = await run_in_threadpool(services.recordings.delete, principal, audio_id)
        except RecordingNotFoundError:
            return convert.not_found(info.context.locale)
        except VersionConflictError as e:  # other writes kept winning the race
            return convert.version_conflict(info.context.locale, e)
        await run_in_threadpool(services.wait_for, services.recordings.name, position)
        return DeletedAudio(id=id)
