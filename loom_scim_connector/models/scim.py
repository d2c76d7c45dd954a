"""SCIM wire models, read leniently.

Real SCIM servers differ from RFC 7643 in small ways, so reading never insists:
attribute names in any case, unknown attributes ignored, ``active`` as a boolean or a
string, ``loomMemberRole`` at the top level or inside an extension, the email from
``emails[primary]``, else the first email, else ``userName``. Where each field lives is
declared once, on the record model (:mod:`.fieldmap`); reading is one pass over the dict
``json.loads`` produced, then one flat pydantic validation of the record; a record in
a common shape (canonical, or as Atlassian and WorkOS send users) skips the Python pass
(:mod:`.fastread`: the same record, in one pydantic-core call; see
``benchmarks/bench_models.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .fastread import fast_reader
from .fieldmap import (
    CORE_GROUP,
    CORE_USER,
    ENTERPRISE_USER,
    UnreadableValue,
    marks,
    reader,
    wire_id,
)
from .records import Group, User
from .scim_errors import (
    ErrorBody,
    int_or_none,
    is_scim_error,
    lower_keys,
    one_line,
    parse_error_body,
)

R = TypeVar("R", bound=BaseModel)

__all__ = [
    "CORE_GROUP",
    "CORE_USER",
    "ENTERPRISE_USER",
    "PATCH_OP",
    "Capabilities",
    "ErrorBody",
    "ListPage",
    "UnreadableRecord",
    "WireFormatError",
    "group_from_scim",
    "is_scim_error",
    "one_line",
    "parse_error_body",
    "parse_list_response",
    "parse_service_provider_config",
    "user_from_scim",
]

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

_read_user = reader(User)
_read_group = reader(Group)
_fast_user = fast_reader(User)
# Each field's SCIM attribute, to name it when a record cannot be read.
_PATHS: dict[type[BaseModel], dict[str, str]] = {
    model: {
        name: mark.path + (f" (or {mark.fallback})" if mark.fallback else "")
        for name, mark in marks(model).items()
    }
    for model in (User, Group)
}


class WireFormatError(ValueError):
    """A body is not the SCIM document it should be."""


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


class UnreadableRecord(ValueError):
    """A resource the server sent that cannot be read as a record, and why.

    ``record_id`` is its id when that id is usable (non-empty text that can be stored),
    else ``None``: an id that is missing, empty, not text or invalid Unicode names no
    record. The host quarantines it: skipped, reported, never a reason to delete."""

    def __init__(self, record_id: str | None, reason: str) -> None:
        self.record_id = record_id
        self.reason = reason
        super().__init__(f"{record_id if record_id is not None else '(no usable id)'}: {reason}")

    def __reduce__(self) -> Any:
        return (type(self), (self.record_id, self.reason))


def user_from_scim(raw: Mapping[str, Any]) -> User:
    """A SCIM user as a record (:class:`UnreadableRecord` when it is not one)."""
    if _fast_user is not None:
        try:
            record = _fast_user(raw)
        except ValidationError:  # not a value the fast reader takes: read it leniently
            record = None
        if record is not None:
            return record
    return _record(User, _read_user, raw)


def group_from_scim(raw: Mapping[str, Any]) -> Group:
    """A SCIM group as a record (:class:`UnreadableRecord` when it is not one)."""
    return _record(Group, _read_group, raw)


def _record(model: type[R], read: Callable[[Mapping[str, Any]], dict[str, Any]], raw: Any) -> R:
    try:
        record = model.model_validate(read(raw))
    except UnreadableValue as exc:
        raise UnreadableRecord(wire_id(raw), f"{exc.path} {exc.reason}") from None
    except ValidationError as exc:
        raise UnreadableRecord(wire_id(raw), _why(model, exc)) from None
    rid = getattr(record, "id", None)
    if not rid:
        raise UnreadableRecord(None, "its id is empty")
    if "\0" in rid:  # still its id: the record counts as seen, kept as stored
        raise UnreadableRecord(rid, "id holds a NUL character, which not every store can keep")
    return record


_WHY = {
    "missing": "is missing",
    "string_type": "is missing or not text",
    "bool_type": "is not true or false",
    "bool_parsing": "is not true or false",
    "list_type": "is not a list",
}


def _why(model: type[BaseModel], exc: ValidationError) -> str:
    """The first problem, named by its SCIM attribute: ``emails is missing or not text``."""
    errors = exc.errors(include_input=False)
    error = errors[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    path = _PATHS[model].get(field, field or "(record)")
    kind = error["type"]
    why = _WHY.get(kind) or (
        "is not a date and time" if kind.startswith(("datetime", "date")) else "is not valid"
    )
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{path} {why}{more}"


@dataclass(frozen=True)
class ListPage:
    """One page of a SCIM ListResponse: the raw resources and what the server claims."""

    resources: list[dict[str, Any]]
    total_results: int | None
    start_index: int | None = None


def parse_list_response(body: Any) -> ListPage:
    """Read a ListResponse leniently: ``Resources`` may be missing, totals missing or strings."""
    if not isinstance(body, Mapping):
        raise WireFormatError("a list response must be a JSON object")
    low = lower_keys(body)
    resources = low.get("resources")
    if resources is None:
        resources = []
    if not isinstance(resources, list) or not all(isinstance(r, Mapping) for r in resources):
        raise WireFormatError("'Resources' must be a list of objects")
    return ListPage(
        # a plain dict (what the parser gives) is handed on as is, not copied
        resources=[r if type(r) is dict else dict(r) for r in resources],
        total_results=int_or_none(low.get("totalresults")),
        start_index=int_or_none(low.get("startindex")),
    )


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
    low = lower_keys(body) if isinstance(body, Mapping) else {}

    def flag(name: str) -> bool | None:
        section = lower_keys(low.get(name) or {})
        value = section.get("supported")
        if isinstance(value, bool):
            return value
        return _truthy(value) if isinstance(value, str) else None

    max_results = int_or_none(lower_keys(low.get("filter") or {}).get("maxresults"))
    return Capabilities(
        patch=flag("patch"),
        filter=flag("filter"),
        max_results=max_results if max_results and max_results > 0 else None,
        bulk=flag("bulk"),
    )
