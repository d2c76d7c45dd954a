"""Politeness per workspace, across every worker: a lease-based semaphore in Redis.

Why a semaphore and not a queue per connection: a queue per connection needs a
worker (or a consumer slot) per queue, which does not scale to thousands of
workspaces, and it bounds *tasks*, not requests (one sync may walk pages
concurrently). The semaphore bounds what a workspace sees, requests in flight,
whichever worker and task send them.

:class:`PoliteTransport` wraps the client's httpx transport. Before each request it

1. waits while the workspace is **paused**: a 429 with ``Retry-After`` (seconds or an
   HTTP date) sets a Redis key ``loom_scim:pause:<connection>`` that expires when the
   server said, so every request of that workspace, from every worker, waits, not just
   the one that was refused (the client's own retry still handles that one);
2. takes one of ``limit`` slots in ``loom_scim:inflight:<connection>``, a sorted set of
   lease tokens scored by their expiry (Redis server time, so worker clocks do not
   matter). A slot is given back when the response arrives; one whose worker died is
   reclaimed when its lease (longer than any request's timeout) runs out. The lease is
   renewed by the worker's lease-keeping thread (:mod:`.leases`), never by this event
   loop, which the store's calls block.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import ssl
from datetime import UTC, datetime

import httpx
import redis.asyncio as aioredis

from loom_scim_connector._timeouts import sent_now, waiting_for_turn
from loom_scim_connector.retry import server_wait

from .leases import ACQUIRE, SLOT_LEASE, keeper

DEFAULT_LIMIT = 4
# A Retry-After beyond this is capped: the client's retry gives up long before.
MAX_PAUSE = 300.0


@functools.cache
def _tls() -> ssl.SSLContext:
    """httpx's default TLS context, made once per process: loading the CA bundle costs
    about 0.1 s of CPU, which every task paid again (most of a small sync's CPU)."""
    return httpx.create_ssl_context()


def pause_key(connection_id: str) -> str:
    return f"loom_scim:pause:{connection_id}"


def inflight_key(connection_id: str) -> str:
    return f"loom_scim:inflight:{connection_id}"


class PoliteTransport(httpx.AsyncBaseTransport):
    """At most ``limit`` requests in flight per connection, fleet-wide; a 429 pauses
    the whole workspace."""

    def __init__(
        self,
        redis_url: str,
        connection_id: str,
        *,
        limit: int = DEFAULT_LIMIT,
        inner: httpx.AsyncBaseTransport | None = None,
        lease: float = SLOT_LEASE,
        poll: float = 0.02,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.redis = aioredis.Redis.from_url(redis_url)
        self.connection_id = connection_id
        self.limit = limit
        self.inner = inner or httpx.AsyncHTTPTransport(verify=_tls())
        self.lease_ms = int(lease * 1000)
        self.poll = poll
        self._acquire = self.redis.register_script(ACQUIRE)
        self._keeper = keeper(redis_url)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # The request's deadline counts from sent_now(), below; its turn comes within a
        # pause at most, or it fails (no verdict is put off for ever).
        waiting_for_turn(MAX_PAUSE)
        await self._wait_while_paused()
        token = secrets.token_hex(8)
        slots = [inflight_key(self.connection_id)]
        while True:
            if await self._acquire(keys=slots, args=[self.limit, self.lease_ms, token]):
                break
            await asyncio.sleep(self.poll)
        lease = self._keeper.hold(slots[0], token, self.lease_ms)
        sent_now()  # the waits for the workspace's turn are not the server's slowness
        try:
            response = await self.inner.handle_async_request(request)
        finally:
            self._keeper.release(lease)
            await self.redis.zrem(inflight_key(self.connection_id), token)
        if response.status_code == 429:
            wait = server_wait(response.headers, datetime.now(UTC))
            if wait is not None and wait > 0:
                await self.redis.set(
                    pause_key(self.connection_id), "1", px=int(min(wait, MAX_PAUSE) * 1000)
                )
        return response

    async def _wait_while_paused(self) -> None:
        while True:
            left = await self.redis.pttl(pause_key(self.connection_id))
            if left is None or left <= 0:
                return
            await asyncio.sleep(min(left / 1000, 1.0))

    async def aclose(self) -> None:
        await self.inner.aclose()
        await self.redis.aclose()
