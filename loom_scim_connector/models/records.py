"""Nango-style output records: flat, camelCase in JSON, the same for any SCIM server."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from .fieldmap import ENTERPRISE_USER, Scim


class Record(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="forbid"
    )


# Each field's Scim mark says where it lives in SCIM, for reading (syncs, read-backs) and
# writing (actions) alike: see fieldmap.
class User(Record):
    """A Loom member as SCIM sees it.

    ``externalId`` is ``None`` for accounts the identity provider did not create, such
    as members who joined by domain capture: the usual orphaned accounts.
    ``active`` is ``None`` when the server did not say.
    """

    id: Annotated[str, Scim("id", writable=False)]
    email: Annotated[str, Scim("emails", primary="work", fallback="userName")]
    first_name: Annotated[str | None, Scim("name.givenName")] = None
    last_name: Annotated[str | None, Scim("name.familyName")] = None
    active: Annotated[bool | None, Scim("active")] = None
    role: Annotated[str | None, Scim("loomMemberRole", anywhere=True)] = None
    external_id: Annotated[str | None, Scim("externalId")] = None
    employee_number: Annotated[str | None, Scim(f"{ENTERPRISE_USER}:employeeNumber")] = None
    photo_url: Annotated[str | None, Scim("photos", primary="photo")] = None
    created_at: Annotated[datetime | None, Scim("meta.created", writable=False)] = None
    updated_at: Annotated[datetime | None, Scim("meta.lastModified", writable=False)] = None


class Group(Record):
    """A SCIM group (in Loom, usually one per role: Loom Creators, Viewers, Admins)."""

    id: Annotated[str, Scim("id", writable=False)]
    display_name: Annotated[str, Scim("displayName")]
    external_id: Annotated[str | None, Scim("externalId")] = None
    member_ids: Annotated[list[str], Scim("members", values=True)] = []
