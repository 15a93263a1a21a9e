"""Transcription workers: take jobs from the jobs view and record what the engine made.

A worker holds a lease on its job and renews it while the engine runs; if it dies, the
lease runs out and another worker takes the job (``attempt`` + 1). Only the attempt that
recorded TranscriptionStarted may complete, so a recording is completed exactly once
whatever crashes; a deletion (which cancels the job) stops the engine and is never undone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import RecordConflictError

from domain.recordings import (
    Recording,
    RecordingNotFoundError,
    TranscriptFacts,
    TranscriptionStateError,
)
from domain.recordings_app import Recordings
from infrastructure.database import ConnectionParams
from infrastructure.transcription_errors import TranscriptionCancelled, TranscriptionError
from projections.audios import AudioProgress
from projections.jobs import CANCELLED_CHANNEL, JOBS_CHANNEL, ClaimedJob, JobQueue

log = logging.getLogger("ovoz.worker")

MAX_ATTEMPTS = 3
_PROGRESS_INTERVAL = 1.0
_IDLE_POLL = 2.0


class Engine(Protocol):
    def transcribe(
        self,
        path: Path | str,
        language_hint: str | None = None,
        on_progress: Callable[[float], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
        *,
        prompt: str | None = None,
        vocabulary: Sequence[str] = (),
    ) -> TranscriptFacts: ...


class TranscriptionWorker:
    """One worker: a thread that claims and runs jobs one at a time until stopped."""

    def __init__(
        self,
        *,
        recordings: Recordings,
        jobs: JobQueue,
        audios: AudioProgress,
        blob_path: Callable[[str], Path],
        engine: Callable[[], Engine],
        params: ConnectionParams,
        vocabulary: Callable[[UUID], list[str]] = lambda owner_id: [],
        lease_seconds: float = 30.0,
        name: str | None = None,
    ) -> None:
        self.recordings = recordings
        self.vocabulary_of = vocabulary  # the owner's terms, read when a job starts
        self.jobs = jobs
        self.audios = audios
        self.blob_path = blob_path
        self._engine_factory = engine
        self._engine: Engine | None = None
        self.params = params
        self.lease = timedelta(seconds=lease_seconds)
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="transcription-worker", daemon=True)
        self._listener = threading.Thread(target=self._listen, name="jobs-listener", daemon=True)
        self.completed = 0
        # The job running now and the event that stops its engine (a lost lease, a cancel).
        self._running: tuple[UUID, threading.Event] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._listener.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after giving up the current job's lease (the engine stops between segments)."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        close = getattr(self._engine, "close", None)
        if close is not None:  # an engine in a process of its own: end that process
            close()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._engine_factory()  # the model loads once, on first use
        return self._engine

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                worked = self.run_once()
            except Exception:
                log.exception("worker %s: unexpected failure; carrying on", self.name)
                worked = False
            if not worked:
                self._wake.wait(_IDLE_POLL)
                self._wake.clear()

    def _listen(self) -> None:
        """Wake the worker as soon as a job is queued, and stop the engine as soon as the
        job it runs is cancelled or its recording deleted (PostgreSQL NOTIFY)."""
        while not self._stopping.is_set():
            try:
                with self.params.connect() as conn:
                    conn.execute(f"LISTEN {JOBS_CHANNEL}")
                    conn.execute(f"LISTEN {CANCELLED_CHANNEL}")
                    while not self._stopping.is_set():
                        for notice in conn.notifies(timeout=1.0, stop_after=1):
                            if notice.channel == CANCELLED_CHANNEL:
                                self._cancelled(notice.payload)
                            else:
                                self._wake.set()
            except Exception:  # the polling fallback keeps jobs moving meanwhile
                log.warning("worker %s: jobs listener lost its connection", self.name)
                self._stopping.wait(1.0)

    def _cancelled(self, recording_id: str) -> None:
        running = self._running
        if running is not None and str(running[0]) == recording_id:
            log.info("worker %s: job %s cancelled; stopping the engine", self.name, recording_id)
            running[1].set()

    # -- one job ---------------------------------------------------------------------------

    def run_once(self) -> bool:
        """Claim and run one job. False when there was none."""
        job = self.jobs.claim(self.name, self.lease)
        if job is None:
            return False
        log.info("worker %s: job %s, attempt %s", self.name, job.recording_id, job.attempt)
        self._run_job(job)
        return True

    def _run_job(self, job: ClaimedJob) -> None:
        if job.attempt > MAX_ATTEMPTS:
            self._record(
                lambda: self.recordings.fail_transcription(
                    job.recording_id,
                    job.attempt,
                    f"gave up after {MAX_ATTEMPTS} attempts",
                    retryable=False,
                )
            )
            return
        lost = threading.Event()
        self._running = (job.recording_id, lost)  # before the start: a cancel may follow it
        try:
            started = self.recordings.start_transcription(job.recording_id, self.name, job.attempt)
        except (RecordingNotFoundError, TranscriptionStateError):
            self._running = None
            self.jobs.release(job, self.name, count_attempt=True)
            return
        except RecordConflictError:  # changed under us (an edit): try again shortly
            self._running = None
            self.jobs.release(job, self.name, count_attempt=False)
            return
        renewer = threading.Thread(target=self._renew, args=(job, lost), daemon=True)
        renewer.start()
        try:
            self._transcribe(job, started.recording, lost)
        finally:
            self._running = None
            lost.set()
            renewer.join()

    def _transcribe(self, job: ClaimedJob, recording: Recording, lost: threading.Event) -> None:
        def should_stop() -> bool:
            return lost.is_set() or self._stopping.is_set()

        try:
            facts = self.engine.transcribe(
                self.blob_path(recording.blob_key),
                job.language,
                self._progress_publisher(job),
                should_stop,
                prompt=recording.prompt,
                vocabulary=self.vocabulary_of(recording.owner_id),
            )
        except TranscriptionCancelled:
            if self._stopping.is_set() and not lost.is_set():
                self.jobs.release(job, self.name, count_attempt=False)
            return  # a lost lease: another worker has it, or the recording was deleted
        except TranscriptionError as e:
            retryable = e.retryable and job.attempt < MAX_ATTEMPTS
            self._fail(job, f"{e.reason}: {e.detail}"[:500], retryable=retryable)
            return
        except Exception:
            log.exception("worker %s: engine failed on %s", self.name, job.recording_id)
            self._fail(job, "INFERENCE_FAILED", retryable=job.attempt < MAX_ATTEMPTS)
            return
        if self._record(
            lambda: self.recordings.complete_transcription(job.recording_id, job.attempt, facts)
        ):
            self.completed += 1

    def _fail(self, job: ClaimedJob, reason: str, *, retryable: bool) -> None:
        self._record(
            lambda: self.recordings.fail_transcription(
                job.recording_id, job.attempt, reason, retryable=retryable
            )
        )

    def _record(self, write: Callable[[], object]) -> bool:
        """Record an outcome; a recording deleted or taken over meanwhile keeps its state."""
        try:
            write()
        except (RecordingNotFoundError, TranscriptionStateError, RecordConflictError) as e:
            log.info("worker %s: outcome not recorded (%s)", self.name, type(e).__name__)
            return False
        return True

    def _renew(self, job: ClaimedJob, lost: threading.Event) -> None:
        interval = self.lease.total_seconds() / 3
        while not lost.wait(interval):
            try:
                if not self.jobs.renew(job, self.name, self.lease):
                    log.info("worker %s: lost the lease on %s", self.name, job.recording_id)
                    lost.set()
            except Exception:
                log.warning("worker %s: could not renew the lease", self.name, exc_info=True)

    def _progress_publisher(self, job: ClaimedJob) -> Callable[[float], None]:
        """Throttled: the read model and subscribers hear about once a second."""
        last = 0.0

        def publish(fraction: float) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last < _PROGRESS_INTERVAL:
                return
            last = now
            try:
                self.audios.set_progress(job.recording_id, round(min(max(fraction, 0.0), 1.0), 4))
            except Exception:
                log.warning("worker %s: progress not published", self.name, exc_info=True)

        return publish
