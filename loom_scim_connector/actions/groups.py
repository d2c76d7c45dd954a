"""Group actions. Membership changes are PATCH add/remove on ``members``: never a whole
replace, which would drop members someone else added meanwhile."""

from __future__ import annotations

from typing import Any

from loom_scim_connector.contract import ActionContext
from loom_scim_connector.errors import ActionError, ApiError, NotFoundError
from loom_scim_connector.filters import quote
from loom_scim_connector.models.fieldmap import CORE_GROUP, create_body, patch_ops
from loom_scim_connector.models.inputs import (
    CreateGroupInput,
    GroupIdInput,
    GroupMembersInput,
    RenameGroupInput,
)
from loom_scim_connector.models.outputs import GroupDeletion
from loom_scim_connector.models.records import Group

from ._read import gone_by, group_of, read_group, read_or_none


def _add_members(ids: list[str]) -> dict[str, Any]:
    return {"op": "add", "path": "members", "value": [{"value": i} for i in ids]}


async def create_group(ctx: ActionContext[CreateGroupInput]) -> Group:
    """Create a group once (an existing group of that name is reused and given the members)."""
    inp = ctx.input
    values = {"display_name": inp.display_name, "member_ids": list(inp.member_ids)}
    body = create_body(Group, {**values, "external_id": inp.external_id}, schema=CORE_GROUP)
    result = await ctx.client.create("Groups", body, key=("displayName", inp.display_name))
    group = await read_group(ctx.client, group_of(result.resource).id)
    missing = [i for i in inp.member_ids if i not in group.member_ids]
    if not missing:
        return group
    if result.outcome == "created":
        ctx.logger.warning(
            "group %s was created without %d of its members: adding them", group.id, len(missing)
        )
    try:
        await ctx.client.patch("Groups", group.id, [_add_members(missing)])
        group = await read_group(ctx.client, group.id)
    except ApiError as exc:
        raise ActionError(
            f"group {inp.display_name!r} exists (id {group.id}), but adding its members "
            f"{', '.join(missing)} failed: {exc}",
            fix=f"Add them with add-group-members, or undo with delete-group {group.id}.",
        ) from None
    still = [i for i in missing if i not in group.member_ids]
    if still:
        raise ActionError(
            f"group {inp.display_name!r} exists (id {group.id}) but does not list "
            f"{', '.join(still)} after adding them.",
            fix=f"Add them with add-group-members, or undo with delete-group {group.id}.",
        )
    return group


async def rename_group(ctx: ActionContext[RenameGroupInput]) -> Group:
    inp = ctx.input
    await ctx.client.patch("Groups", inp.id, patch_ops(Group, {"display_name": inp.display_name}))
    group = await read_group(ctx.client, inp.id)
    if group.display_name != inp.display_name:
        raise ActionError(
            f"group {inp.id} reads back as {group.display_name!r}, not {inp.display_name!r}."
        )
    return group


async def add_group_members(ctx: ActionContext[GroupMembersInput]) -> Group:
    """Add only the members the group does not list yet: a server that appends on PATCH
    ``add`` (RFC 7644 says it should not) would otherwise list a member twice."""
    inp = ctx.input
    group = await read_group(ctx.client, inp.id)
    wanted = list(dict.fromkeys(inp.member_ids))
    missing = [i for i in wanted if i not in group.member_ids]
    if not missing:
        return group
    await ctx.client.patch("Groups", inp.id, [_add_members(missing)])
    group = await read_group(ctx.client, inp.id)
    still = [i for i in missing if i not in group.member_ids]
    if still:
        raise ActionError(f"group {inp.id} does not list {', '.join(still)} after adding them.")
    doubled = sorted({i for i in missing if group.member_ids.count(i) > 1})
    if doubled:
        raise ActionError(
            f"group {inp.id} lists {', '.join(doubled)} more than once after adding them.",
            fix="Remove the extra entries in the identity provider or Loom's admin pages.",
        )
    return group


async def remove_group_members(ctx: ActionContext[GroupMembersInput]) -> Group:
    """Remove only the members the group lists: a remove of one that is not there is an
    error (``noTarget``) on some servers, and there is nothing to do."""
    inp = ctx.input
    group = await read_group(ctx.client, inp.id)
    present = [i for i in dict.fromkeys(inp.member_ids) if i in group.member_ids]
    if not present:
        return group
    ops = [{"op": "remove", "path": f"members[value eq {quote(member)}]"} for member in present]
    await ctx.client.patch("Groups", inp.id, ops)
    group = await read_group(ctx.client, inp.id)
    still = [i for i in inp.member_ids if i in group.member_ids]
    if still:
        raise ActionError(f"group {inp.id} still lists {', '.join(still)} after removing them.")
    return group


async def delete_group(ctx: ActionContext[GroupIdInput]) -> GroupDeletion:
    try:
        await ctx.client.delete("Groups", ctx.input.id)
    except NotFoundError as exc:
        return GroupDeletion(id=ctx.input.id, outcome=gone_by(exc))
    if await read_or_none(ctx.client, "Groups", ctx.input.id) is not None:
        raise ActionError(f"group {ctx.input.id} still exists after DELETE.")
    return GroupDeletion(id=ctx.input.id, outcome="deleted")
