"""Where a server keeps ``loomMemberRole``: at the top level, or in an extension.

WorkOS maps custom attributes by the identity provider's configuration, so Loom's role
may sit at the top level, in the enterprise extension or under a custom schema URN. A
role written anywhere else is kept by some servers, read back, and ignored by Loom. So
the actions write (and verify) it where the server says it keeps it: an extension that
``/Schemas`` declares it in, else the core User schema that declares it; else where the
user's record carries it. When none of these tells, the actions say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.errors import ActionError, ApiError, ProtocolError
from loom_scim_connector.models.fieldmap import CORE_USER, marks
from loom_scim_connector.models.records import User

ROLE = marks(User)["role"].path  # loomMemberRole
CANNOT_TELL_FIX = (
    "Set the role in Loom's member settings, or map loomMemberRole in the identity "
    "provider's SCIM attribute mapping so that the server's /Schemas or its users show it."
)


@dataclass(frozen=True)
class RoleLocation:
    """``schema``: the schema that holds the role (``CORE_USER``: the top level);
    ``source``: how it was learned, for messages."""

    schema: str
    source: str

    @property
    def path(self) -> str:
        """The RFC 7644 PATCH path of the role."""
        return ROLE if self.schema == CORE_USER else f"{self.schema}:{ROLE}"

    def read(self, raw: dict[str, Any]) -> Any:
        """The role where this location says it is, in a user's JSON."""
        data = _lower(raw)
        if self.schema != CORE_USER:
            data = _lower(data.get(self.schema.lower()))
        return data.get(ROLE.lower())


TOP_LEVEL = RoleLocation(CORE_USER, "Loom's documented attribute")


def role_op(where: RoleLocation, role: str) -> dict[str, Any]:
    """The PATCH operation that sets the role there."""
    return {"op": "replace", "path": where.path, "value": role}


def put_role(body: dict[str, Any], where: RoleLocation, role: str) -> None:
    """Set the role in a POST body, there."""
    if where.schema == CORE_USER:
        body[ROLE] = role
        return
    body.setdefault(where.schema, {})[ROLE] = role
    if where.schema not in body.setdefault("schemas", [CORE_USER]):
        body["schemas"].append(where.schema)


def _lower(raw: Any) -> dict[str, Any]:
    return {str(k).lower(): v for k, v in raw.items()} if isinstance(raw, dict) else {}


def _declaring(schemas: Any) -> list[str]:
    """The ids of the schemas (a ``/Schemas`` list response) that declare the role."""
    resources = _lower(schemas).get("resources")
    found = []
    for schema in resources if isinstance(resources, list) else []:
        attributes = _lower(schema).get("attributes")
        names = {
            str(_lower(a).get("name", "")).lower()
            for a in (attributes if isinstance(attributes, list) else [])
        }
        if ROLE.lower() in names and isinstance(_lower(schema).get("id"), str):
            found.append(_lower(schema)["id"])
    return found


async def from_schemas(client: LoomScimClient) -> RoleLocation | None:
    """Where ``/Schemas`` declares the role: an extension first (a server that maps it
    there acts on that one), else the core User schema; ``None`` when it does not say
    (or the server has no readable ``/Schemas``)."""
    try:
        answer = await client.request("GET", "/Schemas")
    except (ApiError, ProtocolError):
        return None
    declaring = _declaring(answer)
    extensions = [s for s in declaring if s != CORE_USER]
    if extensions:
        return RoleLocation(extensions[0], f"/Schemas declares it in {extensions[0]}")
    if CORE_USER in declaring:
        return RoleLocation(CORE_USER, "/Schemas declares it in the core User schema")
    return None


def from_record(raw: dict[str, Any]) -> RoleLocation | None:
    """Where a user's record carries the role: an extension first, else the top level."""
    data = _lower(raw)
    for key, value in data.items():
        if key.startswith("urn:") and ROLE.lower() in _lower(value):
            schema = next(k for k in raw if str(k).lower() == key)
            return RoleLocation(schema, f"the user's record carries it in {schema}")
    if ROLE.lower() in data:
        return RoleLocation(CORE_USER, "the user's record carries it at the top level")
    return None


async def locate_role(client: LoomScimClient, user_id: str) -> RoleLocation:
    """Where to write this user's role, or an :class:`ActionError` saying it cannot tell."""
    found = await from_schemas(client)
    if found is not None:
        return found
    raw = await client.get("Users", user_id)
    found = from_record(raw)
    if found is None:
        raise ActionError(
            f"cannot tell where this server keeps loomMemberRole: its /Schemas does not "
            f"declare it and user {user_id} carries none; the role was not changed.",
            fix=CANNOT_TELL_FIX,
        )
    return found
