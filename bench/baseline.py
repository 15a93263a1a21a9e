"""The baseline: a bare Starlette JSON app doing the same database reads as ovoz.

No GraphQL, no event sourcing, no argon2: only HTTP, JSON, the JWT check and the rows
that ovoz's own code paths read. What ovoz spends above this is the cost of its layers.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from domain.errors import InvalidPhoneNumberError
from domain.phone import normalise_mobile, phone_subject_id
from infrastructure.config import Settings
from infrastructure.database import ConnectionParams
from infrastructure.tokens import Tokens

# The identity application's event table (eventsourcing names it after the application).
_CHALLENGE_EVENTS = (
    "SELECT originator_version, topic, state FROM identity_events "
    "WHERE originator_id = %s ORDER BY originator_version"
)
_USER_ROW = "SELECT id, role FROM users WHERE id = %s"


def create_baseline_app(settings: Settings) -> tuple[Starlette, ConnectionPool]:
    assert settings.database_url is not None
    params = ConnectionParams.from_url(settings.database_url, settings.database_schema)
    pool = ConnectionPool(
        kwargs={**params.psycopg_kwargs(), "autocommit": True},
        min_size=4,
        max_size=8,
        open=False,
    )
    tokens = Tokens(
        settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience, settings.jwt_ttl_seconds
    )

    def fetch(query: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with pool.connection() as conn:
            return conn.execute(query, args).fetchall()

    async def challenge(request: Request) -> Response:
        """What sendOtp and verifyOtp read: the phone's challenge, by its HMAC id."""
        body = await request.json()
        try:
            phone = normalise_mobile(str(body["phone"]), settings.default_region)
        except InvalidPhoneNumberError:
            return JSONResponse({"error": "INVALID_PHONE_NUMBER"})
        challenge_id = phone_subject_id(settings.phone_hmac_key, "otp", phone)
        rows = await run_in_threadpool(fetch, _CHALLENGE_EVENTS, (challenge_id,))
        return JSONResponse({"phone": phone, "events": len(rows)})

    async def me(request: Request) -> Response:
        """What `{ me { id role } }` does: check the JWT, read the users row."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        principal = tokens.verify(token) if scheme.lower() == "bearer" else None
        if principal is None:
            return JSONResponse({"error": "UNAUTHENTICATED"}, status_code=401)
        rows = await run_in_threadpool(fetch, _USER_ROW, (principal.user_id,))
        if not rows:
            return JSONResponse({"error": "UNAUTHENTICATED"}, status_code=401)
        user_id, role = rows[0]
        return JSONResponse({"data": {"me": {"id": str(UUID(str(user_id))), "role": role}}})

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/healthz", health),
            Route("/otp/send", challenge, methods=["POST"]),
            Route("/otp/verify", challenge, methods=["POST"]),
            Route("/me", me, methods=["POST"]),
        ]
    )
    return app, pool
