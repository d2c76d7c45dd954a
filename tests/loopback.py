"""Any ``httpx.Request -> httpx.Response`` handler (a :class:`~tests.simserver.SimServer`,
a script) served over real HTTP on 127.0.0.1, so the public CLI can be pointed at it.

``with Loopback(handler) as server:`` then ``server.url`` is a SCIM bridge URL. A handler
that raises an ``httpx`` transport error (a simulated timeout) drops the connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import httpx

Handler = Callable[[httpx.Request], httpx.Response]


class Loopback:
    def __init__(self, handler: Handler, mount: str = "/scim/v2") -> None:
        self.handler = handler
        self.mount = mount
        self.lock = threading.Lock()  # one request at a time: handlers need not be thread-safe
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _bind(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{self.mount}"

    def __enter__(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _bind(loopback: Loopback) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request = httpx.Request(
                self.command,
                f"http://127.0.0.1{self.path}",
                headers=dict(self.headers.items()),
                content=body,
            )
            try:
                with loopback.lock:
                    response = loopback.handler(request)
            except httpx.TransportError:
                self.close_connection = True
                return
            content = response.read()
            self.send_response(response.status_code)
            for name, value in response.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    return _Handler
