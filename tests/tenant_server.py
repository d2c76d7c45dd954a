"""A loopback SCIM stand-in that tells workspaces apart by the bearer token alone: one
URL, several tenants, as many SCIM services (and a bridge URL such as
``https://<bridge>/scim/v2``) do. Each token sees only its tenant's users; an id of
another tenant is a SCIM 404, exactly as a user who left. A slow mode (``delay``) holds
each list page, so a test can pause a sync mid-walk.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def scim_user(uid: str, tenant: str = "example") -> dict[str, Any]:
    email = f"{uid}@{tenant.lower()}.example.com"
    return {
        "schemas": [USER],
        "id": uid,
        "userName": email,
        "name": {"givenName": "Given", "familyName": uid},
        "emails": [{"value": email, "primary": True}],
        "active": True,
        "meta": {"resourceType": "User"},
    }


@dataclass
class TenantServer:
    """``tenants`` maps a tenant name to its user ids; ``tokens`` a token to a tenant."""

    tenants: dict[str, list[str]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering each list page
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                status, body = owner.answer(self.path, self.headers.get("Authorization", ""))
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/scim+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/scim/v2"

    def __enter__(self) -> TenantServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def lookups(self) -> list[str]:
        with self.lock:
            return [line for line in self.log if line.startswith("GET /scim/v2/Users/")]

    def answer(self, raw_path: str, authorization: str) -> tuple[int, dict[str, Any]]:
        url = urlsplit(raw_path)
        with self.lock:
            self.log.append(f"GET {url.path}")
            tenant = self.tokens.get(authorization.removeprefix("Bearer "))
            users = None if tenant is None else list(self.tenants[tenant])
        if users is None:
            return 401, {"schemas": [ERROR], "status": "401", "detail": "invalid token"}
        parts = [unquote(p) for p in url.path.split("/") if p]
        if parts[-1] == "Groups":
            return 200, {"schemas": [LIST], "totalResults": 0, "Resources": []}
        if parts[-1] == "Users":
            query = parse_qs(url.query)
            start = int(query.get("startIndex", ["1"])[0])
            count = int(query.get("count", ["100"])[0])
            window = users[start - 1 : start - 1 + count]
            if self.delay:
                time.sleep(self.delay)
            return 200, {
                "schemas": [LIST],
                "totalResults": len(users),
                "startIndex": start,
                "itemsPerPage": len(window),
                "Resources": [scim_user(uid, tenant or "") for uid in window],
            }
        if parts[-2] == "Users" and parts[-1] in users:
            return 200, scim_user(parts[-1], tenant or "")
        return 404, {"schemas": [ERROR], "status": "404", "detail": "Resource not found"}
