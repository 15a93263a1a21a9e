"""One webhook POST: to a vetted address, within a total deadline, no redirects followed,
and nothing of the answer kept beyond its status and a short excerpt.

http.client rather than httpx: its connection classes let us connect the socket to the
address the SSRF rules vetted while TLS (SNI, certificate) and the Host header use the
URL's name, so the name is resolved exactly once per delivery.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from domain.webhooks import InvalidWebhookUrlError
from infrastructure.webhook_urls import Target, UrlRules

EXCERPT_CHARS = 200
_READ_BYTES = 1024  # of the response body, of which the excerpt is kept


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: an HTTP status, or an error that prevented one."""

    status: int | None
    error: str | None
    excerpt: str | None
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(
    url: str, body: bytes, headers: dict[str, str], rules: UrlRules, timeout: float
) -> Outcome:
    """POST ``body`` to ``url`` if the rules allow where it resolves now; never raises."""
    started = time.monotonic()
    try:
        target = rules.target(url)
    except InvalidWebhookUrlError as e:
        return Outcome(None, f"refused: {e.reason} {e}".strip(), None, _ms(started))
    deadline = started + timeout
    try:
        status, excerpt = _exchange(target, body, headers, deadline)
    except TimeoutError:
        return Outcome(None, f"timed out after {timeout:g} s", None, _ms(started))
    except (OSError, http.client.HTTPException, ssl.SSLError) as e:
        if time.monotonic() >= deadline:
            return Outcome(None, f"timed out after {timeout:g} s", None, _ms(started))
        return Outcome(None, _clean(f"{type(e).__name__}: {e}"), None, _ms(started))
    return Outcome(status, None, excerpt, _ms(started))


def _exchange(
    target: Target, body: bytes, headers: dict[str, str], deadline: float
) -> tuple[int, str]:
    sock = _connect(target, deadline)
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _cut, (sock,))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection = _Connection(target, sock, deadline)
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()  # a 3xx is an answer: never followed
        data = response.read(_READ_BYTES)
        connection.close()
    finally:
        watchdog.cancel()
        sock.close()
    return response.status, _clean(data.decode("utf-8", "replace"))[:EXCERPT_CHARS]


def _connect(target: Target, deadline: float) -> socket.socket:
    """A TCP connection to the first vetted address that answers (TLS on top for https)."""
    error: OSError = OSError("no address")
    for address in target.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        try:
            raw = socket.create_connection((address, target.port), timeout=remaining)
        except OSError as e:
            error = e
            continue
        if target.scheme != "https":
            return raw
        try:
            context = ssl.create_default_context()
            return context.wrap_socket(raw, server_hostname=target.host)
        except BaseException:
            raw.close()
            raise
    raise error


def _cut(sock: socket.socket) -> None:
    """The deadline passed: wake whatever read or write is blocked on the socket."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Connection(http.client.HTTPConnection):
    """An HTTP connection over a socket we connected (to the vetted address); the
    request line and Host header name the URL's host."""

    def __init__(self, target: Target, sock: socket.socket, deadline: float) -> None:
        default = 443 if target.scheme == "https" else 80
        port = None if target.port == default else target.port
        super().__init__(target.host, port, timeout=max(0.001, deadline - time.monotonic()))
        self.sock = sock

    def connect(self) -> None:  # the socket is already connected
        return


def _clean(text: str) -> str:
    """Printable text only: PostgreSQL text cannot hold NUL, and logs want one line."""
    return "".join(c if c.isprintable() else " " for c in text).strip()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
