"""A server in a daemon thread, for a ``with`` block: shared by both sandboxes."""

from __future__ import annotations

import socketserver
import threading
from typing import Self


class ThreadedServer:
    """Runs ``self._server`` (a ``socketserver.BaseServer``) in a thread of its own."""

    _server: socketserver.BaseServer
    _thread: threading.Thread | None = None
    _name = "loom-sandbox"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=self._name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
