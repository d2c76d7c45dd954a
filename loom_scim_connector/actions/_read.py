"""Reading resources back into records, shared by the user and group actions."""

from __future__ import annotations

from typing import Any, Literal

from loom_scim_connector.client import LoomScimClient, Resource
from loom_scim_connector.errors import NotFoundError, ProtocolError
from loom_scim_connector.models.records import Group, User
from loom_scim_connector.models.scim import UnreadableRecord, group_from_scim, user_from_scim


def user_of(raw: dict[str, Any], path: str = "/Users") -> User:
    try:
        return user_from_scim(raw)
    except UnreadableRecord as exc:
        raise ProtocolError("GET", path, detail=f"not a SCIM user: {exc.reason}") from None


def group_of(raw: dict[str, Any], path: str = "/Groups") -> Group:
    try:
        return group_from_scim(raw)
    except UnreadableRecord as exc:
        raise ProtocolError("GET", path, detail=f"not a SCIM group: {exc.reason}") from None


async def read_user(client: LoomScimClient, user_id: str) -> User:
    return user_of(await client.get("Users", user_id), client.path_of("Users", user_id))


async def read_group(client: LoomScimClient, group_id: str) -> Group:
    return group_of(await client.get("Groups", group_id), client.path_of("Groups", group_id))


async def read_or_none(
    client: LoomScimClient, resource: Resource, rid: str
) -> dict[str, Any] | None:
    return await client.get_or_none(resource, rid)


def gone_by(refused: NotFoundError) -> Literal["deleted", "already_gone"]:
    """What a write's 404 says: ``already_gone``, unless an earlier attempt of the same
    request may have landed (no answer, or a 5xx): then it is most likely that attempt's
    doing (a DELETE applied, its answer lost), and the account is ``deleted``, by this
    connector: never recorded as gone before it acted."""
    return "deleted" if refused.earlier_may_have_applied else "already_gone"
