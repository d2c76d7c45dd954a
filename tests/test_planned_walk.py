"""The planned walk: after page 1, pages fetched with several requests in flight, each
checked as the sequential walk checks it, handed on in ``startIndex`` order, one request
per page; and each way back to the sequential walk."""

from __future__ import annotations

import asyncio
from contextlib import aclosing, closing
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from loom_scim_connector import AuthenticationError, LoomConnection, LoomScimClient, RetryPolicy
from loom_scim_connector._constants import PAGE_CONCURRENCY
from loom_scim_connector.host import LocalHost
from loom_scim_connector.models.scim import ListPage, parse_list_response
from loom_scim_connector.pagination import LAST_BY_TOTAL, PageCursor, Throttle, paginate

from .conftest import Sleeps, list_body, scim


@dataclass
class Server:
    """An async list server over ``users`` ids that counts requests in flight; later
    pages answer sooner, so concurrent answers arrive out of order."""

    users: int
    total: int | None = -1  # -1: the true count
    cap: int | None = None
    ignore_start: bool = False
    short_at: int | None = None  # this startIndex answers one resource fewer
    total_changes_at: int | None = None  # from this startIndex on, the total is one more
    throttle_at: int | None = None  # this startIndex answers 429 once
    fail_at: int | None = None  # this startIndex answers 401
    starts: list[int] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    in_flight_after_429: list[int] = field(default_factory=list)
    throttled: bool = False

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["startIndex"])
        count = int(request.url.params.get("count", 100))  # the server's own page size
        self.starts.append(start)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.throttled:
            self.in_flight_after_429.append(self.in_flight)
        try:
            await asyncio.sleep(0.001 * max(0, 20 - len(self.starts)))
            if start == self.throttle_at and not self.throttled:
                self.throttled = True
                return scim(429, {"detail": "slow down"}, {"Retry-After": "2"})
            if start == self.fail_at:
                return scim(401, {"detail": "expired"})
            return scim(200, self.page(start, count))
        finally:
            self.in_flight -= 1

    def page(self, start: int, count: int) -> dict[str, object]:
        first = 1 if self.ignore_start else start
        size = count if self.cap is None else min(count, self.cap)
        if start == self.short_at:
            size -= 1
        ids = [f"u{i:05d}" for i in range(first, min(first + size, self.users + 1))]
        total = self.users if self.total == -1 else self.total
        if total is not None and self.total_changes_at and start >= self.total_changes_at:
            total += 1
        return list_body(ids, total=total)


def client_for(
    connection: LoomConnection, server: Server, page_size: int = 10, **kwargs: object
) -> LoomScimClient:
    return LoomScimClient(
        connection,
        retry=RetryPolicy(sleep=Sleeps(), rand=lambda: 0.0),
        transport=httpx.MockTransport(server),
        page_size=page_size,
        **kwargs,  # type: ignore[arg-type]
    )


async def walk(client: LoomScimClient, cursor: PageCursor) -> list[str]:
    ids: list[str] = []
    async with aclosing(client.iterate("Users", cursor=cursor)) as pages:
        async for page in pages:
            ids.extend(str(r["id"]) for r in page)
    return ids


def every(n: int) -> list[str]:
    return [f"u{i:05d}" for i in range(1, n + 1)]


