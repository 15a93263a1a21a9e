"""uploadAudio's refusals through the ASGI app on real PostgreSQL: per-user quotas on
queued audio and stored bytes (race-safe across concurrent uploads), and Upload values
that are not files. Every refusal is a typed answer and leaves no blob and no event."""

from __future__ import annotations

import io
import json
import threading
import wave
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from starlette.applications import Starlette

from domain.access import Principal
from domain.quota import QuotaExceededError, QuotaKind
from graphql_api.app import create_app
from infrastructure.bootstrap import Ovoz, services_of
from infrastructure.intake import AudioIntake
from tests.integration.conftest import MakeOvoz
from tests.integration.documents import UPLOAD_M
from tests.integration.helpers import (
    ADMIN,
    ALICE,
    BOB,
    USERS_ENV,
    asgi,
    settle,
    sign_in,
    token_of,
)

QUOTA_ENV = {
    **USERS_ENV,
    "MAX_AUDIO_SECONDS": "10",
    "QUOTA_QUEUED_AUDIO_SECONDS": "10",
}


def silence_wav(seconds: float, rate: int = 8000) -> bytes:
    """``seconds`` of 8 kHz mono 16-bit silence: 16 kB a second, exact duration."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return buffer.getvalue()


def app_of(ovoz: Ovoz) -> Starlette:
    return create_app(services_of(ovoz), production=False)


def upload_form(
    app: Starlette, token: str, content: bytes, *, locale: str = "en"
) -> dict[str, Any]:
    """uploadAudio as a GraphQL multipart request."""
    operations = {"query": UPLOAD_M, "variables": {"file": None}}
    response = asgi(
        app,
        "POST",
        data={
            "operations": json.dumps(operations),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": ("clip.wav", content, "audio/wav")},
        headers={
            "Authorization": f"Bearer {token}",
            "Apollo-Require-Preflight": "true",
            "Accept-Language": locale,
        },
    )
    return answer(response)


def answer(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["uploadAudio"]
    return result


class Leftovers:
    """What an upload can leave behind: blobs, staging files, recorded uploads."""

    def __init__(self, ovoz: Ovoz) -> None:
        self.ovoz = ovoz
        self.before = self.now()

    def now(self) -> tuple[set[Path], list[Path], int]:
        root = self.ovoz.blobs.root
        blobs = {p for p in root.rglob("*") if p.is_file() and ".staging" not in p.parts}
        staging = root / ".staging"
        staged = sorted(staging.iterdir()) if staging.exists() else []
        return blobs, staged, self.ovoz.recordings.recorder.max_notification_id() or 0

    def assert_none(self) -> None:
        assert self.now() == self.before


# -- an Upload value that is not a file -----------------------------------------------------


@pytest.fixture
def store(make_ovoz: MakeOvoz) -> Ovoz:
    return make_ovoz(**USERS_ENV)


def test_a_json_string_as_the_upload_variable_is_invalid_audio(store: Ovoz) -> None:
    app = app_of(store)
    token = token_of(store, sign_in(store, ALICE))
    left = Leftovers(store)
    response = asgi(
        app,
        "POST",
        json={"query": UPLOAD_M, "variables": {"file": "not a file at all"}},
        headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
    )
    result = answer(response)
    assert result["__typename"] == "InvalidAudio"
    assert result["reason"] == "NOT_A_FILE"
    assert "file" in result["message"]
    left.assert_none()


def test_a_multipart_part_without_a_filename_is_invalid_audio(store: Ovoz) -> None:
    app = app_of(store)
    token = token_of(store, sign_in(store, ALICE))
    left = Leftovers(store)
    boundary = "ovoz-test-boundary"
    operations = json.dumps({"query": UPLOAD_M, "variables": {"file": None}})
    body = (
        (
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="operations"\r\n\r\n'
            f"{operations}\r\n"
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="map"\r\n\r\n'
            '{"0": ["variables.file"]}\r\n'
            f"--{boundary}\r\n"
            'Content-Disposition: form-data; name="0"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + silence_wav(1.0)[:4000]
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = asgi(
        app,
        "POST",
        content=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Apollo-Require-Preflight": "true",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Accept-Language": "en",
        },
    )
    result = answer(response)
    assert result["__typename"] == "InvalidAudio"
    assert result["reason"] == "NOT_A_FILE"
    left.assert_none()


# -- the queued-audio quota -----------------------------------------------------------------

FOUR_SECONDS = silence_wav(4.0)


@pytest.fixture
def limited(make_ovoz: MakeOvoz) -> Ovoz:
    """At most 10 s of audio queued per user (and files of at most 10 s)."""
    return make_ovoz(**QUOTA_ENV)


def accept(ovoz: Ovoz, who: Principal, content: bytes = FOUR_SECONDS) -> UUID:
    return services_of(ovoz).intake.accept(who, io.BytesIO(content), "clip.wav", None).recording.id


def finish_with_failure(ovoz: Ovoz, recording_id: UUID, *, retryable: bool = False) -> None:
    """What a worker records when it gives up on (or will retry) a recording."""
    ovoz.recordings.start_transcription(recording_id, "test-worker", 1)
    ovoz.recordings.fail_transcription(recording_id, 1, "undecodable", retryable=retryable)
    settle(ovoz)


def test_an_upload_past_the_queued_audio_quota_is_quota_exceeded_and_leaves_nothing(
    limited: Ovoz,
) -> None:
    app = app_of(limited)
    token = token_of(limited, sign_in(limited, ALICE))
    assert upload_form(app, token, FOUR_SECONDS)["__typename"] == "Audio"
    assert upload_form(app, token, FOUR_SECONDS)["__typename"] == "Audio"

    left = Leftovers(limited)
    refused = upload_form(app, token, FOUR_SECONDS)
    assert refused == {
        "__typename": "QuotaExceeded",
        "code": "QUOTA_EXCEEDED",
        "message": "You already have 0.1 min of audio waiting to be transcribed; this file "
        "adds 0.1 min and the limit is 0.2 min. Upload it once some of your recordings are "
        "done.",
        "quota": "QUEUED_AUDIO_SECONDS",
        "limit": 10.0,
        "used": pytest.approx(8.0),
        "requested": pytest.approx(4.0),
    }
    left.assert_none()
    uzbek = upload_form(app, token, FOUR_SECONDS, locale="uz")
    assert uzbek["__typename"] == "QuotaExceeded"
    assert "daqiqa" in uzbek["message"]
    left.assert_none()

    # Filling the quota exactly is allowed.
    assert upload_form(app, token, silence_wav(2.0))["__typename"] == "Audio"


def test_the_queued_audio_quota_frees_up_as_transcription_ends_not_on_a_retryable_failure(
    limited: Ovoz,
) -> None:
    alice = sign_in(limited, ALICE)
    first, _ = accept(limited, alice), accept(limited, alice)
    with pytest.raises(QuotaExceededError):
        accept(limited, alice)

    finish_with_failure(limited, first, retryable=True)  # back in the queue: still counts
    with pytest.raises(QuotaExceededError):
        accept(limited, alice)

    finish_with_failure(limited, first)  # FAILED for good: no work waiting
    accept(limited, alice)


def test_quotas_are_per_user_and_admins_are_held_to_them_too(limited: Ovoz) -> None:
    alice, bob, admin = (sign_in(limited, p) for p in (ALICE, BOB, ADMIN))
    accept(limited, alice)
    accept(limited, alice)
    with pytest.raises(QuotaExceededError):
        accept(limited, alice)
    accept(limited, bob)  # alice's queue is not bob's
    accept(limited, admin)
    accept(limited, admin)
    with pytest.raises(QuotaExceededError) as caught:
        accept(limited, admin)
    assert caught.value.kind is QuotaKind.QUEUED_AUDIO_SECONDS


# -- the stored-bytes quota -----------------------------------------------------------------


def test_the_stored_bytes_quota_counts_every_live_recording_until_it_is_deleted(
    make_ovoz: MakeOvoz,
) -> None:
    size = len(FOUR_SECONDS)  # 64,044 bytes
    ovoz = make_ovoz(
        **USERS_ENV, MAX_UPLOAD_BYTES=str(2 * size), QUOTA_STORED_BYTES=str(2 * size + 100)
    )
    app = app_of(ovoz)
    alice = sign_in(ovoz, ALICE)
    token = token_of(ovoz, alice)
    first = accept(ovoz, alice)
    accept(ovoz, alice)
    finish_with_failure(ovoz, first)  # no longer queued, but its audio is still stored

    left = Leftovers(ovoz)
    refused = upload_form(app, token, FOUR_SECONDS)
    assert refused["__typename"] == "QuotaExceeded"
    assert (refused["quota"], refused["limit"], refused["used"], refused["requested"]) == (
        "STORED_BYTES",
        2 * size + 100,
        2 * size,
        size,
    )
    assert "Delete some recordings" in refused["message"]
    left.assert_none()

    settle(ovoz, 20)
    ovoz.recordings.delete(alice, first)
    settle(ovoz)
    assert upload_form(app, token, FOUR_SECONDS)["__typename"] == "Audio"


# -- concurrency and the read model's lag ---------------------------------------------------


def test_concurrent_uploads_cannot_pass_the_quota_together(limited: Ovoz) -> None:
    """Sixteen 4-s uploads admitted at once against 10 s: two get in. The admissions are
    started together (the probing before them would otherwise spread them out)."""
    alice = sign_in(limited, ALICE)
    intake = services_of(limited).intake
    assert isinstance(intake, AudioIntake)
    claims = intake.claims
    start = threading.Barrier(16)
    admitted: list[UUID] = []

    def upload() -> None:
        recording_id = limited.recordings.new_id()
        start.wait()
        try:
            claims.admit(alice.user_id, recording_id, 4.0, 64_044)
            admitted.append(recording_id)
        except QuotaExceededError:
            pass

    threads = [threading.Thread(target=upload) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(admitted) == 2
    for recording_id in admitted:
        claims.release(recording_id)

    # Whole uploads, racing the same way, end the same.
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def whole_upload() -> None:
        start.wait()
        try:
            accept(limited, alice)
            outcomes.append("accepted")
        except QuotaExceededError:
            outcomes.append("refused")

    threads = [threading.Thread(target=whole_upload) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["accepted"] * 2 + ["refused"] * 6
    settle(limited)
    usage, _ = limited.audios.usage_of(alice.user_id, limited.recordings.name)
    assert usage.queued_seconds == pytest.approx(8.0)


def test_uploads_count_against_the_quota_before_the_read_model_shows_them(
    make_ovoz: MakeOvoz,
) -> None:
    ovoz = make_ovoz(start=False, **QUOTA_ENV)
    alice = sign_in(ovoz, ALICE, wait=False)
    first = accept(ovoz, alice)
    accept(ovoz, alice)
    usage, _ = ovoz.audios.usage_of(alice.user_id, ovoz.recordings.name)
    assert usage.queued_seconds == 0  # the view knows nothing yet
    with pytest.raises(QuotaExceededError):
        accept(ovoz, alice)

    ovoz.start_projections()
    settle(ovoz)  # now the rows count instead of the claims: still full
    with pytest.raises(QuotaExceededError):
        accept(ovoz, alice)
    finish_with_failure(ovoz, first)
    accept(ovoz, alice)


def test_an_upload_that_cannot_be_recorded_gives_its_share_of_the_quota_back(
    limited: Ovoz, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = sign_in(limited, ALICE)
    accept(limited, alice)
    left = Leftovers(limited)

    def store_unavailable(*args: object) -> None:
        raise ConnectionError("the event store went away")

    with monkeypatch.context() as patched:
        patched.setattr(limited.recordings, "upload", store_unavailable)
        with pytest.raises(ConnectionError):
            accept(limited, alice)
    left.assert_none()
    accept(limited, alice)  # 4 s + 4 s: the failed one's claim is gone
