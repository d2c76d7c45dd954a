"""A small, programmable SCIM stand-in for the hostile tests (tests/test_hostile.py).

Written apart from the project's other stand-ins on purpose, so as not to be blind in the
same places. One ``Hostile`` object holds the users of each tenant (told apart by the
bearer token, as many SCIM services do) and a ``hook`` the test may set to answer any
request itself (return ``(status, body)`` or ``None`` to fall through).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
Answer = tuple[int, Any]
Hook = Callable[[str, str, dict[str, list[str]], str, Any], Answer | None]


def user(uid: str, email: str, **extra: Any) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": uid,
        "userName": email,
        "name": {"givenName": extra.pop("given", "G"), "familyName": "F"},
        "emails": [{"value": email, "primary": True}],
        "active": extra.pop("active", True),
        **extra,
    }


def scim404() -> Answer:
    return 404, {"schemas": [ERROR], "status": "404", "detail": "Resource not found"}


@dataclass
class Hostile:
    tenants: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # token -> users
    hook: Hook | None = None
    log: list[str] = field(default_factory=list)
    filters: bool = True  # answer userName eq filters (case-insensitively)

    def answer(self, method: str, raw_path: str, token: str, body: Any) -> Answer:
        parts = urlsplit(raw_path)
        path = parts.path.removeprefix("/scim/v2")
        query = parse_qs(parts.query)
        self.log.append(f"{method} {raw_path}")
        if self.hook is not None:
            got = self.hook(method, path, query, token, body)
            if got is not None:
                return got
        users = self.tenants.get(token)
        if users is None:
            return 401, {"schemas": [ERROR], "status": "401", "detail": "bad token"}
        if path == "/ServiceProviderConfig":
            return 200, {"filter": {"supported": True}, "patch": {"supported": True}}
        if path == "/Users" and method == "GET":
            found = users
            flt = query.get("filter", [""])[0]
            if flt:
                if not self.filters:
                    return 400, {"schemas": [ERROR], "status": "400", "scimType": "invalidFilter"}
                attr, _, value = flt.partition(" eq ")
                value = value.strip('"')
                if attr == "userName":
                    found = [u for u in users if u["userName"].lower() == value.lower()]
                elif attr in ("emails.value", "emails"):
                    found = [
                        u
                        for u in users
                        if any(e["value"].lower() == value.lower() for e in u["emails"])
                    ]
                else:
                    return 400, {"schemas": [ERROR], "status": "400", "scimType": "invalidFilter"}
            start = int(query.get("startIndex", ["1"])[0])
            count = int(query.get("count", ["100"])[0])
            page = found[start - 1 : start - 1 + count]
            return 200, {
                "schemas": [LIST],
                "totalResults": len(found),
                "startIndex": start,
                "itemsPerPage": len(page),
                "Resources": page,
            }
        if path.startswith("/Users/"):
            uid = unquote(path.removeprefix("/Users/"))
            match = [u for u in users if u["id"] == uid]
            if not match:
                return scim404()
            if method == "GET":
                return 200, match[0]
            if method == "PATCH":
                for op in body.get("Operations", []):
                    val = op.get("value")
                    if isinstance(val, dict):
                        match[0].update(val)
                    elif op.get("path"):
                        match[0][op["path"]] = val
                return 200, match[0]
            if method == "DELETE":
                users.remove(match[0])
                return 204, None
        return scim404()


@contextmanager
def serve(state: Hostile) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1; yield the base URL (``.../scim/v2``)."""

    class Handler(BaseHTTPRequestHandler):
        def _do(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            token = (self.headers.get("authorization") or "").removeprefix("Bearer ")
            status, answer = state.answer(self.command, self.path, token, body)
            data = (
                b""
                if answer is None
                else (answer if isinstance(answer, bytes) else json.dumps(answer).encode())
            )
            self.send_response(status)
            self.send_header("content-type", "application/scim+json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _do

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/scim/v2"
    finally:
        server.shutdown()
        server.server_close()
