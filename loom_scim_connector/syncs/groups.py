from __future__ import annotations

from loom_scim_connector.contract import RunContext, SyncContext
from loom_scim_connector.models.records import Group
from loom_scim_connector.models.scim import group_from_scim

from ._run import full_sync


async def sync_groups(ctx: SyncContext) -> None:
    """Every SCIM group with its member ids."""
    await full_sync(ctx, "Groups", group_from_scim)


async def fetch_group(ctx: RunContext, group_id: str) -> Group | None:
    """The group as the server has it now; ``None`` only on the server's own 404."""
    raw = await ctx.client.get_or_none("Groups", group_id)
    return None if raw is None else group_from_scim(raw)
