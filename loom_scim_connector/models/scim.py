"""SCIM wire models, read leniently.

Real SCIM servers differ from RFC 7643 in small ways, so reading never insists:
attribute names in any case, unknown attributes ignored, ``active`` as a boolean or a
string, ``loomMemberRole`` at the top level or inside an extension, the email from
``emails[primary]``, else the first email, else ``userName``. Where each field lives is
declared once, on the record model (:mod:`.fieldmap`); reading is one pass over the dict
``json.loads`` produced, then one flat pydantic validation of the record (see
``benchmarks/bench_models.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .fieldmap import CORE_GROUP, CORE_USER, ENTERPRISE_USER, reader
from .records import Group, User

__all__ = [
    "CORE_GROUP",
    "CORE_USER",
    "ENTERPRISE_USER",
    "PATCH_OP",
    "Capabilities",
    "ErrorBody",
    "ListPage",
    "WireFormatError",
    "group_from_scim",
    "is_scim_error",
    "parse_error_body",
    "parse_list_response",
    "parse_service_provider_config",
    "user_from_scim",
]

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"

_read_user = reader(User)
_read_group = reader(Group)


class WireFormatError(ValueError):
    """A body is not the SCIM document it should be."""


def _lower(raw: Mapping[str, Any]) -> dict[str, Any]:
    return {key.lower(): value for key, value in raw.items()} if isinstance(raw, Mapping) else {}


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def user_from_scim(raw: Mapping[str, Any]) -> User:
    """A SCIM user as a record (:class:`pydantic.ValidationError` when it is not one)."""
    return User.model_validate(_read_user(raw))


def group_from_scim(raw: Mapping[str, Any]) -> Group:
    """A SCIM group as a record (:class:`pydantic.ValidationError` when it is not one)."""
    return Group.model_validate(_read_group(raw))


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


def is_scim_error(content: bytes) -> bool:
    """Whether an error body is a SCIM error (RFC 7644 3.12): a JSON object whose
    ``schemas`` lists the Error URN, as WorkOS and Atlassian send (Atlassian with
    ``status`` as a string). Only such a 404 says a resource is gone: a gateway's own
    JSON (``{"message": "Not Found"}``), an RFC 9457 problem (``status`` and ``detail``,
    as web frameworks answer an unknown route), an HTML page or nothing says nothing
    about it."""
    try:
        body = json.loads(content)
    except (ValueError, RecursionError):
        return False
    schemas = _lower(body).get("schemas")
    if isinstance(schemas, str):
        schemas = [schemas]
    return isinstance(schemas, list) and any(
        isinstance(s, str) and s.strip().lower() == ERROR.lower() for s in schemas
    )


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
