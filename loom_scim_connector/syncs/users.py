from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loom_scim_connector.contract import RunContext, SyncContext
from loom_scim_connector.models.records import User
from loom_scim_connector.models.scim import ScimUser

from ._run import full_sync


def _convert(raw: Mapping[str, Any]) -> User:
    return ScimUser.from_scim(raw).to_record()


async def sync_users(ctx: SyncContext) -> None:
    """Every Loom member, including those who joined by domain capture (no externalId)."""
    await full_sync(ctx, "Users", _convert)


async def fetch_user(ctx: RunContext, user_id: str) -> User | None:
    """The user as the server has it now; ``None`` only on the server's own 404."""
    raw = await ctx.client.get_or_none("Users", user_id)
    return None if raw is None else _convert(raw)
