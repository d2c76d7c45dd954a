from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loom_scim_connector.contract import SyncContext
from loom_scim_connector.models.records import User
from loom_scim_connector.models.scim import ScimUser

from ._run import full_sync


def _convert(raw: Mapping[str, Any]) -> User:
    return ScimUser.from_scim(raw).to_record()


async def sync_users(ctx: SyncContext) -> None:
    """Every Loom member, including those who joined by domain capture (no externalId)."""
    await full_sync(ctx, "Users", "User", _convert)
