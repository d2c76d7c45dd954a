"""SCIM wire models, read leniently.

Real SCIM servers differ from RFC 7643 in small ways, so reading never insists:
attribute names in any case, unknown attributes ignored, ``active`` as a boolean or a
string, ``loomMemberRole`` at the top level or inside an extension, the email from
``emails[primary]``, else the first email, else ``userName``. Each ``from_scim`` does one
pass over a dict that ``json.loads`` produced, then one flat pydantic validation: the
per-record cost stays close to ``json.loads`` itself (see ``benchmarks/bench_models.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from .records import Group, User

ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_ENTERPRISE_LOWER = ENTERPRISE_USER.lower()


class WireFormatError(ValueError):
    """A body is not the SCIM document it should be."""


def _lower(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {key.lower(): value for key, value in raw.items()} if isinstance(raw, Mapping) else {}


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def _pick(items: Any) -> str | None:
    """The ``value`` of the primary item of a multi-valued attribute, else of the first."""
    if not isinstance(items, list):
        return None
    first: str | None = None
    for item in items:
        low = _lower(item)
        value = low.get("value")
        if not isinstance(value, str) or not value:
            continue
        if _truthy(low.get("primary")):
            return value
        if first is None:
            first = value
    return first


def _role(low: dict[str, Any]) -> Any:
    if "loommemberrole" in low:
        return low["loommemberrole"]
    extensions = [low.get(_ENTERPRISE_LOWER)] + [
        value for key, value in low.items() if key.startswith("urn:") and key != _ENTERPRISE_LOWER
    ]
    for extension in extensions:
        ext = _lower(extension) if isinstance(extension, Mapping) else {}
        if "loommemberrole" in ext:
            return ext["loommemberrole"]
    return None


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class ScimUser(_Wire):
    id: str
    user_name: str
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    active: bool | None = None
    external_id: str | None = None
    role: str | None = None
    employee_number: str | None = None
    photo_url: str | None = None
    created: datetime | None = None
    last_modified: datetime | None = None

    @classmethod
    def from_scim(cls, raw: Mapping[str, Any]) -> ScimUser:
        low = _lower(raw)
        name = _lower(low.get("name") or {})
        meta = _lower(low.get("meta") or {})
        enterprise = _lower(low.get(_ENTERPRISE_LOWER) or {})
        user_name = low.get("username")
        return cls.model_validate(
            {
                "id": low.get("id"),
                "user_name": user_name,
                "given_name": name.get("givenname"),
                "family_name": name.get("familyname"),
                "email": _pick(low.get("emails")) or user_name,
                "active": low.get("active"),
                "external_id": low.get("externalid"),
                "role": _role(low),
                "employee_number": enterprise.get("employeenumber"),
                "photo_url": _pick(low.get("photos")),
                "created": meta.get("created"),
                "last_modified": meta.get("lastmodified"),
            }
        )

    def to_record(self) -> User:
        # model_validate of already-typed values costs about half of model_construct
        # (pydantic-core does it in Rust; model_construct loops in Python).
        return User.model_validate(
            {
                "id": self.id,
                "email": self.email or self.user_name,
                "first_name": self.given_name,
                "last_name": self.family_name,
                "active": self.active,
                "role": self.role,
                "external_id": self.external_id,
                "employee_number": self.employee_number,
                "photo_url": self.photo_url,
                "created_at": self.created,
                "updated_at": self.last_modified,
            }
        )


class ScimGroup(_Wire):
    id: str
    display_name: str
    external_id: str | None = None
    member_ids: list[str] = []

    @classmethod
    def from_scim(cls, raw: Mapping[str, Any]) -> ScimGroup:
        low = _lower(raw)
        members = low.get("members") or []
        member_ids = [
            value
            for value in (_lower(m).get("value") for m in members if isinstance(m, Mapping))
            if isinstance(value, str | int)
        ]
        return cls.model_validate(
            {
                "id": low.get("id"),
                "display_name": low.get("displayname"),
                "external_id": low.get("externalid"),
                "member_ids": [str(v) for v in member_ids],
            }
        )

    def to_record(self) -> Group:
        return Group.model_construct(
            id=self.id,
            display_name=self.display_name,
            external_id=self.external_id,
            member_ids=list(self.member_ids),
        )


@dataclass(frozen=True)
class ListPage:
    """One page of a SCIM ListResponse: the raw resources and what the server claims."""

    resources: list[dict[str, Any]]
    total_results: int | None
    start_index: int | None = None


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def parse_list_response(body: Any) -> ListPage:
    """Read a ListResponse leniently: ``Resources`` may be missing, totals missing or strings."""
    if not isinstance(body, Mapping):
        raise WireFormatError("a list response must be a JSON object")
    low = _lower(body)
    resources = low.get("resources")
    if resources is None:
        resources = []
    if not isinstance(resources, list) or not all(isinstance(r, Mapping) for r in resources):
        raise WireFormatError("'Resources' must be a list of objects")
    return ListPage(
        resources=[dict(r) for r in resources],
        total_results=_int_or_none(low.get("totalresults")),
        start_index=_int_or_none(low.get("startindex")),
    )


_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
_MAX_DETAIL = 300


@dataclass(frozen=True)
class ErrorBody:
    scim_type: str | None
    detail: str | None
    status: int | None


def parse_error_body(content: bytes, content_type: str) -> ErrorBody:
    """Read a SCIM error leniently: ``status`` as string or number, fields missing,
    or not JSON at all (an HTML page from a gateway becomes its title)."""
    text = content.decode("utf-8", errors="replace").strip()
    if not text:
        return ErrorBody(None, None, None)
    try:
        body = json.loads(text)
    except RecursionError:
        return ErrorBody(None, "an error body nested too deeply to read", None)
    except ValueError:  # not JSON, or an integer over int's digit limit
        body = None
    if isinstance(body, Mapping):
        low = _lower(body)
        detail = low.get("detail") or low.get("message") or low.get("error_description")
        scim_type = low.get("scimtype")
        return ErrorBody(
            scim_type=_shorten(str(scim_type)) if scim_type else None,
            detail=_shorten(str(detail)) if detail else None,
            status=_int_or_none(low.get("status")),
        )
    if "html" in content_type.lower() or text.startswith("<"):
        title = _TITLE.search(text)
        label = re.sub(r"\s+", " ", title.group(1)).strip() if title else ""
        return ErrorBody(None, f"an HTML page{': ' + _shorten(label) if label else ''}", None)
    return ErrorBody(None, _shorten(text), None)


# Whitespace runs and control characters (newlines, ESC...) in what a server sent: the
# detail ends up in a one-line error, so they become one space.
_NOT_ONE_LINE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]+")


def _shorten(text: str) -> str:
    text = _NOT_ONE_LINE.sub(" ", text).strip()
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


@dataclass(frozen=True)
class Capabilities:
    """What a server says of itself in ``/ServiceProviderConfig`` (RFC 7643 5): hints
    only. Servers misreport (django-scim2 says filtering is unsupported, then filters),
    so nothing is skipped on their word: not a request, never a verification."""

    patch: bool | None = None
    filter: bool | None = None
    max_results: int | None = None
    bulk: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "patch": self.patch,
            "filter": self.filter,
            "maxResults": self.max_results,
            "bulk": self.bulk,
        }


def parse_service_provider_config(body: Any) -> Capabilities:
    low = _lower(body) if isinstance(body, Mapping) else {}

    def flag(name: str) -> bool | None:
        section = _lower(low.get(name) or {})
        value = section.get("supported")
        if isinstance(value, bool):
            return value
        return _truthy(value) if isinstance(value, str) else None

    max_results = _int_or_none(_lower(low.get("filter") or {}).get("maxresults"))
    return Capabilities(
        patch=flag("patch"),
        filter=flag("filter"),
        max_results=max_results if max_results and max_results > 0 else None,
        bulk=flag("bulk"),
    )
