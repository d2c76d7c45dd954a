"""The loop both syncs share: page through a resource, convert, save.

It saves under the model the host names (``ctx.model``, from the manifest) and refuses
to return normally when the walk hit its page limit, or knows it did not read the
whole list (``PageCursor.complete``, after what pagination tried), so the host never
tracks deletions from a walk that could not read everything, and a run that read
part of the list never ends in success. A record that cannot be read is quarantined
(``ctx.quarantine``): skipped and reported, its id counted as seen, never deleted for it.
Records the walk did not see are not its business: the host confirms each with the
server before anything is marked deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import aclosing
from typing import Any

from pydantic import BaseModel

from loom_scim_connector._constants import SAVE_BATCH
from loom_scim_connector.client import Resource
from loom_scim_connector.contract import SyncContext
from loom_scim_connector.errors import IncompleteWalkError
from loom_scim_connector.models.scim import UnreadableRecord
from loom_scim_connector.pagination import PageCursor


async def full_sync(
    ctx: SyncContext,
    resource: Resource,
    convert: Callable[[Mapping[str, Any]], BaseModel],
) -> None:
    cursor = PageCursor(page_size=ctx.client.page_size)
    records: list[BaseModel] = []
    # Closed on the way out, so pages fetched ahead are cancelled when a save fails.
    async with aclosing(ctx.client.iterate(resource, cursor=cursor)) as pages:
        async for page in pages:
            for raw in page:
                try:
                    records.append(convert(raw))
                except UnreadableRecord as exc:
                    ctx.quarantine(exc.record_id, exc.reason)
            ctx.logger.debug(
                "%s: page %d read, %d so far, server total %s",
                resource,
                cursor.pages,
                cursor.received,
                "unknown" if cursor.total_results is None else cursor.total_results,
            )
            if len(records) >= SAVE_BATCH:  # pages in order, several to a transaction
                await ctx.batch_save(records, ctx.model)
                records = []
    if records:
        await ctx.batch_save(records, ctx.model)
    walked = f"{cursor.pages} page{'' if cursor.pages == 1 else 's'}"
    ctx.logger.info("%s: %s, stopped on %s", resource, walked, cursor.stop_reason)
    if cursor.signals:
        ctx.logger.warning(
            "%s: the server's paging was irregular (%s); records it skipped are looked up "
            "one by one before anything is marked deleted",
            resource,
            "; ".join(cursor.signals[:3]) + ("; ..." if len(cursor.signals) > 3 else ""),
        )
    if not cursor.ended:
        raise IncompleteWalkError(
            f"the walk over {resource} stopped at {cursor.stop_reason} after "
            f"{cursor.pages} pages; records already saved are kept and nothing was deleted"
        )
    if not cursor.complete:  # it ended, and knows it did not read everything
        raise IncompleteWalkError(
            f"incomplete: {cursor.verdict(resource)}; the {cursor.received} read are saved "
            "and nothing was deleted"
        )
    await ctx.save_checkpoint({"lastCount": cursor.received, "pages": cursor.pages})
