"""Many Loom-like workspaces in one process, by path: for load tests of the fleet.

Workspace ``n`` is served under ``/w/<n>/scim/v2`` with its own seeded users (the same
people as :mod:`.seed`, seed ``n``) and its own bearer token. It answers what a users
sync asks: ``GET /Users`` by ``startIndex`` and ``count`` (pages capped at 1000) and
``GET /Users/<id>`` (a SCIM 404 when gone), plus ``DELETE /Users/<id>``; ``GET /Groups``
is an empty list, so a groups sync (Celery beat queues those too) succeeds at once.

It is not the scim2-server sandbox (:class:`~.server.Sandbox`): that one costs about
0.35 s of CPU per 500 users served and 0.6 s to seed them, so 200 workspaces would
make the server, not the fleet, what a load test measures. Here each user is encoded
once, and a page is a join of bytes. HTTP/1.1 keep-alive, so a client that reuses its
connections is seen doing so.

The server counts, per workspace, the requests in flight (from the request line read
to the response written), the most reached, the requests served and the TCP
connections that served it. ``GET /_multi/stats`` answers them; ``GET
/_multi/w/<n>/users`` the ids and userNames served now; ``POST /_multi/w/<n>/change``
with ``{"rename": R, "add": A, "remove": D}`` changes the workspace behind the
fleet's back (renames R users, adds A, removes D). Admin endpoints need no token:
loopback only.
"""

from __future__ import annotations

import json
import re
import secrets
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ._threaded import ThreadedServer
from .seed import seed_users

MAX_PAGE = 1000
_LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
_PATH = re.compile(r"/w/(\d+)/scim/v2/(Users|Groups)(?:/([^/?]+))?/?")
_ADMIN = re.compile(r"/_multi/(?:stats|w/(\d+)/(users|change))")


