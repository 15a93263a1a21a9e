"""GET /audio/{id}/file: the original upload, for players (HTTP range requests)."""

from __future__ import annotations

from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from graphql_api.context import Services


def _bearer(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def audio_file_endpoint(services: Services):  # type: ignore[no-untyped-def]
    """The download endpoint. Anyone but the owner or an admin gets the same 404 as for
    a recording that does not exist."""

    async def download(request: Request) -> Response:
        not_found = PlainTextResponse("Not Found", status_code=404)
        token = _bearer(request)
        principal = services.tokens.verify(token) if token else None
        if principal is None:
            return PlainTextResponse(
                "Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        try:
            audio_id = UUID(request.path_params["audio_id"])
        except ValueError:
            return not_found
        row = await run_in_threadpool(services.audios.get, audio_id)
        if row is None or not principal.may_see(row.owner_id):
            return not_found
        path = services.blob_path(row.id.hex)
        if not await run_in_threadpool(path.exists):
            return not_found
        return FileResponse(
            path,
            media_type=row.content_type,
            filename=row.filename,
            content_disposition_type="attachment",
            headers={"Cache-Control": "private, no-store", "ETag": f'"{row.sha256}"'},
        )

    return download
