"""The request deadline and the fleet's politeness (fleet/politeness.py): a request of a
workspace another request got a 429 for waits out the pause (up to 300 s) before it is
sent, and waits for one of the workspace's slots. Both waits ran inside the request's
deadline (the event loop's timer wraps the whole transport), so a request that never
left this machine failed as a DeadlineError, "did not send its whole answer in time ...
raise LOOM_SCIM_REQUEST_DEADLINE", and was retried into the same pause: with the
defaults (a 300 s pause, a 120 s deadline) every request of the workspace failed so for
the length of a long pause. The README defines the deadline "from connecting to the
last byte of the body": the transport now puts the deadline off while the request waits
for its turn (by a pause at most) and starts it when the request leaves; a server that
drips its answer behind the transport is still given up on at the deadline.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import pytest

from loom_scim_connector import LoomConnection, LoomScimClient
from loom_scim_connector.retry import RetryPolicy, no_wait
from loom_scim_connector.sandbox import Sandbox

from .drip_server import DripState, serve, user
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


async def test_a_dripped_answer_behind_the_politeness_transport_still_ends_at_the_deadline(
    cid: str,
) -> None:
    from loom_scim_connector.errors import DeadlineError
    from loom_scim_connector.fleet.politeness import PoliteTransport

    state = DripState(users=[user("u1", "person1@acme.example")])
    state.drip = lambda _method, _path: "body"
    with serve(state) as url:
        client = LoomScimClient(
            LoomConnection.create(url, "tok-drip-0123456789abcdef"),
            retry=RetryPolicy(max_attempts=1, sleep=no_wait),
            deadline=0.3,
            transport=PoliteTransport(redis_url(), cid, limit=2),
        )
        try:
            with pytest.raises(DeadlineError):
                await asyncio.wait_for(client.get("Users", "u1"), timeout=10)
        finally:
            await client.aclose()
