"""GETs on the network go through httpx's sync client on a few threads (``_threaded``),
and behave as the async client's did: the same answers, errors, retries and headers;
a request still running when its caller gave up holds nothing up."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import httpx
import pytest

from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.config import LoomConnection
from loom_scim_connector.errors import NotFoundError, TransportError
from loom_scim_connector.pagination import PageCursor
from loom_scim_connector.retry import RetryPolicy

from .loopback import Loopback

SECRET = "threaded-gets-secret-key"
USERS = [{"id": f"u{i:03d}", "userName": f"u{i}@acme.example"} for i in range(1, 26)]


async def no_sleep(seconds: float) -> None:
    pass


def server(seen: list[httpx.Request], fail_first: int = 0) -> object:
    failures = [fail_first]

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/Users/missing"):
            body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "404"}
            return httpx.Response(404, json=body)
        if failures[0] > 0:
            failures[0] -= 1
            return httpx.Response(503, json={"detail": "busy"})
        start = int(request.url.params.get("startIndex", "1"))
        count = int(request.url.params.get("count", "10"))
        window = USERS[start - 1 : start - 1 + count]
        return httpx.Response(200, json={"totalResults": len(USERS), "Resources": window})

    return handle


def client_for(url: str) -> LoomScimClient:
    connection = LoomConnection.create(url, SECRET)
    return LoomScimClient(connection, retry=RetryPolicy(sleep=no_sleep), page_size=10)


async def test_a_walk_over_the_network_runs_its_gets_on_worker_threads() -> None:
    seen: list[httpx.Request] = []
    with Loopback(server(seen, fail_first=1)) as loop:  # type: ignore[arg-type]
        client = client_for(loop.url)
        async with client:
            ids = [r["id"] async for page in client.iterate("Users") for r in page]
            workers = [t for t in threading.enumerate() if t.name == "loom-scim-get"]
            assert workers, "the GETs did not run on the worker threads"
            with pytest.raises(NotFoundError):
                await client.get("Users", "missing")
    assert ids == [u["id"] for u in USERS]
    assert client.stats.retries == 1  # the 503, retried by the one retry loop
    assert all(r.headers["authorization"] == f"Bearer {SECRET}" for r in seen)
    assert {r.headers["user-agent"].split("/")[0] for r in seen} == {"loom-scim-connector"}


async def test_a_refused_connection_is_the_same_transport_error() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = client_for(f"http://127.0.0.1:{port}/scim/v2")
    async with client:
        with pytest.raises(TransportError) as caught:
            await client.list_page("Users", 1, 10)
    assert "connection refused" in str(caught.value)
    assert caught.value.attempts == 2  # tried once more, quickly, as before
    assert SECRET not in str(caught.value)


async def test_a_request_left_running_does_not_hold_up_closing() -> None:
    release = threading.Event()

    def stall(request: httpx.Request) -> httpx.Response:
        release.wait(10)
        return httpx.Response(200, json={"Resources": []})

    with Loopback(stall) as loop:
        client = client_for(loop.url)
        task = asyncio.create_task(_page(client))
        await asyncio.sleep(0.2)
        task.cancel()
        started = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()
        assert time.monotonic() - started < 2
        release.set()


async def _page(client: LoomScimClient) -> None:
    cursor = PageCursor(page_size=10)
    async for _ in client.iterate("Users", cursor=cursor):
        pass


async def test_a_given_transport_keeps_the_async_client() -> None:
    async def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"totalResults": 0, "Resources": []})

    connection = LoomConnection.create("https://bridge.example/scim/v2", SECRET)
    transport = httpx.MockTransport(handle)
    async with LoomScimClient(connection, transport=transport) as client:
        page = await client.list_page("Users", 1, 10)
    assert page.resources == []
