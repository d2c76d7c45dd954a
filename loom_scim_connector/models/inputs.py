"""Action inputs, validated strictly before any request is sent.

Unknown fields are refused (a typo such as ``fistName`` must not be silently dropped),
strings are stripped, and every field says what is wrong with it.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

from loom_scim_connector._constants import CONTROL_CHARS, LINE_SEPARATORS

Role = Literal["default", "creator", "viewer", "admin"]
ROLES: tuple[Role, ...] = ("default", "creator", "viewer", "admin")

# Deliberately plain: one @, no spaces, quotes, backslashes or control characters, and
# a dotted domain. Loom requires userName to be the SSO email, so anything odder is a typo.
_EMAIL = re.compile(
    r"^[^@\s\"\\<>(),;:]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$"
)


# Unicode category Cc (C0 controls, DEL, C1 controls: NUL, BEL, ESC, tab, newline...) and
# the line and paragraph separators: never part of a name, an id, an email or a URL, and
# they would break the one-line outputs and logs downstream.
_CONTROL = re.compile(f"[{CONTROL_CHARS}{LINE_SEPARATORS}]")


def _no_surrogates(value: object) -> object:
    """Runs before the string check: JSON can carry a lone surrogate (``"\\ud800"``),
    which is not text, and pydantic's own message for it says nothing useful."""
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(
                "must not contain invalid Unicode (a lone surrogate such as \\ud800)"
            ) from None
    return value


def _no_control(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _email(value: str) -> str:
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("must be an email address such as jane@example.com")
    return value


def _photo_url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. unbalanced [IPv6] brackets; its message may quote the URL
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an absolute http(s) URL that Atlassian can reach")
    return value


def _unique(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ValueError("must not repeat an id")
    return values


# Each string type: lone surrogates refused first (a BeforeValidator listed last runs
# first), then stripped and length-checked, then control characters refused.
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(_no_control),
    AfterValidator(_email),
    BeforeValidator(_no_surrogates),
]
ResourceId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=256),
    AfterValidator(_no_control),
    BeforeValidator(_no_surrogates),
]
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=256),
    AfterValidator(_no_control),
    BeforeValidator(_no_surrogates),
]
PhotoUrl = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(_no_control),
    AfterValidator(_photo_url),
    BeforeValidator(_no_surrogates),
]
MemberIds = Annotated[
    list[ResourceId], Field(min_length=1, max_length=1000), AfterValidator(_unique)
]


class StrictInput(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        strict=True,
    )


class UserIdInput(StrictInput):
    """Names one user by its SCIM id (not its externalId)."""

    id: ResourceId


class FindUserInput(StrictInput):
    email: Email


class CreateUserInput(StrictInput):
    """``reactivate``: when the user exists but is deactivated (offboarded), restore their
    access. Without it such a user is left untouched (outcome ``exists_deactivated``)."""

    email: Email
    first_name: Text | None = None
    last_name: Text | None = None
    role: Role | None = None
    external_id: Text | None = None
    employee_number: Text | None = None
    photo_url: PhotoUrl | None = None
    reactivate: bool = False


class UpdateUserInput(StrictInput):
    """Changes only the fields given; at least one is needed."""

    id: ResourceId
    email: Email | None = None
    first_name: Text | None = None
    last_name: Text | None = None
    external_id: Text | None = None
    employee_number: Text | None = None
    photo_url: PhotoUrl | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if all(getattr(self, name) is None for name in type(self).model_fields if name != "id"):
            raise ValueError(
                "give at least one of email, firstName, lastName, externalId, "
                "employeeNumber, photoUrl"
            )
        return self


class SetUserRoleInput(StrictInput):
    id: ResourceId
    role: Role


class CreateGroupInput(StrictInput):
    display_name: Text
    external_id: Text | None = None
    member_ids: Annotated[list[ResourceId], AfterValidator(_unique)] = []


class GroupIdInput(StrictInput):
    id: ResourceId


class RenameGroupInput(StrictInput):
    id: ResourceId
    display_name: Text


class GroupMembersInput(StrictInput):
    id: ResourceId
    member_ids: MemberIds
