"""GET /audio/{id}/file (the original upload, for players: HTTP range requests) and
GET /audio/{id}/transcript.{fmt}. Either with a bearer token, or through a signed link
(``Audio.fileUrl`` / ``exportUrl``, see graphql_api.media_urls) for what cannot send one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote
from uuid import UUID

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response

from domain.access import Principal, Scope
from domain.scripts import Script, can_export_in
from graphql_api.auth import authenticate
from graphql_api.context import Services
from graphql_api.media_urls import export_kind
from graphql_api.messages import LOCALES, negotiate_locale
from graphql_api.recordings.speakers import speaker_names
from projections.audios import AudioRow

Endpoint = Callable[[Request], Awaitable[Response]]


def _refusal(principal: Principal | None) -> Response:
    """401 without good credentials; 403 for an API key that may not read recordings."""
    if principal is None:
        return PlainTextResponse(
            "Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"}
        )
    return PlainTextResponse("Forbidden: the key lacks RECORDINGS_READ", status_code=403)


_LINK_FIELDS = ("by", "via", "exp", "sig")


async def _caller(
    services: Services, request: Request, audio_id: UUID | None, kind: str
) -> Principal | Response | None:
    """The caller: named by a signed link if the request carries one (a bad or expired
    link is a 403, whatever else it carries), else by its bearer token."""
    params = request.query_params
    if not any(name in params for name in _LINK_FIELDS):
        return await authenticate(services, request.headers.get("authorization"))
    holder = (
        services.media.verify(audio_id, kind, params)
        if services.media is not None and audio_id is not None
        else None
    )
    if holder is None:
        return PlainTextResponse("Forbidden: the link is invalid or has expired", status_code=403)
    claimed = holder.claimed()
    known, current = services.callers.peek(claimed)
    if not known:
        current = await run_in_threadpool(services.callers.check, claimed)
    # The account is gone or the session ended: the link went with it.
    return current if current is not None else PlainTextResponse("Not Found", status_code=404)


def _audio_id(request: Request) -> UUID | None:
    try:
        return UUID(request.path_params["audio_id"])
    except ValueError:
        return None


def audio_file_endpoint(services: Services) -> Endpoint:
    """The download endpoint. Anyone but the owner or an admin gets the same 404 as for
    a recording that does not exist."""

    async def download(request: Request) -> Response:
        not_found = PlainTextResponse("Not Found", status_code=404)
        audio_id = _audio_id(request)
        principal = await _caller(services, request, audio_id, "file")
        if isinstance(principal, Response):
            return principal
        if principal is None or not principal.may(Scope.RECORDINGS_READ):
            return _refusal(principal)
        if audio_id is None:
            return not_found
        row = await run_in_threadpool(services.audios.get, audio_id)
        if row is None or not principal.may_see(row.owner_id):
            return not_found
        path = services.blob_path(row.blob_key)
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


_MEDIA_TYPES = {
    "txt": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "json": "application/json",
}


def _script(request: Request) -> Script | None:
    """The ``script`` asked for (``latn`` when none), or None for one there is not."""
    try:
        return Script(request.query_params.get("script", Script.LATN.value))
    except ValueError:
        return None


def transcript_endpoint(services: Services) -> Endpoint:
    """GET /audio/{id}/transcript.{txt,srt,vtt,json}[?script=latn|cyrl]: the transcript as
    a file, in Uzbek Cyrillic with ``script=cyrl`` (Uzbek recordings only: 400 for others)."""

    async def export(request: Request) -> Response:
        fmt = request.path_params["fmt"]
        audio_id = _audio_id(request)
        script = _script(request)
        if script is None:
            return PlainTextResponse("Bad Request: script must be latn or cyrl", status_code=400)
        principal = await _caller(services, request, audio_id, export_kind(fmt, script))
        if isinstance(principal, Response):
            return principal
        if principal is None or not principal.may(Scope.RECORDINGS_READ):
            return _refusal(principal)
        if fmt not in _MEDIA_TYPES or audio_id is None:
            return PlainTextResponse("Not Found", status_code=404)
        row = await run_in_threadpool(services.audios.get, audio_id)
        if row is None or not principal.may_see(row.owner_id):
            return PlainTextResponse("Not Found", status_code=404)
        return await _transcript_file(services, row, fmt, script, _locale(request))

    return export


def _locale(request: Request) -> str:
    """The language unnamed speakers are called in: ``lang`` (exportUrl sets it to the
    language of whoever asked for the link), else Accept-Language's."""
    asked = request.query_params.get("lang", "")
    return asked if asked in LOCALES else negotiate_locale(request.headers.get("accept-language"))


async def _transcript_file(
    services: Services, row: AudioRow, fmt: str, script: Script, locale: str
) -> Response:
    if row.transcript_text is None:
        return PlainTextResponse("No transcript yet", status_code=409)
    if not can_export_in(script, row.language):
        return PlainTextResponse(
            "Bad Request: script=cyrl is for Uzbek recordings (Uzbek Latin to Uzbek "
            f"Cyrillic); this one is in {row.language or 'an unknown language'}",
            status_code=400,
        )
    # A long transcript takes a while to cut into cues (and transliterate).
    body = await run_in_threadpool(
        services.render_transcript,
        fmt,
        row.transcript_text,
        row.segments,
        speaker_names(row.segments, row.speaker_names, locale),
        {"id": str(row.id), "language": row.language, "version": row.version},
        script,
    )
    stem = row.filename.rsplit(".", 1)[0] or "transcript"
    if script is not Script.LATN:
        stem = f"{stem}.{script.value}"
    return Response(
        body,
        media_type=_MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(stem)}.{fmt}",
            "Cache-Control": "private, no-store",
        },
    )
