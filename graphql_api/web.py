"""The web client at ``/``: the single-page app that ``web/`` builds (``vite build``).

Hashed assets (``/assets/*``) never change under their name, so they are cached for a
year; ``index.html`` names the current ones, so it is never cached. Any other path that
is not a file of the build is a page of the app (``/audio/…``, ``/account``) and gets
``index.html`` (the SPA fallback), except under ``/assets/`` and for names with an
extension, where a missing file is a 404 rather than an HTML page a browser would try to
run as a script. Every page carries a
Content-Security-Policy that allows nothing but this origin: no inline script, no CDN.

Without a build (no Node.js where ovoz was set up) ``/`` says how to get one.
"""

from __future__ import annotations

from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # signed media links must not leak in a Referer
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=()",
}
IMMUTABLE = "public, max-age=31536000, immutable"

_NOT_BUILT = """<!doctype html>
<html lang="uz"><head><meta charset="utf-8"><title>ovoz</title></head>
<body><main><h1>ovoz</h1>
<p>API <a href="/graphql">/graphql</a> manzilida ishlayapti, lekin veb-ilova bu yerda hali
yigʻilmagan. Node.js 20.19 yoki yangiroq versiyasini (npm bilan) oʻrnating va
<code>./dev serve</code> buyrugʻini qayta ishga tushiring: u <code>web/</code> ni oʻzi yigʻadi.</p>
<p lang="ru">API работает по адресу <a href="/graphql">/graphql</a>, но веб-клиент здесь не
собран. Установите Node.js 20.19 или новее и npm, затем снова запустите
<code>./dev serve</code>: он сам соберёт <code>web/</code>.</p>
<p lang="en">The API is running at <a href="/graphql">/graphql</a>, but the web client has not
been built here. Install Node.js 20.19 or newer (with npm) and run <code>./dev serve</code>
again: it builds <code>web/</code> before it starts.</p></main></body></html>
"""


def _is_page(path: str) -> bool:
    """A path the app routes (``/audio/<id>/history``), not a file: nothing under
    ``/assets`` and no file name with an extension (``/old-chunk.js`` is a 404)."""
    if path == "assets" or path.startswith("assets/"):
        return False
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last in ("", ".") or "." not in last


def default_web_dir() -> Path:
    """``web/dist`` of the checkout this code runs from."""
    return Path(__file__).resolve().parent.parent / "web" / "dist"


class WebClient(StaticFiles):
    """The built app, with its caching rules, headers and SPA fallback."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory=directory, check_dir=False)
        self._built = (directory / "index.html").is_file()

    async def check_config(self) -> None:
        if (Path(str(self.directory)) / "index.html").is_file():  # else: the page below
            await super().check_config()

    async def get_response(self, path: str, scope: Scope) -> Response:
        if not self._built and not (Path(str(self.directory)) / "index.html").is_file():
            if path in ("", ".", "index.html"):
                return HTMLResponse(
                    _NOT_BUILT, headers={**PAGE_HEADERS, "Cache-Control": "no-store"}
                )
            raise HTTPException(status_code=404)
        self._built = True
        try:
            response = await super().get_response(path, scope)
        except HTTPException as missing:
            if missing.status_code != 404 or not _is_page(path):
                raise
            response = await super().get_response("index.html", scope)
        if path.startswith("assets/"):
            response.headers["Cache-Control"] = IMMUTABLE
        else:
            response.headers["Cache-Control"] = "no-cache"
        if response.media_type is None or response.media_type.startswith("text/html"):
            response.headers.update(PAGE_HEADERS)
        else:
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response
