"""A transcription engine in a child process of its own, so that stopping it is immediate.

CTranslate2 cannot be interrupted inside one decoding call, and the batched pipeline makes
few, long calls (a batch of eight 30-s chunks took ~10 s on 2 cores): a cancelled job, a
deleted recording or a lost lease could keep its thread busy that long. Here the model
lives in a child process; the worker's thread waits on it, checks ``should_stop`` ten times
a second, and on a stop kills the child (a fresh one, with the model loaded again, serves
the next job). The child also keeps what decoding leaks (PyAV's resamplers) out of the
server's process.

The parent and the child speak over a pipe: the parent sends one job at a time, the child
answers with progress fractions and then the transcript or the error.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from domain.recordings import TranscriptFacts
from infrastructure.config import Settings
from infrastructure.transcription_errors import (
    ModelUnavailableError,
    TranscriptionCancelled,
    TranscriptionError,
)

log = logging.getLogger("ovoz.engine")

#: How often the parent looks at ``should_stop`` while the child works.
_POLL_SECONDS = 0.1


@dataclass
class _Child:
    process: BaseProcess
    conn: Connection


class ProcessEngine:
    """``infrastructure.worker.Engine`` backed by a ``WhisperEngine`` in a child process.
    One job at a time (one per worker, as workers run one job at a time)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._child: _Child | None = None
        self._lock = threading.Lock()

    def transcribe(
        self,
        path: Path | str,
        language_hint: str | None = None,
        on_progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        *,
        prompt: str | None = None,
        vocabulary: Sequence[str] = (),
    ) -> TranscriptFacts:
        with self._lock:
            child = self._started()
            child.conn.send((str(path), language_hint, prompt, list(vocabulary)))
            while True:
                if should_stop is not None and should_stop():
                    self._kill()
                    raise TranscriptionCancelled
                try:
                    if not child.conn.poll(_POLL_SECONDS):
                        if child.process.is_alive():
                            continue
                        raise EOFError
                    kind, payload = child.conn.recv()
                except (EOFError, OSError):  # the process is gone
                    child.process.join(5)
                    self._kill()
                    raise TranscriptionError(
                        "INFERENCE_FAILED",
                        f"the engine process ended (exit code {child.process.exitcode})",
                        retryable=True,
                    ) from None
                if kind == "progress":
                    if on_progress is not None:
                        on_progress(payload)
                elif kind == "done":
                    result: TranscriptFacts = payload
                    return result
                else:
                    raise _error(payload)

    def close(self) -> None:
        with self._lock:
            self._kill()

    def _started(self) -> _Child:
        if self._child is None or not self._child.process.is_alive():
            context = multiprocessing.get_context("spawn")  # no inherited threads or locks
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_serve,
                args=(self.settings, child_end),
                name="ovoz-engine",
                daemon=True,
            )
            process.start()
            child_end.close()
            self._child = _Child(process, parent_end)
        return self._child

    def _kill(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        child.process.kill()
        child.process.join(5)
        child.conn.close()


def _error(payload: tuple[str, str, str, bool]) -> TranscriptionError:
    kind, reason, detail, retryable = payload
    if kind == "ModelUnavailableError":
        return ModelUnavailableError(detail)
    return TranscriptionError(reason, detail, retryable=retryable)


def _serve(settings: Settings, conn: Connection) -> None:
    """The child: load the engine once, then run jobs until the pipe closes."""
    from infrastructure.speakers import SpeakerLabelling
    from infrastructure.whisper import WhisperEngine

    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    engine = SpeakerLabelling(WhisperEngine(settings), enabled=settings.speaker_labels)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return  # the parent went away
        conn.send(_run(engine, conn, job))


def _run(
    engine: Any, conn: Connection, job: tuple[str, str | None, str | None, list[str]]
) -> tuple[str, Any]:
    path, language, prompt, vocabulary = job
    try:
        facts = engine.transcribe(
            Path(path),
            language,
            on_progress=lambda fraction: conn.send(("progress", fraction)),
            prompt=prompt,
            vocabulary=vocabulary,
        )
    except TranscriptionError as e:
        return "error", (type(e).__name__, e.reason, e.detail, e.retryable)
    except Exception as e:  # a bug or a runtime failure: the job fails retryably
        log.exception("engine failed on %s", path)
        return "error", ("TranscriptionError", "INFERENCE_FAILED", str(e)[:300], True)
    return "done", facts
