from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loom_scim_connector.contract import SyncContext
from loom_scim_connector.models.records import Group
from loom_scim_connector.models.scim import ScimGroup

from ._run import full_sync


def _convert(raw: Mapping[str, Any]) -> Group:
    return ScimGroup.from_scim(raw).to_record()


async def sync_groups(ctx: SyncContext) -> None:
    """Every SCIM group with its member ids."""
    await full_sync(ctx, "Groups", "Group", _convert)
