"""The baseline: a bare Starlette JSON app doing the same database reads as ovoz.

No GraphQL, no event sourcing, no argon2: only HTTP, JSON, the JWT check and the rows
that ovoz's own code paths read. What ovoz spends above this is the cost of its layers.
"""

from __future__ import annotations

import secrets
from typing import Any
from uuid import UUID

from psycopg_pool import ConnectionPool
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bench.refresh import token_hash
from domain.access import Principal
from domain.errors import InvalidPhoneNumberError
from domain.identity import Role
from domain.phone import normalise_mobile, phone_subject_id
from infrastructure.config import Settings
from infrastructure.database import ConnectionParams
from infrastructure.tokens import Tokens
from projections.audios import AUDIO_COLUMNS, MAX_PAGE

# The identity application's event table (eventsourcing names it after the application).
_CHALLENGE_EVENTS = (
    "SELECT originator_version, topic, state FROM identity_events "
    "WHERE originator_id = %s ORDER BY originator_version"
)
_USER_ROW = "SELECT id, role FROM users WHERE id = %s"
# Exactly the statements of AudiosView.page for one owner's newest-first page.
_AUDIO_PAGE = (
    f"SELECT {AUDIO_COLUMNS.listed} FROM audios WHERE owner_id = %s "
    "ORDER BY created_at DESC, id DESC OFFSET %s LIMIT %s"
)
_AUDIO_COUNT = "SELECT count(*) AS n FROM audios WHERE owner_id = %s"
_AUDIO_INDEX = {name: i for i, name in enumerate(AUDIO_COLUMNS.names)}
# The edit twin: one row written in one transaction.
EDITS_TABLE = (
    "CREATE TABLE IF NOT EXISTS bench_edits (id bigserial PRIMARY KEY, audio_id uuid NOT NULL,"
    " editor_id uuid NOT NULL, text text NOT NULL, at timestamptz NOT NULL DEFAULT now())"
)
_SESSION_ROW = "SELECT user_id, refresh_hash FROM bench_sessions WHERE id = %s"
_ROTATE = (
    "UPDATE bench_sessions SET refresh_hash = %s, last_used_at = now() "
    "WHERE id = %s AND refresh_hash = %s"
)
_EDIT = "INSERT INTO bench_edits (audio_id, editor_id, text) VALUES (%s, %s, %s) RETURNING id"


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

    def principal_of(request: Request) -> Principal | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return tokens.verify(token) if scheme.lower() == "bearer" else None

    def page(owner_id: UUID, skip: int, limit: int) -> tuple[list[tuple[Any, ...]], int]:
        with pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            rows = conn.execute(_AUDIO_PAGE, (owner_id, skip, limit)).fetchall()
            count = conn.execute(_AUDIO_COUNT, (owner_id,)).fetchone()
        return rows, int(count[0]) if count else 0

    async def audios(request: Request) -> Response:
        """What `audios(skip, limit) { items { <fields> } total }` does for an owner: the
        JWT check, the same two statements, the same fields as JSON."""
        principal = principal_of(request)
        if principal is None:
            return JSONResponse({"error": "UNAUTHENTICATED"}, status_code=401)
        body = await request.json()
        skip = max(0, int(body.get("skip", 0)))
        limit = max(0, min(int(body.get("limit", 100)), MAX_PAGE))
        rows, total = await run_in_threadpool(page, principal.user_id, skip, limit)
        i = _AUDIO_INDEX
        items = [
            {
                "id": str(r[i["id"]]),
                "filename": r[i["filename"]],
                "status": r[i["status"]],
                "durationSeconds": r[i["duration_seconds"]],
                "createdAt": r[i["created_at"]].isoformat(),
            }
            for r in rows
        ]
        return JSONResponse({"data": {"audios": {"items": items, "total": total}}})

    def insert_edit(audio_id: UUID, editor_id: UUID, text: str) -> int:
        with pool.connection() as conn, conn.transaction():
            row = conn.execute(_EDIT, (audio_id, editor_id, text)).fetchone()
        assert row is not None
        return int(row[0])

    async def edit(request: Request) -> Response:
        """The edit twin: the JWT check, then one INSERT in its own transaction."""
        principal = principal_of(request)
        if principal is None:
            return JSONResponse({"error": "UNAUTHENTICATED"}, status_code=401)
        body = await request.json()
        text = str(body["text"])
        row_id = await run_in_threadpool(
            insert_edit, UUID(str(body["id"])), principal.user_id, text
        )
        return JSONResponse({"data": {"edit": {"id": row_id, "transcriptText": text}}})

    def rotate(session_id: UUID, presented: str, new: str) -> UUID | None:
        with pool.connection() as conn, conn.transaction():
            row = conn.execute(_SESSION_ROW, (session_id,)).fetchone()
            if row is None or row[1] != presented:
                return None
            conn.execute(_ROTATE, (new, session_id, presented))
        return UUID(str(row[0]))

    async def refresh(request: Request) -> Response:
        """The refresh twin: read the session's row, compare the token's hash, write the
        new hash, sign an access token: one row read and written, no log, no GraphQL."""
        body = await request.json()
        new = secrets.token_urlsafe(32)
        user_id = await run_in_threadpool(
            rotate, UUID(str(body["id"])), token_hash(str(body["token"])), token_hash(new)
        )
        if user_id is None:
            return JSONResponse({"error": "INVALID_SESSION"})
        issued = tokens.issue(user_id, Role.USER, UUID(str(body["id"])))
        return JSONResponse({"accessToken": issued.token, "refreshToken": new})

    async def health(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/healthz", health),
            Route("/otp/send", challenge, methods=["POST"]),
            Route("/otp/verify", challenge, methods=["POST"]),
            Route("/me", me, methods=["POST"]),
            Route("/audios", audios, methods=["POST"]),
            Route("/edit", edit, methods=["POST"]),
            Route("/refresh", refresh, methods=["POST"]),
        ]
    )
    return app, pool
