"""Domain failures of recordings as the schema's error members."""

from __future__ import annotations

from domain.languages import UnsupportedLanguageError
from domain.quota import QuotaExceededError, QuotaKind
from domain.recordings import (
    FileTooLargeError,
    InvalidAudioError,
    NotPermittedError,
    RecordingNotFoundError,
    TranscriptionStatus,
    VersionConflictError,
)
from domain.speaker_names import (
    MAX_SPEAKER_NAME_CHARS,
    InvalidSpeakerNameError,
    UnknownSpeakerError,
)
from domain.vocabulary import MAX_PROMPT_CHARS, InvalidPromptError
from graphql_api.messages import has_message, message
from graphql_api.recordings.types import (
    FileTooLarge,
    InvalidAudio,
    InvalidEdit,
    InvalidPrompt,
    InvalidSpeakerName,
    InvalidState,
    NotCancellable,
    NotFound,
    NotPermitted,
    QuotaExceeded,
    UnknownSpeaker,
    UnsupportedLanguage,
    VersionConflict,
)

# What uploadAudio refuses with a result rather than an error.
UPLOAD_REFUSALS = (
    InvalidPromptError,
    UnsupportedLanguageError,
    InvalidAudioError,
    FileTooLargeError,
    QuotaExceededError,
)


def upload_refusal(
    locale: str, e: Exception, max_audio_seconds: float
) -> InvalidPrompt | UnsupportedLanguage | InvalidAudio | FileTooLarge | QuotaExceeded:
    """The result member for one of UPLOAD_REFUSALS."""
    if isinstance(e, InvalidPromptError):
        return invalid_prompt(locale)
    if isinstance(e, UnsupportedLanguageError):
        return unsupported_language(locale, e.language)
    if isinstance(e, InvalidAudioError):
        return invalid_audio(locale, e, max_audio_seconds)
    if isinstance(e, FileTooLargeError):
        return file_too_large(locale, e)
    if isinstance(e, QuotaExceededError):
        return quota_exceeded(locale, e)
    raise TypeError(f"not an upload refusal: {e!r}")


def invalid_prompt(locale: str) -> InvalidPrompt:
    return InvalidPrompt(
        code="INVALID_PROMPT",
        message=message("INVALID_PROMPT", locale, max_chars=MAX_PROMPT_CHARS),
        max_chars=MAX_PROMPT_CHARS,
    )


def unsupported_language(locale: str, language: str) -> UnsupportedLanguage:
    return UnsupportedLanguage(
        code="UNSUPPORTED_LANGUAGE",
        message=message("UNSUPPORTED_LANGUAGE", locale, language=language),
        language=language,
    )


def not_found(locale: str) -> NotFound:
    return NotFound(code="NOT_FOUND", message=message("NOT_FOUND", locale))


def version_conflict(locale: str, e: VersionConflictError) -> VersionConflict:
    return VersionConflict(
        code="VERSION_CONFLICT",
        message=message("VERSION_CONFLICT", locale, current=e.actual),
        expected_version=e.expected,
        current_version=e.actual,
    )


def invalid_audio(
    locale: str, e: InvalidAudioError, max_audio_seconds: float = 4 * 3600.0
) -> InvalidAudio:
    """Said per reason where there is a message for it (no codes in front of people)."""
    specific = f"INVALID_AUDIO_{e.reason}"
    text = (
        message(specific, locale, max_minutes=round(max_audio_seconds / 60))
        if has_message(specific)
        else message("INVALID_AUDIO", locale, reason=e.reason)
    )
    return InvalidAudio(code="INVALID_AUDIO", message=text, reason=e.reason)


def file_too_large(locale: str, e: FileTooLargeError) -> FileTooLarge:
    return FileTooLarge(
        code="FILE_TOO_LARGE",
        message=message("FILE_TOO_LARGE", locale, max_mb=e.max_bytes // (1024 * 1024)),
        max_bytes=e.max_bytes,
    )


def not_a_file(locale: str) -> InvalidAudio:
    return InvalidAudio(
        code="INVALID_AUDIO", message=message("NOT_A_FILE", locale), reason="NOT_A_FILE"
    )


_MIB = 1024 * 1024
# Limits in the message's units: minutes of audio, megabytes of storage.
_IN_MESSAGE_UNITS = {QuotaKind.QUEUED_AUDIO_SECONDS: 60.0, QuotaKind.STORED_BYTES: float(_MIB)}


def quota_exceeded(locale: str, e: QuotaExceededError) -> QuotaExceeded:
    unit = _IN_MESSAGE_UNITS[e.kind]
    figures = {
        name: f"{value / unit:.1f}"
        for name, value in (("limit", e.limit), ("used", e.used), ("requested", e.requested))
    }
    return QuotaExceeded(
        code="QUOTA_EXCEEDED",
        message=message(f"QUOTA_{e.kind.value}", locale, **figures),
        quota=e.kind,
        limit=e.limit,
        used=e.used,
        requested=e.requested,
    )


def invalid_state(locale: str, status: TranscriptionStatus) -> InvalidState:
    return InvalidState(
        code="INVALID_STATE",
        message=message("INVALID_STATE", locale, status=status.value),
        status=status,
    )


def not_cancellable(locale: str, status: TranscriptionStatus) -> NotCancellable:
    return NotCancellable(
        code="NOT_CANCELLABLE",
        message=message("NOT_CANCELLABLE", locale, status=status.value),
        status=status,
    )


def not_permitted(locale: str) -> NotPermitted:
    return NotPermitted(code="NOT_PERMITTED", message=message("NOT_PERMITTED", locale))


def invalid_edit(locale: str, detail: str) -> InvalidEdit:
    return InvalidEdit(code="INVALID_EDIT", message=message("INVALID_EDIT", locale, detail=detail))


# What renameSpeaker refuses with a result rather than an error.
RENAME_REFUSALS = (
    RecordingNotFoundError,
    VersionConflictError,
    InvalidSpeakerNameError,
    UnknownSpeakerError,
    NotPermittedError,
)


def rename_refusal(
    locale: str, e: Exception
) -> NotFound | VersionConflict | InvalidSpeakerName | UnknownSpeaker | NotPermitted:
    """The result member for one of RENAME_REFUSALS."""
    if isinstance(e, RecordingNotFoundError):
        return not_found(locale)
    if isinstance(e, VersionConflictError):
        return version_conflict(locale, e)
    if isinstance(e, InvalidSpeakerNameError):
        return invalid_speaker_name(locale, e)
    if isinstance(e, UnknownSpeakerError):
        return unknown_speaker(locale)
    if isinstance(e, NotPermittedError):
        return not_permitted(locale)
    raise TypeError(f"not a rename refusal: {e!r}")


def invalid_speaker_name(locale: str, e: InvalidSpeakerNameError) -> InvalidSpeakerName:
    return InvalidSpeakerName(
        code="INVALID_SPEAKER_NAME",
        message=message("INVALID_SPEAKER_NAME", locale, max_chars=MAX_SPEAKER_NAME_CHARS),
        reason=e.reason,
    )


def unknown_speaker(locale: str) -> UnknownSpeaker:
    return UnknownSpeaker(code="UNKNOWN_SPEAKER", message=message("UNKNOWN_SPEAKER", locale))
