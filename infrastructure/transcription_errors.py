"""What can go wrong in transcribing: the error vocabulary shared by model resolution
(``infrastructure.models``) and inference (``infrastructure.whisper``)."""

from __future__ import annotations


class TranscriptionError(Exception):
    """A transcription that cannot succeed. ``reason`` is a stable code
    (UNDECODABLE, NO_SPEECH, UNSUPPORTED_LANGUAGE, MODEL_UNAVAILABLE, INFERENCE_FAILED);
    ``retryable`` says whether trying again may help."""

    def __init__(self, reason: str, detail: str, *, retryable: bool = False) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail
        self.retryable = retryable


class ModelUnavailableError(TranscriptionError):
    """The configured model cannot be found, assembled or loaded; the message says what to do."""

    def __init__(self, detail: str) -> None:
        super().__init__("MODEL_UNAVAILABLE", detail, retryable=False)


class TranscriptionCancelled(Exception):
    """``should_stop`` said stop; the partial transcript is thrown away."""
