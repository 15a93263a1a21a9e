"""What integration tests do to ovoz: sign people in, upload, edit, wait for the views,
and speak GraphQL to the ASGI app. One place, so test modules import rather than copy."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from starlette.applications import Starlette

from domain.access import Principal
from domain.recordings import RecordingNotFoundError
from domain.recordings_app import Written
from infrastructure.bootstrap import Ovoz, services_of

ALICE, BOB, ADMIN = "+998901111111", "+998902222222", "+998903333333"
CODES = {ALICE: "111111", BOB: "222222", ADMIN: "333333"}
USERS_ENV = {
    "OTP_TEST_NUMBERS": ",".join(f"{p}:{c}" for p, c in CODES.items()),
    "ADMIN_PHONE_NUMBERS": ADMIN,
}


# -- use cases --------------------------------------------------------------------------------


def sign_in(ovoz: Ovoz, phone: str, *, wait: bool = True) -> Principal:
    """Sign in with the phone's test code (and, if projections run, wait until the
    users view knows the user, as tokens are checked against it)."""
    ovoz.identity.send_code(phone)
    signed = ovoz.identity.verify_code(phone, CODES[phone])
    if wait:
        assert ovoz.wait_for("identity", signed.position)
    return Principal(user_id=signed.user_id, role=signed.role, expires_at=time.time() + 3600)


def token_of(ovoz: Ovoz, who: Principal) -> str:
    return ovoz.tokens.issue(who.user_id, who.role, uuid4()).token


def upload(
    ovoz: Ovoz,
    who: Principal,
    data: bytes,
    filename: str = "clip.flac",
    language: str | None = None,
) -> Written:
    return services_of(ovoz).intake.accept(who, io.BytesIO(data), filename, language)


def edit(
    ovoz: Ovoz, who: Principal, audio_id: UUID, text: str, expected: int | None = None
) -> Written:
    return ovoz.recordings.edit_transcript(who, audio_id, text, [], expected)


def not_found_message(call: Callable[[], object]) -> str:
    with pytest.raises(RecordingNotFoundError) as caught:
        call()
    return str(caught.value)


# -- waiting ----------------------------------------------------------------------------------


def settle(ovoz: Ovoz, timeout: float = 20.0) -> int:
    """Wait until the audios projection has processed the whole recordings log."""
    head = ovoz.recordings.recorder.max_notification_id() or 0
    assert ovoz.projections["audios"].wait(head, timeout), "audios projection did not catch up"
    return head


def settle_every_projection(ovoz: Ovoz, timeout: float = 20.0) -> None:
    """Every projection (erasure processor included) has processed every event of its
    log that it subscribes to."""
    for _ in range(2):  # the erasure processor may append (AudioDeleted of a late upload)
        for projection in ovoz.projections.values():
            topics = projection.projection.topics
            last = projection.source.recorder.select_notifications(
                start=1, limit=1_000_000, topics=topics
            )
            target = last[-1].id if last else 0
            deadline = time.monotonic() + timeout
            while projection.position() < target:
                assert time.monotonic() < deadline, f"projection {projection.name} is behind"
                time.sleep(0.02)


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


# -- the ASGI app -----------------------------------------------------------------------------


def asgi(app: Starlette, method: str, path: str = "/graphql", **kwargs: Any) -> httpx.Response:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(go())


def gql(app: Starlette, token: str, query: str, **variables: Any) -> dict[str, Any]:
    """The ``data`` of a GraphQL request that must succeed without errors."""
    response = asgi(
        app,
        "POST",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data
