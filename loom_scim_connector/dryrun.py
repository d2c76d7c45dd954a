"""Dry runs of write actions: reads go to the server, the first write is shown, not sent.

A :class:`DryRunTransport` wraps the real transport. ``GET`` requests pass (an action's
lookups before it writes are real), and the first request that would change something
stops the action with :class:`WouldSend`, which carries the method, the path below the
bridge URL and the JSON body: exactly what would have been sent. Later writes depend on
that one's answer, so they are not guessed at.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from .errors import LoomScimError


class WouldSend(LoomScimError):
    """A dry run reached its first write: here it is, unsent."""

    def __init__(self, method: str, path: str, body: Any, reads: list[str]) -> None:
        self.method, self.path, self.body, self.reads = method, path, body, reads
        super().__init__(f"dry run: would send {method} {path}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "dryRun": True,
            "wouldSend": {
                "method": self.method,
                "path": self.path,
                "headers": {"Authorization": "Bearer [REDACTED]"},
                "body": self.body,
            },
            "readsSent": self.reads,
        }


class DryRunTransport(httpx.AsyncBaseTransport):
    def __init__(self, base_url: str, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_path = httpx.URL(base_url).path.rstrip("/")
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.reads: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix(self.base_path) or "/"
        if request.method == "GET":
            shown = path + (f"?{request.url.query.decode()}" if request.url.query else "")
            self.reads.append(f"GET {shown}")
            return await self.inner.handle_async_request(request)
        content = request.content
        body = json.loads(content) if content else None
        raise WouldSend(request.method, path, body, list(self.reads))

    async def aclose(self) -> None:
        await self.inner.aclose()
