"""The request deadline and the fleet's politeness (fleet/politeness.py): a request of a
workspace another request got a 429 for waits out the pause (up to 300 s) before it is
sent, and waits for one of the workspace's slots. Both waits run inside the request's
deadline (the event loop's timer wraps the whole transport), so a request that never
left this machine fails as a DeadlineError, "did not send its whole answer in time ...
raise LOOM_SCIM_REQUEST_DEADLINE", and is retried into the same pause: with the
defaults (a 300 s pause, a 120 s deadline) every request of the workspace fails so for
the length of a long pause. The README defines the deadline "from connecting to the
last byte of the body".

Expected to fail until the deadline starts when the request leaves (see the report of
the hostile review, branch hostile1): strict, so it says when it is fixed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from loom_scim_connector import LoomConnection, LoomScimClient
from loom_scim_connector.retry import RetryPolicy, no_wait
from loom_scim_connector.sandbox import Sandbox

from .redis_server import redis_url

redis = pytest.importorskip("redis")


@pytest.fixture
def cid() -> Iterator[str]:
    from loom_scim_connector.fleet.politeness import inflight_key, pause_key

    mine = f"hostile1-{uuid.uuid4().hex[:12]}"
    yield mine
    client = redis.Redis.from_url(redis_url())
    client.delete(pause_key(mine), inflight_key(mine))
    client.close()


@pytest.mark.xfail(strict=True, reason="the politeness pause counts against the deadline")
async def test_a_request_waiting_out_its_workspaces_pause_is_not_failed_as_a_slow_server(
    cid: str,
) -> None:
    from loom_scim_connector.fleet.politeness import PoliteTransport, pause_key

    with Sandbox(seed_users=3) as sandbox:
        paused = redis.Redis.from_url(redis_url())
        paused.set(pause_key(cid), "1", px=2500)  # another request of it got a 429
        paused.close()
        client = LoomScimClient(
            LoomConnection.create(sandbox.url, sandbox.token),
            retry=RetryPolicy(max_attempts=1, sleep=no_wait),
            deadline=1.0,
            transport=PoliteTransport(redis_url(), cid, limit=2),
        )
        try:
            page = await client.request("GET", "Users", params={"count": 1})
        finally:
            await client.aclose()
    assert page["Resources"]
