"""Fair to small workspaces: at most N syncs of large workspaces at once, fleet-wide, on
the real Redis (slots) and, through the sync task's own code, the real PostgreSQL.
Each test uses a key (a queue name) of its own, removed afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from loom_scim_connector.sandbox import Sandbox

from .pg_server import postgres_url, require_psycopg
from .redis_server import redis_url, require_celery

require_psycopg()
require_celery()

import redis  # noqa: E402
from cryptography.fernet import Fernet  # noqa: E402

from loom_scim_connector.fleet import settings  # noqa: E402
from loom_scim_connector.fleet.connections import ENV_FERNET_KEY, Cipher, ConnectionRegistry  # noqa: E402
from loom_scim_connector.fleet.errors import ErrorLog  # noqa: E402
from loom_scim_connector.fleet.fairness import LargeSyncsBusy, large_key, run_fairly  # noqa: E402
from loom_scim_connector.fleet.work import run_sync  # noqa: E402

from .test_fleet import _cleanup  # noqa: E402


@pytest.fixture
def queue(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    name = f"loom-scim-test-fair-{uuid.uuid4().hex[:10]}"
    url = redis_url()
    monkeypatch.setenv(settings.ENV_QUEUE, name)
    monkeypatch.setenv(settings.ENV_REDIS, url)
    monkeypatch.setenv(settings.ENV_LARGE_MEMBERS, "10")
    monkeypatch.setenv(settings.ENV_MAX_LARGE, "1")
    yield name
    client = redis.Redis.from_url(url)
    client.delete(large_key(name))
    client.close()


async def _sync(
    name: str,
    started: list[str],
    release: asyncio.Event | None = None,
    running: asyncio.Event | None = None,
) -> str:
    started.append(name)
    if running is not None:
        running.set()
    if release is not None:
        await release.wait()
    return name


def test_one_large_sync_at_a_time_and_small_ones_never_wait(queue: str) -> None:
    async def scenario() -> None:
        started: list[str] = []
        release, running = asyncio.Event(), asyncio.Event()
        big = _sync("big-1", started, release, running)
        first = asyncio.create_task(run_fairly(big, "big-1", 50))
        await running.wait()
        # The slot is taken: a second large sync does not start at all...
        with pytest.raises(LargeSyncsBusy, match="1 large syncs are running already"):
            await run_fairly(_sync("big-2", started), "big-2", 50)
        # ...while a small one (under 10 members, or never synced) runs as ever.
        assert await run_fairly(_sync("small", started), "small", 9) == "small"
        release.set()
        assert await first == "big-1"
        # The slot came back when the first finished.
        assert await run_fairly(_sync("big-2", started), "big-2", 50) == "big-2"
        assert started == ["big-1", "small", "big-2"]

    asyncio.run(scenario())
    client = redis.Redis.from_url(redis_url())
    assert client.zcard(large_key(queue)) == 0  # every slot given back
    client.close()


def test_a_dead_workers_slot_lapses(queue: str) -> None:
    async def scenario() -> None:
        # A worker killed holding the slot never gives it back; its lease runs out.
        client = redis.asyncio.Redis.from_url(redis_url())
        try:
            await client.zadd(large_key(queue), {"dead:1": 0})  # a lease long expired
        finally:
            await client.aclose()
        assert await run_fairly(_sync("big", []), "big", 50, lease=1.0) == "big"

    asyncio.run(scenario())


def test_the_sync_task_of_a_large_workspace_waits_for_a_slot(
    queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg = postgres_url()
    prefix = f"test-fair-{uuid.uuid4().hex[:8]}-"
    fernet = Fernet.generate_key().decode()
    monkeypatch.setenv(ENV_FERNET_KEY, fernet)
    with Sandbox(seed_users=12, seed=5) as sandbox:
        try:
            with ConnectionRegistry(pg, Cipher(fernet)) as registry:
                registry.add(prefix + "big", sandbox.url, sandbox.token)
            # The first sync: its size unknown, it counts as small.
            assert run_sync(prefix + "big", "users", dsn=pg)["status"] == "success"
            client = redis.Redis.from_url(redis_url())
            client.zadd(large_key(queue), {"elsewhere:1": 2**50})  # another large sync
            client.close()
            served = sandbox.app.requests_served
            with pytest.raises(LargeSyncsBusy):
                run_sync(prefix + "big", "users", dsn=pg)  # 12 live now: large
            assert sandbox.app.requests_served == served  # nothing was sent
            with ErrorLog(pg) as errors:
                assert errors.last([prefix + "big"]) == {}  # not a failure
        finally:
            _cleanup(pg, prefix)
