"""Pagination of SCIM list endpoints, in one place.

RFC 7644 pages by ``startIndex`` (1-based, an item index) and ``count``. Servers differ
and change while we read them, so the walk trusts only what it receives:

* ``startIndex`` advances by the number of resources actually received: never by
  ``count`` (a short page would skip users) and never by one;
* ids are deduplicated across the **whole walk**, not just against the previous page;
* a page that came back **full** (as many resources as asked, or as many as the
  largest page so far when the server caps pages) means "ask for the next one",
  whatever ``totalResults`` says;
* the walk ends on an empty page, on a page with no new id (a server that ignores
  ``startIndex``), or on a short page: unless a plausible ``totalResults`` says more
  are to come (then it asks again), or the first page was short and the total cannot
  be trusted (then it probes one more page to learn whether the server caps pages).

``totalResults`` is a *signal*, never a reason to stop (but see the planned walk below,
which may end on it): missing, negative, lower than
what was already received, or changing during the walk, it is noted in ``signals``.
The walk does not claim more than it can: records it did not see are only candidates
for deletion, which the host confirms one by one with the server.

The walk is a pure cursor (:class:`PageCursor`) separate from the fetching, so that the
concurrent fetcher below can plan ``startIndex`` values and still check each page the same
way.

**The planned walk** (``paginate(..., concurrency=N)`` with N > 1). Page 1 is fetched
alone. When it came back full with a usable ``totalResults`` larger than it, the
remaining ``startIndex`` values are planned from that total (``1 + k * page_size``) and
fetched with up to N requests in flight; each page goes through :meth:`PageCursor.accept`
exactly as in the sequential walk, and pages are handed on in ``startIndex`` order. A
planned page is only trusted while the walk stays what was planned: the page before it
was full, so its ``startIndex`` is the one the sequential walk would have asked for. The
moment a page departs from the plan (a short page mid-walk, a page longer than the
total allows, a ``totalResults`` that changed), that page is still accepted, the pages
fetched ahead of it are dropped (cancelled or discarded, never read) and the sequential
walk goes on from where the cursor is. A server that caps pages below ``count`` or gives
no usable ``totalResults`` (missing, negative, not above page 1) gets no plan at all: the
sequential walk. One that ignores ``startIndex`` answers page 2 with page 1's ids, and
the walk ends there on "no new ids", exactly as the sequential walk would.
On a 429 (told through :class:`Throttle`), the walk halves how many requests it lets be
in flight and launches nothing before the server's ``Retry-After`` has passed.

One request per page, nothing extra: where the sequential walk asks one more page after
a full last page, the planned walk ends after the page that completes a
``totalResults`` that stayed the same on every page, with exactly that many distinct ids
received and none repeated. That trusts the server's total, which the sequential walk
never does, and it is safe **only because nothing is deleted from a walk alone**: the
host looks up every live record the walk did not list, one by one, and deletes only
those the server answers 404 for (a user appended during the walk is simply seen next
time; one the walk skipped is found by its lookup and kept). Any doubt (a repeated id,
a changed total) sends the walk back to the sequential rule.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from array import array
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ._constants import DEFAULT_PAGE_SIZE, MAX_PAGES
from .models.scim import ListPage

FetchPage = Callable[[int, int], Awaitable[ListPage]]
"""Fetch one page: ``(start_index, count) -> ListPage``."""


class IdFingerprints:
    """The ids a walk has seen, as 64-bit fingerprints (``hash``) in 4,096 small arrays:
    8 bytes an id instead of about 120 for a set of strings, so a walk of a million
    users stays flat in memory.

    Two distinct ids with the same fingerprint (about 3 in 100 million for a million
    ids) make the second look repeated, and this walk does not save it. A record the
    store already had becomes a deletion candidate, which the host looks up, finds and
    keeps; a new one waits for the next walk. Each walk salts its fingerprints anew
    (even with ``PYTHONHASHSEED`` fixed), so no pair of ids collides walk after walk."""

    BUCKETS = 4096

    def __init__(self) -> None:
        self._buckets: dict[int, array[int]] = {}
        self._salt = secrets.token_hex(4)
        self.count = 0

    def _fingerprint(self, rid: str) -> int:
        return hash(self._salt + rid)

    def add(self, rid: str) -> bool:
        """Remember ``rid``; ``False`` when it was seen before."""
        fingerprint = self._fingerprint(rid)
        bucket = self._buckets.get(fingerprint & (self.BUCKETS - 1))
        if bucket is None:
            self._buckets[fingerprint & (self.BUCKETS - 1)] = array("q", (fingerprint,))
        elif fingerprint in bucket:
            return False
        else:
            bucket.append(fingerprint)
        self.count += 1
        return True

    def __contains__(self, rid: object) -> bool:
        if not isinstance(rid, str):
            return False
        fingerprint = self._fingerprint(rid)
        bucket = self._buckets.get(fingerprint & (self.BUCKETS - 1))
        return bucket is not None and fingerprint in bucket


# Normal ends of a walk; any other stop (the page limit) is not complete.
_ENDS = ("empty page", "short page", "no new ids", "last page by totalResults")
LAST_BY_TOTAL = "last page by totalResults (the same on every page; candidates are confirmed)"


@dataclass
class PageCursor:
    """Where the walk is, and why it stopped. Knows nothing about HTTP."""

    page_size: int = DEFAULT_PAGE_SIZE
    start_index: int = 1
    pages: int = 0
    received: int = 0
    repeated: int = 0
    total_results: int | None = None
    stop_reason: str | None = None
    max_pages: int = MAX_PAGES
    signals: list[str] = field(default_factory=list)
    _seen: IdFingerprints = field(default_factory=lambda: IdFingerprints(), repr=False)
    _largest_page: int = 0
    _totals: list[int | None] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.page_size < 1:
            raise ValueError("page_size must be at least 1")
        if self.start_index < 1:
            raise ValueError("startIndex is 1-based")

    @property
    def done(self) -> bool:
        return self.stop_reason is not None

    @property
    def complete(self) -> bool:
        """True when the walk reached a normal end (not the page limit)."""
        return self.stop_reason is not None and self.stop_reason.startswith(_ENDS)

    def accept(self, page: ListPage) -> list[dict[str, Any]]:
        """Take one page; return its resources whose ids this walk has not seen yet."""
        self.pages += 1
        self._note_total(page.total_results)
        resources = page.resources
        if not resources:
            self.stop_reason = "empty page"
            return []
        fresh = []
        for resource in resources:
            rid = _id_of(resource)
            if rid and not self._seen.add(rid):
                self.repeated += 1
                continue
            fresh.append(resource)
        if not fresh:
            self.stop_reason = "no new ids (the server repeats itself or ignores startIndex)"
            return []
        self.received += len(fresh)
        self.start_index += len(resources)
        total = self.total_results
        if total is not None and total < self.received and page.total_results is not None:
            self.signals.append(
                f"totalResults {total} on page {self.pages} is lower than the "
                f"{self.received} received"
            )
        self._decide_next(len(resources))
        return fresh

    def end_by_total(self) -> None:
        """The planned walk received every id a steady ``totalResults`` announced."""
        self.stop_reason = LAST_BY_TOTAL

    def _decide_next(self, size: int) -> None:
        expected = min(self.page_size, self._largest_page or self.page_size)
        self._largest_page = max(self._largest_page, size)
        total = self.total_results
        if self.pages >= self.max_pages:
            self.stop_reason = "page limit reached"
        elif size >= expected:
            return  # a full page: there may be more, whatever totalResults says
        elif total is not None and total > self.received:
            self.signals.append(
                f"page {self.pages} was short ({size} of {self.page_size}) while "
                f"totalResults says {total - self.received} more"
            )
        elif self.pages == 1 and (total is None or total < self.received):
            return  # probe once: the server may cap pages below what we asked
        else:
            self.stop_reason = "short page"

    def _note_total(self, total: int | None) -> None:
        previous = self._totals[-1] if self._totals else None
        self._totals.append(total)
        if total is None:
            if len(self._totals) == 1:
                self.signals.append("no totalResults")
            return
        if total < 0:
            self.signals.append(f"a negative totalResults ({total}) on page {self.pages}")
            self.total_results = None
            return
        if previous is not None and previous >= 0 and total != previous:
            self.signals.append(f"totalResults changed from {previous} to {total}")
        self.total_results = total


def _id_of(resource: dict[str, Any]) -> str:
    for key in ("id", "Id", "ID"):
        if key in resource:
            return str(resource[key])
    return ""


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


async def paginate(
    fetch: FetchPage,
    cursor: PageCursor | None = None,
    *,
    concurrency: int = 1,
    throttle: Throttle | None = None,
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """Yield the new resources of each page until the cursor says stop.

    Pass your own ``cursor`` to read ``complete``, ``pages``, ``signals`` and
    ``stop_reason`` after. With ``concurrency`` above 1, the pages after the first are
    planned and fetched concurrently when the first page allows it (see the module's
    docstring); the pages still come in ``startIndex`` order, each checked the same way.
    Close the generator (``contextlib.aclosing``) when you stop early, so pages fetched
    ahead are cancelled.
    """
    cursor = cursor or PageCursor()
    if concurrency > 1 and not cursor.done:
        start = cursor.start_index
        first = await fetch(start, cursor.page_size)
        fresh = cursor.accept(first)
        if fresh:
            yield fresh
        total, starts = _plan(cursor, first, start)
        if starts:
            planned = _planned(fetch, cursor, total, starts, concurrency, throttle)
            async with contextlib.aclosing(planned):
                async for fresh in planned:
                    yield fresh
    while not cursor.done:
        page = await fetch(cursor.start_index, cursor.page_size)
        fresh = cursor.accept(page)
        if fresh:
            yield fresh


def _plan(cursor: PageCursor, first: ListPage, start: int) -> tuple[int, range]:
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


async def _planned(
    fetch: FetchPage,
    cursor: PageCursor,
    total: int,
    starts: range,
    concurrency: int,
    throttle: Throttle | None,
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """Fetch the planned pages, up to ``concurrency`` ahead, and accept them in order.

    Returns when the cursor stops, when every planned page was accepted, or at the
    first page that departs from the plan (the caller then walks sequentially)."""
    size = cursor.page_size
    window = concurrency
    throttles = throttle.count if throttle is not None else 0
    tasks: dict[int, asyncio.Task[ListPage]] = {}
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
                window = max(1, window // 2)
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
        if tasks:  # collect what was fetched ahead and dropped, errors included
            await asyncio.gather(*tasks.values(), return_exceptions=True)