@pytest.mark.parametrize(("users", "ends"), [(200, LAST_BY_TOTAL), (205, "short page")])
async def test_pages_are_fetched_concurrently_in_order_once_each(
    connection: LoomConnection, users: int, ends: str
) -> None:
    server = Server(users)
    cursor = PageCursor(page_size=10)
    async with client_for(connection, server) as client:
        ids = await walk(client, cursor)
    assert ids == every(users)  # complete, in startIndex order although answered out of it
    pages = -(-users // 10)
    assert sorted(server.starts) == list(range(1, users + 1, 10))  # one request a page
    assert len(server.starts) == pages == cursor.pages
    assert server.max_in_flight == PAGE_CONCURRENCY
    assert cursor.complete and cursor.stop_reason == ends
    assert cursor.signals == []


async def test_page_concurrency_is_configurable(connection: LoomConnection) -> None:
    server = Server(100)
    async with client_for(connection, server, page_concurrency=3) as client:
        assert await walk(client, PageCursor(page_size=10)) == every(100)
    assert server.max_in_flight == 3
    one = Server(100)
    async with client_for(connection, one, page_concurrency=1) as client:
        cursor = PageCursor(page_size=10)
        assert await walk(client, cursor) == every(100)
    # sequential: one at a time, and one page more after the full last page
    assert one.max_in_flight == 1 and one.starts == [*range(1, 101, 10), 101]
    assert cursor.stop_reason == "empty page"
    with pytest.raises(ValueError, match="page_concurrency"):
        LoomScimClient(connection, page_concurrency=0)


@pytest.mark.parametrize(
    ("why", "server"),
    [
        ("pages capped below count", Server(95, cap=7)),
        ("no totalResults", Server(95, total=None)),
        ("a negative totalResults", Server(95, total=-3)),
        ("a totalResults no larger than page 1", Server(95, total=10)),
    ],
)
async def test_a_first_page_that_allows_no_plan_walks_sequentially(
    connection: LoomConnection, why: str, server: Server
) -> None:
    cursor = PageCursor(page_size=10)
    async with client_for(connection, server) as client:
        assert await walk(client, cursor) == every(95), why
    assert server.max_in_flight == 1, why
    assert server.starts == sorted(server.starts)
    assert cursor.complete and cursor.stop_reason != LAST_BY_TOTAL


@pytest.mark.parametrize("cap", [None, 10])
async def test_a_server_that_ignores_start_index_ends_as_the_sequential_walk_does(
    connection: LoomConnection, cap: int | None
) -> None:
    """Pages 2 and 3 repeat page 1: the walk is stuck, as the sequential walk would be,
    and tries one page of count=totalResults: complete if the server honours it."""
    server = Server(95, ignore_start=True, cap=cap)
    cursor = PageCursor(page_size=10)
    async with client_for(connection, server) as client:
        ids = await walk(client, cursor)
    assert cursor.stop_reason is not None and cursor.stop_reason.startswith("no new ids")
    assert cursor.tried[0].startswith("count=95")
    if cap is None:
        assert ids == every(95) and cursor.complete
        assert cursor.pages == 4  # pages 1 to 3 (those fetched ahead dropped), count=95
    else:
        assert ids == every(10) and not cursor.complete
        assert "read 10 of the 95" in cursor.verdict("Users")


async def test_a_short_page_off_the_plan_sends_the_walk_back_to_sequential(
    connection: LoomConnection,
) -> None:
    server = Server(150, short_at=41)
    cursor = PageCursor(page_size=10)
    async with client_for(connection, server) as client:
        ids = await walk(client, cursor)
    assert ids == every(150)  # nothing skipped, nothing twice
    assert cursor.complete and cursor.stop_reason != LAST_BY_TOTAL
    after = server.starts[server.starts.index(41) + 1 :]
    sequential = [s for s in after if s not in range(51, 151, 10)]
    assert sequential and sequential[0] == 50  # page 41 gave 9: on from 50, one at a time
    assert cursor.signals


async def test_a_changed_total_sends_the_walk_back_to_sequential(
    connection: LoomConnection,
) -> None:
    """From page 41 on the server counts 151 and lists 150: the changed total does not
    end the walk (one more page is asked). The walk ends below the total, with no id
    repeated to explain it, so it knows it may be short and asks count=151 from 1;
    that answer counts 150, and the walk has all 150."""
    server = Server(150, total_changes_at=41)
    cursor = PageCursor(page_size=10)
    async with client_for(connection, server) as client:
        ids = await walk(client, cursor)
    assert ids == every(150)  # nothing skipped, nothing twice
    assert 151 in server.starts  # one page more than the plan
    assert cursor.ended and cursor.stop_reason != LAST_BY_TOTAL
    assert cursor.complete and cursor.tried == ["count=151 (150 returned, 0 new)"]
    assert cursor.signals


async def test_a_429_halves_the_requests_in_flight_and_honours_retry_after(
    connection: LoomConnection,
) -> None:
    server = Server(400, throttle_at=31)
    sleeps = Sleeps()
    client = LoomScimClient(
        connection,
        retry=RetryPolicy(sleep=sleeps, rand=lambda: 0.0),
        transport=httpx.MockTransport(server),
        page_size=10,
    )
    async with client:
        assert await walk(client, PageCursor(page_size=10)) == every(400)
    assert client.throttle.count == 1 and client.stats.retries == 1
    assert 2.0 in sleeps.waits  # the retry waited the server's Retry-After
    assert len(sleeps.waits) > 1  # and launches after it waited too (the throttle's pause)
    assert server.max_in_flight == PAGE_CONCURRENCY
    # once the throttled page is through, no more than half are in flight
    assert max(server.in_flight_after_429[PAGE_CONCURRENCY:]) <= PAGE_CONCURRENCY // 2


async def test_a_crash_mid_walk_deletes_nothing_and_leaves_no_request_running(
    connection: LoomConnection, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite3"

    def host(server: Server) -> LocalHost:
        return LocalHost(
            connection, store=store, client_factory=lambda c: client_for(c, server, 10)
        )

    with closing(host(Server(200))) as first:
        assert (await first.run_sync("users")).added == 200
    broken = Server(200, fail_at=101)
    with closing(host(broken)) as second:
        with pytest.raises(AuthenticationError):
            await second.run_sync("users")
        assert broken.in_flight == 0  # what was fetched ahead was cancelled and collected
        assert len(second.records("User")) == 200
        assert not [r for r in second.records("User", include_deleted=True) if "_deletedAt" in r]


async def test_stopping_early_cancels_the_pages_fetched_ahead(connection: LoomConnection) -> None:
    server = Server(1000)
    async with client_for(connection, server, page_size=100) as client:
        async with aclosing(client.iterate("Users")) as pages:
            async for page in pages:
                if page[0]["id"] == "u00101":  # page 2 of 10: the plan is under way
                    break
        assert server.in_flight == 0
        assert 2 < len(server.starts) <= 2 + PAGE_CONCURRENCY


@dataclass
class Pool:
    """A fetch through at most ``size`` workers, as the client's GET threads are: a page
    asked for beyond them waits its turn, unsent. Optionally a 429 told at one start."""

    users: int
    size: int
    throttle: Throttle | None = None
    throttle_at: int | None = None
    asked: list[int] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    in_flight_after_429: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.gate = asyncio.Semaphore(self.size)

    async def __call__(self, start: int, count: int | None) -> ListPage:
        self.asked.append(start)
        async with self.gate:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            if self.throttle is not None and self.throttle.count:
                self.in_flight_after_429.append(self.in_flight)
            try:
                await asyncio.sleep(0)
                if start == self.throttle_at and self.throttle and not self.throttle.count:
                    self.throttle.note(0.0)  # as the client does on a 429 it retries
                ids = [f"u{i:05d}" for i in range(start, min(start + 10, self.users + 1))]
                return parse_list_response(list_body(ids, total=self.users))
            finally:
                self.in_flight -= 1


async def test_pages_queued_ahead_of_a_bounded_pool_keep_it_busy_never_beyond_it() -> None:
    """With the GET threads bounding what is in flight, as many pages again are asked
    for ahead, so a thread never waits for the event loop to hand it the next one."""
    pool = Pool(400, size=4)
    ids: list[str] = []
    ahead: list[int] = []
    walk = paginate(pool, PageCursor(page_size=10), concurrency=4, queued=4)
    async with aclosing(walk) as pages:
        async for page in pages:
            ids.extend(str(r["id"]) for r in page)
            ahead.append(len(pool.asked) - len(ids) // 10)  # asked, not yet read
    assert ids == every(400)
    assert sorted(pool.asked) == list(range(1, 400, 10))  # one request a page
    assert pool.max_in_flight == 4
    assert max(ahead) == 4 + 4 - 1  # the pool's four and four queued, bar the one read


async def test_a_429_drops_the_queued_pages_and_halves_what_is_in_flight() -> None:
    async def no_wait(_: float) -> None:
        return None

    throttle = Throttle(sleep=no_wait)
    pool = Pool(400, size=4, throttle=throttle, throttle_at=101)
    ids: list[str] = []
    walk = paginate(pool, PageCursor(page_size=10), concurrency=4, throttle=throttle, queued=4)
    async with aclosing(walk) as pages:
        async for page in pages:
            ids.extend(str(r["id"]) for r in page)
    assert ids == every(400)  # every page once, in order, the dropped ones asked again
    assert pool.max_in_flight == 4
    # the pages queued when the 429 came are dropped, not sent: from then on, every
    # request goes out with at most half the pool in flight
    assert max(pool.in_flight_after_429) <= 2
    assert len(pool.asked) > 40  # the dropped ones were asked for again


async def test_only_a_client_whose_threads_bound_its_gets_queues_pages_ahead(
    connection: LoomConnection,
) -> None:
    async with LoomScimClient(connection, page_concurrency=PAGE_CONCURRENCY) as threaded:
        assert threaded.gets_in_flight_at_most(PAGE_CONCURRENCY)
    async with LoomScimClient(connection, page_concurrency=2) as wider:  # confirms' 8
        assert not wider.gets_in_flight_at_most(2)
    async with LoomScimClient(connection, transport=httpx.MockTransport(Server(10))) as mocked:
        assert not mocked.gets_in_flight_at_most(PAGE_CONCURRENCY)  # the async pool: no bound
