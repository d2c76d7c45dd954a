"""Politeness per workspace across workers: at most K requests in flight per connection
(a lease-based semaphore in a real Redis), and a 429 with Retry-After pauses the whole
workspace, against the loopback sandbox."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from loom_scim_connector.sandbox import Sandbox

from .redis_server import redis_url, require_celery

require_celery()

import redis  # noqa: E402

from loom_scim_connector.fleet.politeness import (  # noqa: E402
    PoliteTransport,
    inflight_key,
    pause_key,
)


class Counting(httpx.AsyncBaseTransport):
    """The real transport, counting requests in flight (shared by all 'workers')."""

    def __init__(self, tally: dict[str, float]) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.tally = tally

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.tally["now"] += 1
        self.tally["max"] = max(self.tally["max"], self.tally["now"])
        self.tally.setdefault("first", time.monotonic())
        try:
            return await self.inner.handle_async_request(request)
        finally:
            self.tally["now"] -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(seed_users=3) as sb:
        yield sb


@pytest.fixture
def cid() -> Iterator[str]:
    url = redis_url()
    mine = f"test-{uuid.uuid4().hex[:12]}"
    yield mine
    client = redis.Redis.from_url(url)
    client.delete(pause_key(mine), inflight_key(mine))
    client.close()


def clients(sandbox: Sandbox, cid: str, tally: dict[str, float], n: int) -> list[httpx.AsyncClient]:
    return [
        httpx.AsyncClient(
            transport=PoliteTransport(redis_url(), cid, limit=2, inner=Counting(tally)),
            headers={"Authorization": f"Bearer {sandbox.token}"},
        )
        for _ in range(n)
    ]


async def test_at_most_k_in_flight_across_workers(sandbox: Sandbox, cid: str) -> None:
    sandbox.settings.latency = 0.05
    tally = {"now": 0.0, "max": 0.0}
    workers = clients(sandbox, cid, tally, 3)  # three workers, one workspace
    try:
        replies = await asyncio.gather(
            *(w.get(sandbox.url + "/Users") for w in workers for _ in range(6))
        )
    finally:
        for w in workers:
            await w.aclose()
    assert [r.status_code for r in replies] == [200] * 18
    assert tally["max"] == 2
    client = redis.Redis.from_url(redis_url())
    assert client.zcard(inflight_key(cid)) == 0  # every slot given back
    client.close()


async def test_a_429_pauses_the_whole_workspace(sandbox: Sandbox, cid: str) -> None:
    sandbox.settings.fail_next = [429]
    sandbox.settings.retry_after_seconds = 1
    tally = {"now": 0.0, "max": 0.0}
    first, other = clients(sandbox, cid, tally, 2)
    try:
        refused = await first.get(sandbox.url + "/Users")
        assert refused.status_code == 429
        started = time.monotonic()
        # Another worker's request for the same workspace waits out the Retry-After.
        assert (await other.get(sandbox.url + "/Users")).status_code == 200
        assert time.monotonic() - started >= 0.8
    finally:
        await first.aclose()
        await other.aclose()


class Held(httpx.AsyncBaseTransport):
    """Answers only when released: a request as long as the test wants."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await self.release.wait()
        return httpx.Response(200, json={})


async def _until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 20
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.02)


async def test_a_long_request_keeps_its_slot_and_a_dead_workers_slot_lapses(cid: str) -> None:
    client = redis.Redis.from_url(redis_url())
    held = Held()
    slow = PoliteTransport(redis_url(), cid, limit=1, inner=held, lease=0.3)
    try:
        request = asyncio.create_task(slow.handle_async_request(httpx.Request("GET", "http://x/")))
        await _until(lambda: client.zcard(inflight_key(cid)) == 1, "the slot was never taken")
        slots: Any = client.zrange(inflight_key(cid), 0, -1, withscores=True)
        ((token, first),) = slots
        # Renewed while the request is out: the score moves on, well past one lease.
        await _until(lambda: (client.zscore(inflight_key(cid), token) or 0) > first + 600, "")
        held.release.set()
        assert (await request).status_code == 200
        assert client.zcard(inflight_key(cid)) == 0

        # A slot whose holder died (never renewed, never given back) lapses in its lease.
        seconds, micros = _server_time(client)
        dead_until = seconds * 1000 + micros // 1000 + 300
        client.zadd(inflight_key(cid), {"dead-worker": dead_until})
        answered = await slow.handle_async_request(httpx.Request("GET", "http://x/"))
        assert answered.status_code == 200
        seconds, micros = _server_time(client)
        assert seconds * 1000 + micros // 1000 >= dead_until  # it waited for the lapse
    finally:
        await slow.aclose()
        client.close()


def _server_time(client: Any) -> tuple[int, int]:
    seconds, micros = client.time()
    return int(seconds), int(micros)


async def test_a_request_keeps_its_slot_while_its_event_loop_is_blocked(cid: str) -> None:
    """The slot was renewed by a task on the request's own event loop, which the store's
    calls block: blocked past its lease, the slot lapsed while the request was still out,
    and another worker could send one more request than the limit allows."""
    client = redis.Redis.from_url(redis_url())
    held = Held()
    slow = PoliteTransport(redis_url(), cid, limit=1, inner=held, lease=0.3)
    try:
        request = asyncio.create_task(slow.handle_async_request(httpx.Request("GET", "http://x/")))
        await _until(lambda: client.zcard(inflight_key(cid)) == 1, "the slot was never taken")
        slots: Any = client.zrange(inflight_key(cid), 0, -1, withscores=True)
        ((token, _),) = slots
        time.sleep(1.0)  # noqa: ASYNC251 (the point: a blocking call stalls this loop)
        seconds, micros = _server_time(client)
        now = seconds * 1000 + micros // 1000
        # Still held, its lease in the future: renewed while the loop could not run.
        assert (client.zscore(inflight_key(cid), token) or 0) > now
        held.release.set()
        assert (await request).status_code == 200
        assert client.zcard(inflight_key(cid)) == 0
    finally:
        await slow.aclose()
        client.close()
