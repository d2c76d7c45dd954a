"""Loom's behaviour and the test knobs, as a thin layer over scim2-server.

scim2-server does the SCIM protocol (CRUD, filters, PATCH, discovery, errors, 409 on a
taken userName). This layer adds what makes it Loom, and what makes it useful in tests:

* bearer-token auth where the token may carry an expiry (401 after it) and be rotated
  (the old one stops at once);
* the workspace's Member Deprovisioning setting: ``active: false`` deactivates, or deletes;
* an unmapped ``loomMemberRole`` silently ignored (``role_mapped=False``);
* a page-size cap, a mode that ignores ``startIndex``/``count``, latency, and injected
  429/5xx, at a rate with a seed or as a queue (``fail_next``), so runs are reproducible.
"""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from scim2_models import (
    ResourceType,
    Schema,
    SchemaExtension,
    ScimProvider,
    UnauthorizedException,
)
from scim2_server.applications.wsgi import WSGIApplication
from scim2_server.memory import InMemoryStorage, utcnow
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse
from scim2_server.service import ScimService
from scim2_server.testserver.application import BEARER_TOKEN_SCHEME
from scim2_server.utils import load_default_resource_types, load_default_service_provider_config

from ._loom import operations as _operations
from ._loom import sets_inactive as _sets_inactive
from ._loom import without_role as _without_role
from ._vendor import VendorLayer
from .profiles import SandboxSettings
from .schema import ROLE_EXTENSION, loom_schema_documents

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

MOUNT = "/scim"
ADMIN = "/_sandbox"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class TokenStore:
    """One valid token at a time; rotating it invalidates the old one at once."""

    def __init__(self, token: str | None = None, expires_at: datetime | None = None) -> None:
        self.token = token or secrets.token_urlsafe(24)
        self.expires_at = expires_at

    def rotate(self, expires_at: datetime | None = None) -> str:
        self.token = secrets.token_urlsafe(24)
        self.expires_at = expires_at
        return self.token

    def check(self, header: str | None, now: datetime) -> None:
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(token, self.token):
            raise UnauthorizedException(detail="Invalid or rotated bearer token")
        if self.expires_at is not None and now >= self.expires_at:
            raise UnauthorizedException(detail="The bearer token has expired")


class SeededStorage(InMemoryStorage):
    """Ids drawn from a seeded generator, so the same run gives the same ids."""

    def __init__(self, seed: int, clock: Callable[[], datetime] | None = None) -> None:
        super().__init__(clock or utcnow)
        self._ids = random.Random(seed)
        self._id_lock = threading.Lock()

    def generate_id(self, resource_type: ResourceType, resource: Any) -> str:
        with self._id_lock:
            return f"{self._ids.getrandbits(96):024x}"


def build_provider(role_location: str = "top") -> ScimProvider:
    schemas = [Schema.model_validate(doc) for doc in loom_schema_documents(role_location)]
    config = load_default_service_provider_config()
    config.authentication_schemes = [BEARER_TOKEN_SCHEME]
    types = load_default_resource_types()
    if role_location == "custom":
        extension = SchemaExtension(schema_=ROLE_EXTENSION, required=False)
        types["User"].schema_extensions = [*(types["User"].schema_extensions or []), extension]
    return ScimProvider.from_discovery(schemas, types.values(), config=config)


