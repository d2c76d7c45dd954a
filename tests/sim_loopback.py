"""A :class:`~tests.simserver.SimServer` on 127.0.0.1, for tests of the real CLI.

Each HTTP request is handed to the simulated server as an ``httpx.Request`` (one at a
time: the simulation is not thread-safe) and its ``httpx.Response`` written back.
``server.sim`` may be swapped for another simulation between runs (another tenant).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from .simserver import SimServer


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    sim: SimServer
    lock: threading.Lock


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # the name http.server calls
        self._answer()

    def do_POST(self) -> None:
        self._answer()

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        host, port = self.server.server_address[:2]
        request = httpx.Request(self.command, f"http://{host!s}:{port}{self.path}", content=body)
        with self.server.lock:
            try:
                response = self.server.sim(request)
            except httpx.TransportError:  # a simulated reset: drop the connection
                self.close_connection = True
                return
        content = response.read()
        self.send_response(response.status_code)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the simulation keeps its own log


@contextmanager
def serve(sim: SimServer) -> Iterator[_Server]:
    """``sim`` at ``http://127.0.0.1:<port>/scim/v2`` (``url(server)``) while the block runs."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.sim, server.lock = sim, threading.Lock()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def url(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/scim/v2"
