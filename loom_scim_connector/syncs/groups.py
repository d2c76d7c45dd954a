from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loom_scim_connector.contract import RunContext, SyncContext
from loom_scim_connector.models.records import Group
from loom_scim_connector.models.scim import ScimGroup

from ._run import full_sync


def _convert(raw: Mapping[str, Any]) -> Group:
    return ScimGroup.from_scim(raw).to_record()


async def sync_groups(ctx: SyncContext) -> None:
    """Every SCIM group with its member ids."""
    await full_sync(ctx, "Groups", _convert)


async def fetch_group(ctx: RunContext, group_id: str) -> Group | None:
    """The group as the server has it now; ``None`` only on the server's own 404."""
    raw = await ctx.client.get_or_none("Groups", group_id)
    return None if raw is None else _convert(raw)