class LoomApplication(WSGIApplication):
    def __init__(
        self,
        *,
        settings: SandboxSettings | None = None,
        tokens: TokenStore | None = None,
        seed: int = 0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``clock``: the time the server reads (token expiry, ``meta.created`` and
        ``lastModified``); a stopped one makes a run's output reproducible."""
        self.settings = settings or SandboxSettings()
        provider = build_provider(self.settings.role_location)
        storage = self.memory = SeededStorage(seed, clock)
        super().__init__(storage, provider, ScimService(provider, secret=secrets.token_hex(16)))
        self.vendor = VendorLayer(self)
        self.tokens = tokens or TokenStore()
        self.clock = clock or (lambda: datetime.now(UTC))
        self._faults = random.Random(seed)
        self._fault_lock = threading.Lock()
        self._user_type = load_default_resource_types()["User"]
        self.group_type = load_default_resource_types()["Group"]
        self.requests_served = 0

    # -- Loom's behaviour ---------------------------------------------------------------

    def check_auth(self, request: ScimRequest) -> None:
        self.tokens.check(request.header("Authorization"), self.clock())

    def serve(self, request: ScimRequest) -> ScimResponse:
        self.requests_served += 1
        fault = self._fault()
        if fault is not None:
            return self.finalize_response(request, fault)
        base = super().serve
        return self.vendor.serve(request, self._serve_loom, base)

    def _serve_loom(self, request: ScimRequest) -> ScimResponse:
        """Loom's own behaviour: an unmapped role ignored, deprovisioning that deletes."""
        s = self.settings
        parts = request.path.strip("/").split("/")
        is_users = parts[0].lower() == "users"
        method = request.method.upper()
        if is_users and method in ("POST", "PUT", "PATCH") and not s.role_mapped:
            body = _without_role(self._json(request.body))
            if method == "PATCH" and isinstance(body, dict) and not _operations(body):
                # Nothing left to apply: answer as Loom does, after auth and a lookup.
                request.method, request.body = "GET", b""
                found = super().serve(request)
                if found.status >= 300:
                    return found
                return self.finalize_response(request, ScimResponse(HTTPStatus.NO_CONTENT))
            request.body = json.dumps(body).encode()
        if method == "GET" and len(parts) == 1 and parts[0]:
            request.query = self._paging(dict(request.query))
        response = super().serve(request)
        if (
            is_users
            and len(parts) == 2
            and method in ("PATCH", "PUT")
            and response.status < 300
            and s.deprovisioning == "delete"
            and _sets_inactive(self._json(request.body))
        ):
            self.storage.delete(self._user_type, parts[1])
        return response

    def _paging(self, query: dict[str, str]) -> dict[str, str]:
        s = self.settings
        if s.ignore_paging:
            query.pop("startIndex", None)
            query.pop("count", None)
        if s.page_size_cap is not None:
            asked = query.get("count")
            wanted = int(asked) if asked and asked.isdigit() else s.page_size_cap
            query["count"] = str(min(wanted, s.page_size_cap))
        return query

    def _fault(self) -> ScimResponse | None:
        s = self.settings
        with self._fault_lock:
            if s.fail_next:
                status = s.fail_next.pop(0)
            elif s.fault_rate and self._faults.random() < s.fault_rate:
                status = s.fault_status
            else:
                return None
        headers = {}
        when = self.clock() + timedelta(seconds=s.retry_after_seconds)
        if status in (429, 503) and s.retry_after == "date":
            headers["Retry-After"] = format_datetime(when, usegmt=True)
        elif status in (429, 503) and s.retry_after == "seconds":
            headers["Retry-After"] = str(s.retry_after_seconds)
        elif status == 429 and s.retry_after == "x-ratelimit-reset":
            headers["X-RateLimit-Limit"], headers["X-RateLimit-Remaining"] = "100", "0"
            headers["X-RateLimit-Reset"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif status == 429 and s.retry_after == "ratelimit-reset":
            headers["RateLimit-Reset"] = str(s.retry_after_seconds)
        detail = "Too many requests" if status == 429 else "Injected server error"
        body = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
        return ScimResponse(HTTPStatus(status), body, headers)

    @staticmethod
    def _json(body: bytes) -> Any:
        try:
            return json.loads(body or b"null")
        except ValueError:
            return None

    # -- WSGI: the /scim mount and the admin endpoints ------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith(ADMIN + "/"):
            return self._admin(environ, start_response)
        if path == MOUNT or path.startswith(MOUNT + "/"):
            if self.settings.latency:  # requests over HTTP only: seeding and call() are not slowed
                time.sleep(self.settings.latency)
            environ = dict(environ)
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + MOUNT
            environ["PATH_INFO"] = path[len(MOUNT) :]
            return super().__call__(environ, start_response)
        return _reply(start_response, 404, {"detail": f"SCIM is served under {MOUNT}/v2"})

    def _admin(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        action = environ["PATH_INFO"][len(ADMIN) + 1 :]
        method = environ["REQUEST_METHOD"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = self._json(environ["wsgi.input"].read(length)) if length else None
        if action == "settings" and method == "GET":
            return _reply(start_response, 200, asdict(self.settings))
        if action == "settings" and method == "PATCH" and isinstance(body, dict):
            try:
                self.settings.update(body)
            except ValueError as exc:
                return _reply(start_response, 400, {"detail": str(exc)})
            return _reply(start_response, 200, asdict(self.settings))
        if action == "rotate-token" and method == "POST":
            return _reply(start_response, 200, {"token": self.tokens.rotate()})
        return _reply(start_response, 404, {"detail": "unknown sandbox admin endpoint"})


def _reply(start_response: StartResponse, status: int, body: dict[str, Any]) -> Iterable[bytes]:
    data = json.dumps(body).encode()
    phrase = HTTPStatus(status).phrase
    start_response(f"{status} {phrase}", [("Content-Type", "application/json")])
    return [data]
