"""Fair to small workspaces: at most ``LOOM_SCIM_FLEET_MAX_LARGE_SYNCS`` (2) syncs of
large workspaces run at once, fleet-wide.

A sync holds a worker's pool process for as long as it runs, and one of a large
workspace (tens of thousands of members) runs for minutes where a small one takes a
second. Queued together, enough large syncs would take every process while the small
ones waited behind them. So a workspace is **large** when its store holds at least
``LOOM_SCIM_FLEET_LARGE_MEMBERS`` (5,000) live records of the sync's model (counted from
its last sync: a first sync, of a size not yet known, counts as small), and a large
sync first takes one of the slots of ``loom_scim:large-syncs:<queue>`` in Redis (the lease-based
semaphore of :mod:`.leases`, renewed while it runs by the worker's lease-keeping thread,
not the sync's event loop, so a killed worker's slot comes back within its lease and a
live one's never lapses while the store blocks the loop). With none free it
does not start: :class:`LargeSyncsBusy` is retried after the busy countdown, and the
process goes to the next message, most likely a small one. ``make fleet-load`` measures
it (small workspaces' wait with and without the large ones).

Why not a queue per size: each queue would need workers of its own (a worker consuming
both gives no bound), which an operator must size by hand; and why not priorities:
Redis's transport has none worth the name, and a priority orders what starts, not how
many large syncs hold processes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable
from typing import TypeVar

import redis.asyncio as aioredis

from loom_scim_connector.errors import LoomScimError

from . import settings
from .leases import ACQUIRE, SLOT_LEASE, keeper

T = TypeVar("T")


def large_key(queue: str | None = None) -> str:
    """The slots' key: one set per fleet (per queue), so fleets sharing a Redis do not
    share their slots."""
    return f"loom_scim:large-syncs:{queue or settings.queue()}"


class LargeSyncsBusy(LoomScimError):
    """Every slot for large syncs is taken: retried later, not a failure."""

    def __init__(self, connection_id: str, members: int, limit: int) -> None:
        self.connection_id, self.members, self.limit = connection_id, members, limit
        super().__init__(
            f"{connection_id}: {members} members, a large workspace, and {limit} large "
            "syncs are running already"
        )

    def __reduce__(self) -> tuple[type[LargeSyncsBusy], tuple[str, int, int]]:
        return (type(self), (self.connection_id, self.members, self.limit))


async def run_fairly(
    work: Awaitable[T],
    connection_id: str,
    members: int,
    *,
    redis_url: str | None = None,
    key: str | None = None,
    lease: float = SLOT_LEASE,
) -> T:
    """Await ``work`` (a sync of a workspace with ``members`` live records), first taking
    a slot for large syncs if it is large; raises :class:`LargeSyncsBusy` (``work`` not
    started: closed) when none is free."""
    limit, key = settings.max_large_syncs(), key or large_key()
    if members < settings.large_members():
        return await work
    client = aioredis.Redis.from_url(redis_url or settings.redis_url())
    token, lease_ms = f"{connection_id}:{secrets.token_hex(6)}", int(lease * 1000)
    try:
        acquire = client.register_script(ACQUIRE)
        if not await acquire(keys=[key], args=[limit, lease_ms, token]):
            if asyncio.iscoroutine(work):
                work.close()
            raise LargeSyncsBusy(connection_id, members, limit)
        keep = keeper(redis_url or settings.redis_url())
        held = keep.hold(key, token, lease_ms)
        try:
            return await work
        finally:
            keep.release(held)
            with contextlib.suppress(aioredis.RedisError):
                await client.zrem(key, token)
    finally:
        await client.aclose()
