"""uvicorn's HTTP/1.1 protocol with a deadline for each request's headers.

uvicorn (h11 and httptools alike) has no header-read timeout: its keep-alive timer stops at
the first byte, and a fresh connection has no timer at all. A client that opens sockets and
sends a header byte every few seconds (slowloris) holds each of them for ever, and with them
the connection slots every other client needs. Here every request's headers must be complete
within ``header_timeout`` seconds of the connection opening or of the previous response;
otherwise the connection is closed. The body has its own bound (graphql_api.middleware's
BodyRateMiddleware), so that a slow application is never blamed on the client.
"""

from __future__ import annotations

import asyncio
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("ovoz.http")


class HeaderDeadlineProtocol(H11Protocol):
    """H11Protocol whose connections wait at most ``header_timeout`` for request headers."""

    header_timeout: float = 10.0
    _header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_header_deadline()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # h11 leaves IDLE once a request's headers are complete (and returns to IDLE when
        # the next request may begin, e.g. after a body that outlived its response).
        if self.conn.their_state is h11.IDLE:
            self._arm_header_deadline()
        else:
            self._disarm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.conn.their_state is h11.IDLE:
            self._disarm_header_deadline()  # the next request's headers get a fresh deadline
            self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        """Start the deadline unless one runs already: bytes that trickle in never extend it."""
        if self._header_deadline is None and not self.transport.is_closing():
            self._header_deadline = self.loop.call_later(self.header_timeout, self._headers_late)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_late(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            log.debug(
                "closing a connection whose request headers took over %gs", self.header_timeout
            )
            self.transport.close()


def header_deadline_protocol(header_timeout: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class to give uvicorn (``http=``), with this deadline."""
    return type(
        "HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": header_timeout}
    )
