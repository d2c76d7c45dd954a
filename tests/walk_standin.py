"""A small SCIM stand-in on 127.0.0.1 for tests through the real CLI: it lists users
(``startIndex``/``count``, or ignoring them), answers lookups by id, and records every
request target exactly as it arrived on the wire (not decoded, not normalised).

Anything it does not know (the base URL itself, a path with an extra segment) gets a
SCIM 404 JSON, as a SCIM server's catch-all does: so a lookup that a client resolved to
the wrong path reads as "that user is gone".
"""

from __future__ import annotations

import contextlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PREFIX = "/scim/v2"
TOKEN = "stand-in-token"


def user(uid: str) -> dict[str, Any]:
    slug = "".join(c for c in uid if c.isalnum()) or "dot"
    return {
        "schemas": [USER_SCHEMA],
        "id": uid,
        "userName": f"{slug}.{len(uid)}.{abs(hash(uid)) % 10_000}@acme.example",
        "name": {"givenName": "Given", "familyName": slug},
        "active": True,
    }


@dataclass
class StandIn:
    """The server's state and behaviour; change it between CLI runs."""

    ids: list[str] = field(default_factory=list)
    listed: list[str] | None = None  # what the listing shows (default: every id)
    ignore_start: bool = False  # always serve from the first user
    max_count: int | None = None  # a larger count is cut to this, without an error
    default_count: int = 100  # the page size when count is omitted
    omitted_count_gives_all: bool = False  # no count: every user at once
    targets: list[str] = field(default_factory=list)  # raw request targets, in order
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PREFIX}"

    def start(self) -> StandIn:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_GET(self) -> None:
                status, body = standin.answer(self.path, self.headers.get("Authorization"))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/scim+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                with contextlib.suppress(ConnectionError):  # a page fetched ahead, dropped
                    self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def lookups(self) -> list[str]:
        """The raw paths of the requests that were not list requests."""
        return [t for t in self.targets if urlsplit(t).path.rstrip("/") != f"{PREFIX}/Users"]

    # -- answers ----------------------------------------------------------------------

    def answer(self, target: str, auth: str | None) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.targets.append(target)
        if auth != f"Bearer {TOKEN}":
            return 401, _error(401, "bad token")
        parts = urlsplit(target)
        path = parts.path
        if path.rstrip("/") == f"{PREFIX}/Users":
            return 200, self._list(parse_qs(parts.query))
        if path.startswith(f"{PREFIX}/Users/"):
            segment = path[len(f"{PREFIX}/Users/") :]
            if "/" not in segment and unquote(segment) in self.ids:
                return 200, user(unquote(segment))
            return 404, _error(404, f"User {unquote(segment)} not found")
        if path.rstrip("/") == f"{PREFIX}/Groups":
            return 200, {"schemas": [LIST_SCHEMA], "totalResults": 0, "Resources": []}
        return 404, _error(404, "no such resource")

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        listed = self.ids if self.listed is None else self.listed
        asked = query.get("count")
        if asked is None:
            count = len(listed) if self.omitted_count_gives_all else self.default_count
        else:
            count = int(asked[0])
            if self.max_count is not None:
                count = min(count, self.max_count)
        start = 1 if self.ignore_start else int(query.get("startIndex", ["1"])[0])
        window = listed[start - 1 : start - 1 + count]
        return {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(listed),
            "startIndex": start,
            "itemsPerPage": len(window),
            "Resources": [user(uid) for uid in window],
        }


def _error(status: int, detail: str) -> dict[str, Any]:
    return {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