@dataclass
class Workspace:
    """One workspace: its token, its users (encoded once) and its counters."""

    number: int
    token: str
    users: dict[str, bytes] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    in_flight: int = 0
    max_in_flight: int = 0
    requests: int = 0
    connections: int = 0
    # Tests: while set and not yet released, each request waits here, in flight.
    gate: threading.Event | None = None
    _order: list[str] | None = None
    _added: int = 0

    def seed(self, count: int) -> None:
        for n, user in enumerate(seed_users(count, self.number), start=1):
            self._put(f"w{self.number}u{n:06d}", user)

    def _put(self, user_id: str, user: dict[str, Any]) -> None:
        stamp = "2026-01-01T00:00:00Z"
        resource = {
            **user,
            "id": user_id,
            "meta": {
                "resourceType": "User",
                "created": stamp,
                "lastModified": stamp,
                "location": f"/w/{self.number}/scim/v2/Users/{user_id}",
            },
        }
        self.users[user_id] = json.dumps(resource, separators=(",", ":")).encode()
        self.names[user_id] = user["userName"]
        self._order = None

    def page(self, start: int, count: int) -> bytes:
        with self.lock:
            if self._order is None:
                self._order = list(self.users)
            ids = self._order[start - 1 : start - 1 + count] if count > 0 else []
            items = [self.users[i] for i in ids]
            total = len(self._order)
        head = json.dumps(
            {"schemas": [_LIST], "totalResults": total, "startIndex": start}
        ).encode()[:-1]
        return head + b',"itemsPerPage":%d,"Resources":[' % len(items) + b",".join(items) + b"]}"

    def change(self, rename: int = 0, add: int = 0, remove: int = 0) -> dict[str, list[str]]:
        """Rename, add and remove users (the first ones for each, in order)."""
        with self.lock:
            ids = list(self.users)
            renamed, removed = ids[:rename], ids[rename : rename + remove]
            for user_id in renamed:
                user = json.loads(self.users[user_id])
                user["name"] = {**user.get("name", {}), "givenName": "Renamed"}
                self.users[user_id] = json.dumps(user, separators=(",", ":")).encode()
            for user_id in removed:
                del self.users[user_id], self.names[user_id]
            added = []
            for user in seed_users(add, 10_000 + self.number):
                self._added += 1
                user_id = f"w{self.number}n{self._added:06d}"
                email = f"new{self._added}.{user['userName']}"
                user["userName"] = email
                user["emails"] = [{"value": email, "type": "work", "primary": True}]
                self._put(user_id, user)
                added.append(user_id)
            self._order = None
        return {"renamed": renamed, "added": added, "removed": removed}

    def stats(self) -> dict[str, int]:
        return {
            "users": len(self.users),
            "inFlight": self.in_flight,
            "maxInFlight": self.max_in_flight,
            "requests": self.requests,
            "connections": self.connections,
        }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.seen: set[int] = set()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._route()

    def do_POST(self) -> None:
        self._route()

    def do_DELETE(self) -> None:
        self._route()

    def _route(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        admin = _ADMIN.fullmatch(url.path)
        if admin is not None:
            self._admin(admin, body)
            return
        match = _PATH.fullmatch(url.path)
        space = self.server.workspaces.get(int(match.group(1))) if match else None
        if match is None or space is None:
            self._error(404, "no such workspace or endpoint")
            return
        with space.lock:
            space.in_flight += 1
            space.requests += 1
            space.max_in_flight = max(space.max_in_flight, space.in_flight)
            if space.number not in self.seen:
                self.seen.add(space.number)
                space.connections += 1
        try:
            if self.server.latency:
                time.sleep(self.server.latency)
            if space.gate is not None:
                space.gate.wait(timeout=60)
            if match.group(2) == "Groups":  # none: a groups sync finds an empty list
                status, answer = self._groups(space, match.group(3))
            else:
                status, answer = self._scim(space, match.group(3), parse_qs(url.query))
        finally:
            # Out of flight before the answer is sent: once the client has it, its next
            # request may come at once, and must not be counted with this one.
            with space.lock:
                space.in_flight -= 1
        self._send(status, answer)

    def _groups(self, space: Workspace, group_id: str | None) -> tuple[int, bytes]:
        if not self._authorized(space):
            return 401, _error_body(401, "Invalid or rotated bearer token")
        if group_id is not None or self.command != "GET":
            return 404, _error_body(404, "Resource not found")
        empty = {"schemas": [_LIST], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0}
        return 200, json.dumps({**empty, "Resources": []}).encode()

    def _authorized(self, space: Workspace) -> bool:
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        return scheme.lower() == "bearer" and secrets.compare_digest(token, space.token)

    def _scim(
        self, space: Workspace, user_id: str | None, query: dict[str, list[str]]
    ) -> tuple[int, bytes]:
        if not self._authorized(space):
            return 401, _error_body(401, "Invalid or rotated bearer token")
        if user_id is None and self.command == "GET":
            start = max(1, _int(query, "startIndex", 1))
            count = min(MAX_PAGE, max(0, _int(query, "count", 100)))
            return 200, space.page(start, count)
        with space.lock:
            found = space.users.get(user_id or "")
            if found is not None and self.command == "DELETE":
                del space.users[user_id or ""], space.names[user_id or ""]
                space._order = None
        if found is None:
            return 404, _error_body(404, "Resource not found")
        if self.command == "DELETE":
            return 204, b""
        if self.command != "GET":
            return 501, _error_body(501, "Not supported by this sandbox")
        return 200, found

    def _admin(self, match: re.Match[str], body: bytes) -> None:
        spaces = self.server.workspaces
        if match.group(1) is None:
            data: Any = {str(n): s.stats() for n, s in spaces.items()}
        elif (space := spaces.get(int(match.group(1)))) is None:
            self._error(404, "no such workspace")
            return
        elif match.group(2) == "users":
            with space.lock:
                data = dict(space.names)
        else:
            data = space.change(**json.loads(body or b"{}"))
        self._send(200, json.dumps(data).encode(), "application/json")

    def _error(self, status: int, detail: str) -> None:
        self._send(status, _error_body(status, detail))

    def _send(self, status: int, body: bytes, kind: str = "application/scim+json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body:
            self.wfile.write(body)


def _error_body(status: int, detail: str) -> bytes:
    return json.dumps({"schemas": [_ERROR], "status": str(status), "detail": detail}).encode()


def _int(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    return int(values[0]) if values and values[0].isdigit() else default


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    workspaces: dict[int, Workspace]
    latency: float

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (a killed worker) is no error of the server's."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class MultiSandbox(ThreadedServer):
    """``with MultiSandbox(workspaces=200, users=500) as multi:`` then ``multi.url(n)``
    and ``multi.token(n)`` for workspace ``n`` (``0 <= n < workspaces``); ``users`` is
    one size for all or one per workspace."""

    _name = "loom-multi-sandbox"
    _server: _Server

    def __init__(
        self,
        *,
        workspaces: int,
        users: int | Sequence[int],
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
    ) -> None:
        sizes = [users] * workspaces if isinstance(users, int) else list(users)
        if len(sizes) != workspaces:
            raise ValueError("users: one size per workspace, or one for all")
        self._server = _Server((host, port), _Handler)
        self._server.latency = latency
        self._server.workspaces = {}
        for n in range(workspaces):
            space = Workspace(n, f"multi-{n}-{secrets.token_urlsafe(18)}")
            space.seed(sizes[n])
            self._server.workspaces[n] = space
        self.host, self.port = host, self._server.server_address[1]

    @property
    def workspaces(self) -> dict[int, Workspace]:
        return self._server.workspaces

    @property
    def root(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, n: int) -> str:
        return f"{self.root}/w/{n}/scim/v2"

    def token(self, n: int) -> str:
        return self.workspaces[n].token

    def stats(self) -> dict[int, dict[str, int]]:
        return {n: space.stats() for n, space in self.workspaces.items()}
