"""Run the sandbox: on a thread (tests, the demo, the examples) or in the foreground (CLI)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from datetime import datetime
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from scim2_server.requests import ScimRequest
from scim2_server.testserver.cli import ThreadingWSGIServer

from ._threaded import ThreadedServer
from .app import MOUNT, LoomApplication, TokenStore
from .profiles import Profile, SandboxSettings
from .seed import role_groups, role_of, seed_users


class _IPv6Server(ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class Sandbox(ThreadedServer):
    """A Loom-like SCIM server on loopback.

    ``with Sandbox(seed_users=25) as sb:`` then use ``sb.url`` and ``sb.token``.
    Port 0 picks a free port.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        token_expires_at: datetime | None = None,
        seed_users: int = 0,
        seed: int = 0,
        settings: SandboxSettings | None = None,
        profile: Profile | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``profile`` (``rfc``, ``atlassian``, ``workos``): that profile's settings, when
        ``settings`` are not given. ``clock``: the server's time (the README's samples
        stop it, so they read the same every run)."""
        if settings is None and profile is not None:
            settings = SandboxSettings.for_profile(profile)
        self.tokens = TokenStore(token, token_expires_at)
        self.app = LoomApplication(settings=settings, tokens=self.tokens, seed=seed, clock=clock)
        server_class = _IPv6Server if ":" in host else ThreadingWSGIServer
        self._server = make_server(
            host, port, self.app, server_class=server_class, handler_class=_QuietHandler
        )
        self.host = host
        self.port = self._server.server_port
        self._thread = None
        self.seeded = self._seed(seed_users, seed)

    @property
    def settings(self) -> SandboxSettings:
        return self.app.settings

    @property
    def token(self) -> str:
        return self.tokens.token

    @property
    def root(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        """The SCIM bridge URL, as Loom would show it."""
        return f"{self.root}{MOUNT}/v2"

    def rotate_token(self, expires_at: datetime | None = None) -> str:
        return self.tokens.rotate(expires_at)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        query: dict[str, str] | None = None,
    ) -> Any:
        """Serve one request in-process, through the same layers as a client's request
        (auth, knobs, Loom's behaviour): for seeding, and for tests that change the
        workspace behind the connector's back."""
        request = ScimRequest(
            method=method,
            base_url=self.url,
            path=path,
            query=query or {},
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/scim+json",
            },
            body=json.dumps(body).encode() if body is not None else b"",
        )
        response = self.app.serve(request)
        if response.status >= 300:
            raise RuntimeError(f"sandbox {method} {path} failed: {response.status} {response.body}")
        return response.body

    def _seed(self, count: int, seed: int) -> dict[str, list[str]]:
        """Create ``count`` users and the three role groups; return ids by role."""
        if count <= 0:
            return {}
        saved = self.app.settings.fail_next, self.app.settings.fault_rate
        self.app.settings.fail_next, self.app.settings.fault_rate = [], 0.0
        by_role: dict[str, list[str]] = {"all": []}
        knobs = self.app.settings
        people = seed_users(
            count, seed, role_location=knobs.role_location, username_upn=knobs.username_upn
        )
        for user in people:
            created = self.call("POST", "/Users", user)
            by_role["all"].append(created["id"])
            role = role_of(user)
            if role:
                by_role.setdefault(role, []).append(created["id"])
        for role, group in role_groups():
            group["members"] = [{"value": uid} for uid in by_role.get(role, [])]
            by_role[f"group:{role}"] = [self.call("POST", "/Groups", group)["id"]]
        self.app.settings.fail_next, self.app.settings.fault_rate = saved
        return by_role

    def serve_forever(self) -> None:
        try:
            self._server.serve_forever()
        finally:
            self._server.server_close()
