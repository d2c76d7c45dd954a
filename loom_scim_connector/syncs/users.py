from __future__ import annotations

from loom_scim_connector.contract import RunContext, SyncContext
from loom_scim_connector.models.records import User
from loom_scim_connector.models.scim import user_from_scim

from ._run import full_sync


async def sync_users(ctx: SyncContext) -> None:
    """Every Loom member, including those who joined by domain capture (no externalId)."""
    await full_sync(ctx, "Users", user_from_scim)


async def fetch_user(ctx: RunContext, user_id: str) -> User | None:
    """The user as the server has it now; ``None`` only on the server's own 404."""
    raw = await ctx.client.get_or_none("Users", user_id)
    return None if raw is None else user_from_scim(raw)
