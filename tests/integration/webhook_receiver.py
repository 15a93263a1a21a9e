"""A real HTTP receiver for webhook tests: a server thread that answers from a script."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG = "hang"


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


class Receiver:
    """Answers each POST with the next item of ``script`` (a status, ``HANG``, or
    ``("redirect", url)``), then with ``default``; keeps every request it got."""

    def __init__(self, script: list[Any] | None = None, default: int = 200) -> None:
        self.script = list(script or [])
        self.default = default
        self.requests: list[Received] = []
        self._release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.requests.append(Received(headers, body, time.monotonic()))
                action = receiver.script.pop(0) if receiver.script else receiver.default
                if action == HANG:
                    receiver._release.wait(30)
                    return
                if isinstance(action, tuple):
                    self.send_response(302)
                    self.send_header("Location", action[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                answer = b"ok" if action < 300 else ("nope " * 300).encode()
                self.send_response(action)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self._release.set()
        self._server.shutdown()
        self._server.server_close()
