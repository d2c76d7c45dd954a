"""The vendor layer: a profile's knobs applied around Loom's behaviour and scim2-server.

Filters refused, pages capped, types checked, emails kept unique, unknown group members
dropped, DELETE as a tombstone, PATCH answered with the resource, errors in the vendor's
shape: each as :class:`.profiles.VendorKnobs` says, at the JSON level.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, Protocol

from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse

from .profiles import SandboxSettings

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class VendorHost(Protocol):
    """What the layer needs of the sandbox's app (:class:`.app.LoomApplication`)."""

    settings: SandboxSettings

    @property
    def memory(self) -> Any: ...  # the in-memory storage, to read resources from

    @property
    def storage(self) -> Any: ...  # the same storage, as scim2-server writes it

    @property
    def group_type(self) -> Any: ...

    def check_auth(self, request: ScimRequest) -> None: ...


_EXACT = {
    "users": re.compile(r'\s*(userName|externalId)\s+eq\s+"[^"]*"\s*', re.IGNORECASE),
    "groups": re.compile(r'\s*displayName\s+eq\s+"[^"]*"\s*', re.IGNORECASE),
}

Serve = Callable[[ScimRequest], ScimResponse]


def error(status: int, detail: str, scim_type: str | None = None) -> ScimResponse:
    body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return ScimResponse(HTTPStatus(status), body)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw or b"null")
    except ValueError:
        return None


def _low(item: Any) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in item.items()} if isinstance(item, dict) else {}


def _active_not_bool(body: Any) -> bool:
    low = _low(body)
    if "active" in low and not isinstance(low["active"], bool):
        return True
    for op in low.get("operations") or []:
        o = _low(op)
        path, value = str(o.get("path") or "").lower(), o.get("value")
        if path == "active" and not isinstance(value, bool):
            return True
        if not path and _active_not_bool(value):
            return True
    return False


def _emails_of(body: Any) -> set[str]:
    low = _low(body)
    found = {str(e.get("value")).lower() for e in low.get("emails") or [] if isinstance(e, dict)}
    if "@" in str(low.get("username", "")):
        found.add(str(low["username"]).lower())
    return found - {"none"}


