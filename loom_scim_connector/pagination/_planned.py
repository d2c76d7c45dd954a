"""The planned walk: after page 1, the pages planned from ``totalResults`` and fetched
with several requests in flight, each checked by the cursor as the sequential walk checks
it (see the package's docstring); and the throttle that slows it down on a 429."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from loom_scim_connector.models.scim import ListPage

from ._cursor import PageCursor

FetchPage = Callable[[int, int | None], Awaitable[ListPage]]
"""Fetch one page: ``(start_index, count) -> ListPage``; a ``count`` of ``None`` is left
out of the request (the server's own page size)."""

Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Throttle:
    """What the client tells the planned walk about 429s: how many, and until when the
    server asked to wait (``Retry-After``, or the retry policy's backoff)."""

    sleep: Sleep = asyncio.sleep
    clock: Callable[[], float] = time.monotonic
    count: int = 0
    until: float = 0.0

    def note(self, wait: float) -> None:
        self.count += 1
        self.until = max(self.until, self.clock() + wait)

    async def pause(self) -> None:
        left = self.until - self.clock()
        if left > 0:
            await self.sleep(left)


def plan(cursor: PageCursor, first: ListPage, start: int) -> tuple[int, range]:
    """The total and the ``startIndex`` of every page after the first; no starts when
    the first page does not allow a plan (then the walk goes on sequentially)."""
    total, size = first.total_results, cursor.page_size
    if (
        cursor.done
        or total is None
        or len(first.resources) != size  # a capped (or short) first page
        or cursor.received != size  # ids repeated within the first page
        or cursor.start_index != start + size
    ):
        return 0, range(0)
    return total, range(cursor.start_index, total + 1, size)


async def planned(
    fetch: FetchPage,
    cursor: PageCursor,
    total: int,
    starts: range,
    concurrency: int,
    throttle: Throttle | None,
    queued: int = 0,
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """Fetch the planned pages, up to ``concurrency`` ahead, and accept them in order.

    ``queued`` more pages may be asked for ahead when the caller's transport itself
    keeps no more than ``concurrency`` requests in flight (a pool of that many threads):
    its threads then go on to the next page while the event loop is busy reading and
    saving the pages before, instead of waiting for it. The first 429 drops them.
    Returns when the cursor stops, when every planned page was accepted, or at the
    first page that departs from the plan (the caller then walks sequentially)."""
    size = cursor.page_size
    window = concurrency + queued
    throttles = throttle.count if throttle is not None else 0
    tasks: dict[int, asyncio.Task[ListPage]] = {}
    dropped: list[asyncio.Task[ListPage]] = []
    launched = 0

    async def fetch_one(start: int) -> ListPage:
        return await fetch(start, size)

    try:
        for i, start in enumerate(starts):
            while launched < len(starts) and launched - i < window:
                if throttle is not None:
                    await throttle.pause()
                tasks[launched] = asyncio.create_task(fetch_one(starts[launched]))
                launched += 1
            page = await tasks.pop(i)
            if throttle is not None and throttle.count != throttles:
                throttles = throttle.count
                window = max(1, (window - queued) // 2)
                if queued:  # those asked for beyond the new window wait, sent or not
                    for j in range(i + 1 + window, launched):
                        dropped.append(tasks.pop(j))
                        dropped[-1].cancel()
                    launched = min(launched, i + 1 + window)
                    queued = 0
            fresh = cursor.accept(page)
            if fresh:
                yield fresh
            expected = min(size, total - (start - 1))
            if cursor.done or page.total_results != total or len(page.resources) != expected:
                return  # done, or off the plan: what is ahead is dropped
        if cursor.received == total and cursor.repeated == 0:
            cursor.end_by_total()
    finally:
        for task in tasks.values():
            task.cancel()
        if tasks or dropped:  # collect what was fetched ahead and dropped, errors included
            await asyncio.gather(*tasks.values(), *dropped, return_exceptions=True)
