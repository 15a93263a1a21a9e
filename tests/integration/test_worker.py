"""Transcription workers against real PostgreSQL, the real tiny.en model and real audio."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from domain.access import Principal
from domain.identity import Role
from domain.recordings import AudioFacts, TranscriptFacts
from infrastructure.bootstrap import Ovoz, services_of
from infrastructure.transcription_errors import TranscriptionError
from infrastructure.whisper import WhisperEngine
from tests.conftest import AUDIO_DIR, speech_wav
from tests.factories import transcript_facts
from tests.integration.conftest import MakeOvoz

PHONE = "+998901234567"
ENV = {
    "OTP_TEST_NUMBERS": f"{PHONE}:123456",
    "WHISPER_MODEL": "tiny.en",
    "JOB_LEASE_SECONDS": "2",
    "JOB_RETRY_BACKOFF_SECONDS": "0,0,0",
}

needs_audio = pytest.mark.skipif(
    not (AUDIO_DIR / "jfk.flac").exists(), reason=f"no shared audio at {AUDIO_DIR}"
)
pytestmark = needs_audio


def sign_in(ovoz: Ovoz) -> Principal:
    ovoz.identity.send_code(PHONE)
    signed_in = ovoz.identity.verify_code(PHONE, "123456")
    return Principal(signed_in.user_id, signed_in.role, 0)


def upload(ovoz: Ovoz, owner: Principal, path: Path, language: str | None = None) -> UUID:
    data = path.read_bytes()
    written = services_of(ovoz).intake.accept(owner, io.BytesIO(data), path.name, language)
    assert ovoz.wait_for("recordings", written.position)
    return written.recording.id


def event_names(ovoz: Ovoz, recording_id: UUID) -> list[str]:
    """Event types from the log itself (topics stay readable even after erasure)."""
    stored = ovoz.recordings.recorder.select_events(recording_id)
    return [s.topic.rsplit(".", 1)[-1] for s in stored]


def wait_until(predicate: Callable[[], bool], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def status(ovoz: Ovoz, recording_id: UUID) -> str | None:
    row = ovoz.audios.get(recording_id)
    return None if row is None else row.status.value


@pytest.fixture
def ovoz(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**ENV)


def test_upload_is_transcribed_once_with_text_segments_and_words(ovoz: Ovoz) -> None:
    owner = sign_in(ovoz)
    recording_id = upload(ovoz, owner, AUDIO_DIR / "jfk.flac")
    ovoz.start_workers(1)

    wait_until(lambda: status(ovoz, recording_id) == "COMPLETED")
    row = ovoz.audios.get(recording_id)
    assert row is not None
    assert "ask not what your country can do for you" in (row.transcript_text or "").lower()
    assert row.model_name == "tiny.en"
    assert row.language == "en"
    assert row.segments
    assert all(s["end"] >= s["start"] for s in row.segments)
    assert any(s["words"] for s in row.segments)
    assert row.progress == 1.0
    assert event_names(ovoz, recording_id) == [
        "AudioUploaded",
        "TranscriptionStarted",
        "TranscriptionCompleted",
    ]


def test_two_workers_never_take_the_same_job(ovoz: Ovoz) -> None:
    owner = sign_in(ovoz)
    clips = [*sorted(AUDIO_DIR.glob("en_*"))[:4], AUDIO_DIR / "jfk.flac"]
    ids = [upload(ovoz, owner, clip) for clip in clips]
    ovoz.start_workers(2)

    wait_until(lambda: all(status(ovoz, i) == "COMPLETED" for i in ids), timeout=180)
    for recording_id in ids:
        names = event_names(ovoz, recording_id)
        assert names.count("TranscriptionStarted") == 1, names
        assert names.count("TranscriptionCompleted") == 1, names
    assert sum(w.completed for w in ovoz.workers) == len(ids)
    assert all(w.completed > 0 for w in ovoz.workers), "both workers should have worked"


def test_silent_audio_ends_failed_with_a_reason(ovoz: Ovoz, tmp_path: Path) -> None:
    silent = tmp_path / "silence.wav"
    with wave.open(str(silent), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\x00\x00" * 16000 * 3)
    owner = sign_in(ovoz)
    recording_id = upload(ovoz, owner, silent)
    ovoz.start_workers(1)

    wait_until(lambda: status(ovoz, recording_id) == "FAILED")
    row = ovoz.audios.get(recording_id)
    assert row is not None
    assert row.error is not None
    assert row.error.startswith("NO_SPEECH")


def test_corrupt_audio_ends_failed_with_a_reason(ovoz: Ovoz) -> None:
    owner = sign_in(ovoz)
    recording_id = upload(ovoz, owner, AUDIO_DIR / "jfk.flac")
    # The stored file is damaged after it was accepted (a failing disk, say).
    blob = ovoz.blobs.path(recording_id.hex)
    blob.write_bytes(b"\x00garbage" * 4000)
    ovoz.start_workers(1)

    wait_until(lambda: status(ovoz, recording_id) == "FAILED")
    row = ovoz.audios.get(recording_id)
    assert row is not None
    assert row.error is not None
    assert row.error.split(":")[0] in {"UNDECODABLE", "NO_SPEECH"}
    assert "TranscriptionCompleted" not in event_names(ovoz, recording_id)


class FlakyEngine:
    """The real engine behind an injected fault: fails (retryably) the first N calls."""

    def __init__(self, engine: WhisperEngine, failures: int) -> None:
        self.engine = engine
        self.failures = failures
        self.calls = 0

    def transcribe(self, *args: Any, **kwargs: Any) -> Any:
        self.calls += 1
        if self.calls <= self.failures:
            raise TranscriptionError("INFERENCE_FAILED", "injected fault", retryable=True)
        return self.engine.transcribe(*args, **kwargs)


def test_a_retryable_failure_is_retried_and_then_completes(ovoz: Ovoz) -> None:
    owner = sign_in(ovoz)
    recording_id = upload(ovoz, owner, AudioClip.short())
    flaky = FlakyEngine(WhisperEngine(ovoz.settings), failures=2)
    ovoz.start_workers(1, engine=lambda: flaky)

    wait_until(lambda: status(ovoz, recording_id) == "COMPLETED")
    names = event_names(ovoz, recording_id)
    assert names.count("TranscriptionFailed") == 2
    assert names.count("TranscriptionStarted") == 3
    assert names[-1] == "TranscriptionCompleted"


def test_after_three_attempts_the_failure_is_final_and_retry_requeues(ovoz: Ovoz) -> None:
    owner = sign_in(ovoz)
    recording_id = upload(ovoz, owner, AudioClip.short())
    flaky = FlakyEngine(WhisperEngine(ovoz.settings), failures=3)
    ovoz.start_workers(1, engine=lambda: flaky)

    wait_until(lambda: status(ovoz, recording_id) == "FAILED")
    stored = ovoz.recordings.recorder.select_events(recording_id)
    failures = [
        ovoz.recordings.mapper.to_domain_event(s)
        for s in stored
        if s.topic.endswith("TranscriptionFailed")
    ]
    assert [f.retryable for f in failures] == [True, True, False]  # type: ignore[attr-defined]

    written = ovoz.recordings.retry_transcription(owner, recording_id)
    assert written.recording.status.value == "QUEUED"
    wait_until(lambda: status(ovoz, recording_id) == "COMPLETED")


def test_a_recording_deleted_while_transcribed_stays_deleted(ovoz: Ovoz, tmp_path: Path) -> None:
    owner = sign_in(ovoz)
    recording_id = upload(ovoz, owner, speech_wav(tmp_path / "long.wav", 120))
    ovoz.start_workers(1)
    wait_until(lambda: status(ovoz, recording_id) == "PROCESSING")

    ovoz.recordings.delete(owner, recording_id)
    time.sleep(4)  # past the lease renewal: the worker notices and stops

    names = event_names(ovoz, recording_id)
    assert names[-1] == "AudioDeleted", names
    assert "TranscriptionCompleted" not in names
    assert ovoz.audios.get(recording_id) is None
    assert ovoz.jobs.state_of(recording_id) is None
    assert not ovoz.blobs.exists(recording_id.hex)


def test_the_api_answers_while_a_transcription_runs(ovoz: Ovoz, tmp_path: Path) -> None:
    """Requests made while the engine works are served before it finishes."""
    import asyncio

    import httpx

    from graphql_api.app import create_app

    owner = sign_in(ovoz)
    token = ovoz.tokens.issue(owner.user_id, Role.USER, uuid.uuid4()).token
    recording_id = upload(ovoz, owner, speech_wav(tmp_path / "long.wav", 60))
    app = create_app(services_of(ovoz), production=False)
    ovoz.start_workers(1)
    wait_until(lambda: status(ovoz, recording_id) == "PROCESSING")

    async def ask() -> list[str]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            answers = []
            for _ in range(5):
                r = await client.post(
                    "/graphql",
                    json={"query": f'{{ audio(id: "{recording_id}") {{ status }} }}'},
                    headers={"Authorization": f"Bearer {token}"},
                )
                answers.append(r.json()["data"]["audio"]["status"])
            return answers

    answers = asyncio.run(ask())
    assert answers == ["PROCESSING"] * 5  # all answered while the engine was still busy
    wait_until(lambda: status(ovoz, recording_id) == "COMPLETED", timeout=180)


@pytest.fixture
def worker_process(
    database_url: str, schema: str, tmp_path: Path
) -> Iterator[Callable[[], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            **ENV,
            "DATABASE_URL": database_url,
            "DATABASE_SCHEMA": schema,
            "OVOZ_VAR_DIR": str(tmp_path),
            "WHISPER_MODEL": "base",
        }
        process = subprocess.Popen(
            [sys.executable, "-m", "infrastructure.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def test_a_killed_worker_is_replaced_and_the_recording_completes_once(
    make_ovoz: MakeOvoz, tmp_path: Path, worker_process: Callable[[], subprocess.Popen[bytes]]
) -> None:
    ovoz = make_ovoz(**ENV)
    owner = sign_in(ovoz)
    recording_id = upload(ovoz, owner, speech_wav(tmp_path / "long.wav", 90))
    doomed = worker_process()
    wait_until(lambda: status(ovoz, recording_id) == "PROCESSING", timeout=300)

    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    ovoz.start_workers(1)  # the replacement takes the job once the lease runs out

    wait_until(lambda: status(ovoz, recording_id) == "COMPLETED", timeout=240)
    names = event_names(ovoz, recording_id)
    assert names.count("TranscriptionCompleted") == 1, names
    assert names.count("TranscriptionStarted") == 2, names
    started = [
        ovoz.recordings.mapper.to_domain_event(s)
        for s in ovoz.recordings.recorder.select_events(recording_id)
        if s.topic.endswith("TranscriptionStarted")
    ]
    assert [s.attempt for s in started] == [1, 2]  # type: ignore[attr-defined]
    assert started[0].worker != started[1].worker  # type: ignore[attr-defined]


class AudioClip:
    @staticmethod
    def short() -> Path:
        return AUDIO_DIR / "en_deepspeech_LDC93S1.wav"


def test_progress_rises_while_processing(make_ovoz: MakeOvoz, tmp_path: Path) -> None:
    # Sequential decoding reports every segment; the batched pipeline reports per batch.
    ovoz = make_ovoz(**ENV, WHISPER_BATCHED="off")
    owner = sign_in(ovoz)
    # Progress is published about once a second: the file must take several seconds even
    # on a fast, idle machine (60 s of speech took barely two once).
    recording_id = upload(ovoz, owner, speech_wav(tmp_path / "long.wav", 150))
    seen: list[float] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            row = ovoz.audios.get(recording_id)
            if row is not None and row.status.value == "PROCESSING" and row.progress is not None:
                seen.append(row.progress)
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    ovoz.start_workers(1)
    try:
        wait_until(lambda: status(ovoz, recording_id) == "COMPLETED", timeout=180)
    finally:
        stop.set()
        watcher.join()
    distinct = sorted(set(seen))
    assert seen == sorted(seen), "progress never goes back"
    assert len(distinct) >= 3, f"progress should rise in steps, saw {distinct}"


class PathNotingEngine:
    """Stands in for the model: notes the file it is given and what it held."""

    def __init__(self) -> None:
        self.read: list[tuple[Path, bytes]] = []

    def transcribe(self, path: Path | str, *args: Any, **kwargs: Any) -> TranscriptFacts:
        self.read.append((Path(path), Path(path).read_bytes()))
        return transcript_facts("ask not", model_name="noting")


def test_a_worker_reads_the_blob_under_the_key_its_upload_recorded(ovoz: Ovoz) -> None:
    # A key not derived from the recording's id: the worker must take it from the upload.
    data = AudioClip.short().read_bytes()
    key = uuid.uuid4().hex
    ovoz.blobs.commit(ovoz.blobs.stage(io.BytesIO(data), len(data)), key)
    recording_id = ovoz.recordings.new_id()
    facts = AudioFacts(
        filename="own-key.wav",
        content_type="audio/wav",
        size_bytes=len(data),
        sha256="ab" * 32,
        blob_key=key,
        duration_seconds=2.9,
        language="en",
    )
    ovoz.recordings.upload(recording_id, sign_in(ovoz).user_id, facts)
    engine = PathNotingEngine()
    ovoz.start_workers(1, engine=lambda: engine)

    wait_until(lambda: status(ovoz, recording_id) in {"COMPLETED", "FAILED"})
    assert engine.read == [(ovoz.blobs.path(key), data)]
    assert status(ovoz, recording_id) == "COMPLETED"