class VendorLayer:
    """Applies the app's knobs around Loom's behaviour (``inner``) and scim2-server (``base``)."""

    def __init__(self, app: VendorHost) -> None:
        self.app = app

    def serve(self, request: ScimRequest, inner: Serve, base: Serve) -> ScimResponse:
        s = self.app.settings
        parts = request.path.strip("/").split("/")
        kind, method = parts[0].lower(), request.method.upper()
        body = _json(request.body)
        if self._authed(request):
            refused = self._refuse(request, kind, parts, method, body)
            if refused is not None:
                return refused
        if kind == "groups" and method in ("POST", "PUT", "PATCH") and s.unknown_members == "drop":
            body = self._resolvable(body)
            request.body = json.dumps(body).encode()
        if kind == "users" and len(parts) == 2 and method == "DELETE" and s.delete == "tombstone":
            return self._tombstone(request, base)
        before = None
        if kind == "groups" and len(parts) == 2 and method == "PATCH":
            before = self._member_values(parts[1]) if s.append_duplicate_members else None
        response = inner(request)
        if before is not None and response.status < 300:
            self._append_again(parts[1], before, body)
        if method == "PATCH" and response.status == 204 and s.patch_answer == "resource":
            response = self._reread(request, base)
        return self._shaped(request, kind, method, body, response)

    def _authed(self, request: ScimRequest) -> bool:
        try:
            self.app.check_auth(request)
        except Exception:  # scim2-server answers it, in its own shape
            return False
        return True

    def _refuse(
        self, request: ScimRequest, kind: str, parts: list[str], method: str, body: Any
    ) -> ScimResponse | None:
        s = self.app.settings
        query = dict(request.query)
        if method == "GET" and len(parts) == 1 and kind in _EXACT:
            expression = query.get("filter")
            if s.filters == "exact" and expression and not _EXACT[kind].fullmatch(expression):
                if s.unsupported_filter_status == 200:
                    return ScimResponse(HTTPStatus.OK, _empty_list())
                return error(s.unsupported_filter_status, "Unsupported filter", "invalidFilter")
            count = query.get("count", "")
            cap = s.page_size_cap
            if s.page_cap_error and cap and count.isdigit() and int(count) > cap:
                return error(400, f"count must be at most {s.page_size_cap}", "invalidValue")
        if kind == "users" and method in ("POST", "PUT", "PATCH"):
            if s.strict_types and _active_not_bool(body):
                return error(400, "'active' is expected boolean, received string", "invalidValue")
            if s.unique_active_email and method == "POST" and self._email_taken(body):
                return error(409, "Another user already exists with this username", "uniqueness")
        return None

    def _email_taken(self, body: Any) -> bool:
        wanted = _emails_of(body)
        for user in self._users():
            if user.get("active") is not False and _emails_of(user) & wanted:
                return True
        return False

    def _users(self) -> list[dict[str, Any]]:
        return [
            r.model_dump(mode="json", by_alias=True, exclude_none=True)
            for r in self.app.memory.resources
            if type(r).__name__.split("[")[0] == "User"
        ]

    def _resolvable(self, body: Any) -> Any:
        """The body with every member whose value is no user dropped, as WorkOS does."""
        known = {u.get("id") for u in self._users()} | {
            r.id for r in self.app.memory.resources if type(r).__name__ == "Group"
        }

        def keep(members: Any) -> Any:
            if not isinstance(members, list):
                return members
            return [m for m in members if not isinstance(m, dict) or _low(m).get("value") in known]

        low = {str(k).lower(): k for k in body} if isinstance(body, dict) else {}
        if "members" in low:
            body[low["members"]] = keep(body[low["members"]])
        for op in body.get(low.get("operations", ""), []) if low else []:
            o = _low(op)
            if isinstance(op, dict) and str(o.get("path", "")).lower() == "members":
                key = next(k for k in op if k.lower() == "value")
                op[key] = keep(op[key])
        return body

    def _tombstone(self, request: ScimRequest, base: Serve) -> ScimResponse:
        """DELETE as WorkOS does it: 204, the resource stays readable with active false."""
        ops = [{"op": "replace", "path": "active", "value": False}]
        patch = _request(request, "PATCH", {"schemas": [PATCH_OP], "Operations": ops})
        answer = base(patch)
        if answer.status >= 300:
            return answer
        return ScimResponse(HTTPStatus.NO_CONTENT)

    def _member_values(self, group_id: str) -> list[str] | None:
        group = self._group(group_id)
        return None if group is None else [str(m.value) for m in group.members or []]

    def _group(self, group_id: str) -> Any:
        found = [r for r in self.app.memory.resources if r.id == group_id]
        return found[0] if found and type(found[0]).__name__ == "Group" else None

    def _append_again(self, group_id: str, before: list[str], body: Any) -> None:
        """Append again the members a PATCH ``add`` named that were already listed."""
        again = []
        for op in _low(body).get("operations") or []:
            o = _low(op)
            if (
                str(o.get("op", "")).lower() == "add"
                and str(o.get("path", "")).lower() == "members"
            ):
                again += [_low(m).get("value") for m in o.get("value") or []]
        group = self._group(group_id)
        doubles = [m for m in group.members or [] if m.value in before and m.value in again]
        if group is not None and doubles:
            group.members = [*group.members, *(m.model_copy() for m in doubles)]
            self.app.storage.update(self.app.group_type, group)

    def _reread(self, request: ScimRequest, base: Serve) -> ScimResponse:
        answer = base(_request(request, "GET", None))
        return ScimResponse(HTTPStatus.OK, answer.body) if answer.status == 200 else answer

    def _shaped(
        self, request: ScimRequest, kind: str, method: str, body: Any, response: ScimResponse
    ) -> ScimResponse:
        style = self.app.settings.errors
        if style == "atlassian" and response.status == 401:
            where = request.path.strip("/")
            return ScimResponse(
                HTTPStatus.UNAUTHORIZED,
                {
                    "error": f"Not authorized to access : scim/directory/sandbox/{where}",
                    "traceId": secrets.token_hex(8),
                },
                {"Content-Type": "application/json"},
            )
        if response.status == 409 and kind == "users" and method in ("POST", "PUT"):
            email = sorted(_emails_of(body)) or ["?"]
            if style == "atlassian":
                return error(409, f"A user with email {email[0]} already exists", "uniqueness")
            if style == "workos":
                return error(409, "Another user already exists with this username", "uniqueness")
        return response


def _request(request: ScimRequest, method: str, body: Any) -> ScimRequest:
    return ScimRequest(
        method=method,
        base_url=request.base_url,
        path=request.path,
        query={},
        headers={**dict(request.headers), "Content-Type": "application/scim+json"},
        body=b"" if body is None else json.dumps(body).encode(),
    )


def _empty_list() -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
        "totalResults": 0,
        "startIndex": 1,
        "itemsPerPage": 0,
        "Resources": [],
    }
