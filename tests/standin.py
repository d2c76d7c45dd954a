"""A small SCIM server on 127.0.0.1 that finds people the way real ones do, for the CLI.

Three ways of filtering ``GET /Users``, as the servers behind a Loom connection do
(``../shared/reference/vendor-behaviour.md``):

* ``rfc``: ``userName``, ``externalId``, ``emails.value`` and ``emails`` compared
  case-insensitively, as RFC 7644 says;
* ``case_sensitive``: the same attributes compared exactly (a real third-party server);
* ``atlassian``: ``userName`` and ``externalId`` only, exactly as stored, and any other
  filter refused with a 400 ``invalidFilter``; ``userName`` may be a UPN while the email
  lives only in ``emails``.

It serves lookups by id, PATCH (``replace`` of top-level attributes, with or without a
path), POST (409 ``uniqueness`` when the userName or an email is taken,
case-insensitively) and DELETE; every request is logged as ``METHOD path?filter``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

Filtering = Literal["rfc", "case_sensitive", "atlassian"]
TOKEN = "standin-token"
PREFIX = "/scim/v2"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
_EQ = re.compile(r'^\s*([A-Za-z.]+)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$')


def user(uid: str, user_name: str, email: str | None = None, **more: Any) -> dict[str, Any]:
    """A SCIM user: ``email`` in ``emails`` (``userName`` itself when not given)."""
    address = user_name if email is None else email
    return {
        "schemas": [USER],
        "id": uid,
        "userName": user_name,
        "emails": [{"value": address, "primary": True, "type": "work"}],
        "active": True,
        **more,
    }


@dataclass
class StandIn:
    filtering: Filtering = "rfc"
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _next: int = 1000

    def add(self, *users: dict[str, Any]) -> None:
        for one in users:
            self.users[one["id"]] = one

    def active(self, uid: str) -> Any:
        return self.users[uid].get("active")

    def writes(self) -> list[str]:
        return [line for line in self.log if not line.startswith("GET")]

    # -- what the server does -------------------------------------------------------

    def handle(self, method: str, target: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(target)
        path = unquote(parts.path).removeprefix(PREFIX)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        shown = f"{path}?filter={query['filter']}" if "filter" in query else path
        with self._lock:
            self.log.append(f"{method} {shown}")
            if path == "/Users" and method == "GET":
                return self._list(query)
            if path == "/Users" and method == "POST":
                return self._create(body)
            match = re.fullmatch(r"/Users/([^/]+)", path)
            if match is None:
                return _error(404, "no such endpoint")
            found = self.users.get(match.group(1))
            if found is None:
                return _error(404, f"no user {match.group(1)}")
            if method == "GET":
                return 200, found
            if method == "DELETE":
                del self.users[found["id"]]
                return 204, None
            if method == "PATCH":
                for op in body.get("Operations", []):
                    value = op.get("value")
                    if op.get("path"):
                        found[op["path"]] = value
                    elif isinstance(value, dict):
                        found.update(value)
                return 200, found
            return _error(405, "method not allowed")

    def _list(self, query: dict[str, str]) -> tuple[int, Any]:
        items = list(self.users.values())
        if "filter" in query:
            match = _EQ.match(query["filter"])
            if match is None:
                return _error(400, "cannot parse the filter", "invalidFilter")
            attribute, value = match.group(1), match.group(2).replace('\\"', '"')
            if self.filtering == "atlassian" and attribute not in ("userName", "externalId"):
                return _error(400, f"filtering on {attribute} is not supported", "invalidFilter")
            items = [u for u in items if self._equal(_values(u, attribute), value)]
        start = max(1, int(query.get("startIndex", 1)))
        count = min(100, int(query.get("count", 100)))
        window = items[start - 1 : start - 1 + count]
        return 200, {
            "schemas": [LIST],
            "totalResults": len(items),
            "startIndex": start,
            "itemsPerPage": len(window),
            "Resources": window,
        }

    def _equal(self, values: list[str], wanted: str) -> bool:
        if self.filtering == "rfc":
            return wanted.lower() in [v.lower() for v in values]
        return wanted in values

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        asked = {v.lower() for v in _values(body, "userName") + _values(body, "emails")}
        for existing in self.users.values():
            taken = _values(existing, "userName") + _values(existing, "emails")
            if asked & {v.lower() for v in taken}:
                return _error(409, "a user with this email already exists", "uniqueness")
        self._next += 1
        made = {**body, "id": f"u{self._next}", "active": body.get("active", True)}
        self.users[made["id"]] = made
        return 201, made


def _values(item: dict[str, Any], attribute: str) -> list[str]:
    if attribute in ("emails", "emails.value"):
        return [e["value"] for e in item.get("emails") or [] if isinstance(e, dict)]
    value = item.get(attribute)
    return [value] if isinstance(value, str) else []


def _error(status: int, detail: str, scim_type: str | None = None) -> tuple[int, Any]:
    body: dict[str, Any] = {"schemas": [ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return status, body


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _answer(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            status, body = 401, {"error": "Not authorized"}
        else:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, body = self.server.standin.handle(
                self.command, self.path, json.loads(raw) if raw else None
            )
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if data:
            self.send_header("Content-Type", "application/scim+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _answer


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, standin: StandIn) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.standin = standin


@contextmanager
def serving(standin: StandIn) -> Iterator[StandIn]:
    """Serve ``standin`` on a free loopback port for the duration of the block."""
    server = _Server(standin)
    standin.url = f"http://127.0.0.1:{server.server_address[1]}{PREFIX}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
