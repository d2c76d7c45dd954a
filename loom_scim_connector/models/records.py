"""Nango-style output records: flat, camelCase in JSON, the same for any SCIM server."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class Record(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


class User(Record):
    """A Loom member as SCIM sees it.

    ``externalId`` is ``None`` for accounts the identity provider did not create, such
    as members who joined by domain capture: the usual orphaned accounts.
    ``active`` is ``None`` when the server did not say.
    """

    id: str
    email: str
    first_name: str | None = None
    last_name: str | None = None
    active: bool | None = None
    role: str | None = None
    external_id: str | None = None
    employee_number: str | None = None
    photo_url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class Group(Record):
    """A SCIM group (in Loom, usually one per role: Loom Creators, Viewers, Admins)."""

    id: str
    display_name: str
    external_id: str | None = None
    member_ids: list[str] = []
