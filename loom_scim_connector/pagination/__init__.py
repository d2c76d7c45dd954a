"""Pagination of SCIM list endpoints, in one place.

RFC 7644 pages by ``startIndex`` (1-based, an item index) and ``count``. Servers differ
and change while we read them, so the walk trusts only what it receives:

* ``startIndex`` advances by the number of resources actually received: never by
  ``count`` (a short page would skip users) and never by one;
* ids are deduplicated across the **whole walk**, not just against the previous page;
* a page that came back **full** (as many resources as asked, or as many as the
  largest page so far when the server caps pages) means "ask for the next one",
  whatever ``totalResults`` says;
* the walk ends on an empty page, on the second page in a row with no new id (a server
  that ignores ``startIndex``), or on a short page: unless a plausible ``totalResults`` says more
  are to come (then it asks again), or the first page was short and the total cannot
  be trusted (then it probes one more page to learn whether the server caps pages).

**Complete or not success.** Ending is not the same as reading everything. A page of
ids already received does not end the walk at once (users added behind the cursor push
listed ones forward); two in a row do ("stuck": a server that ignores ``startIndex``).
The walk then *knows it is short* (``PageCursor.shortfall``) when it is stuck and the
distinct ids it received do not reach the largest ``totalResults`` it saw (or the server
gives none), or when it ended otherwise with fewer distinct ids than the last
``totalResults``, beyond what users added during the walk explain (at most the smaller
of the ids received again and the rises of the total). It then tries what can still
read everything (``_recovery``: one page of ``count=totalResults``, ``count`` left out,
smaller pages); if the cursor still knows it is short, the walk is not ``complete`` and
the sync ends incomplete, ``PageCursor.verdict`` saying how many of how many were read
and what was tried.

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
sequential walk. One that ignores ``startIndex`` answers pages 2 and 3 with page 1's ids,
and the walk ends there on "no new ids", exactly as the sequential walk would (and then
tries the ways of ``_recovery``).
On a 429 (told through :class:`Throttle`), the walk halves how many requests it lets be
in flight and launches nothing before the server's ``Retry-After`` has passed. A client
whose GET threads themselves bound the requests in flight to N asks for more pages
ahead (``queued``), which wait on its threads' queue unsent, so that a thread need not
wait for the event loop while it reads and saves the pages before; a 429 drops them.

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

import contextlib
from collections.abc import AsyncGenerator
from typing import Any

from ._cursor import LAST_BY_TOTAL, STUCK, IdFingerprints, PageCursor
from ._planned import FetchPage, Throttle, plan, planned
from ._recovery import needs_recovery, recover

__all__ = [
    "LAST_BY_TOTAL",
    "STUCK",
    "FetchPage",
    "IdFingerprints",
    "PageCursor",
    "Throttle",
    "paginate",
]


async def paginate(
    fetch: FetchPage,
    cursor: PageCursor | None = None,
    *,
    concurrency: int = 1,
    throttle: Throttle | None = None,
    queued: int = 0,
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """Yield the new resources of each page until the cursor says stop.

    Pass your own ``cursor`` to read ``complete``, ``pages``, ``signals`` and
    ``stop_reason`` after. With ``concurrency`` above 1, the pages after the first are
    planned and fetched concurrently when the first page allows it (see the module's
    docstring); the pages still come in ``startIndex`` order, each checked the same way.
    ``queued``: pages asked for beyond those, for a transport that itself bounds the
    requests in flight to ``concurrency`` (see ``_planned.planned``).
    When the walk ends knowing it is short, it tries the ways of ``_recovery``.
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
        total, starts = plan(cursor, first, start)
        if starts:
            ahead = planned(fetch, cursor, total, starts, concurrency, throttle, queued)
            async with contextlib.aclosing(ahead):
                async for fresh in ahead:
                    yield fresh
    while not cursor.done:
        page = await fetch(cursor.start_index, cursor.page_size)
        fresh = cursor.accept(page)
        if fresh:
            yield fresh
    if needs_recovery(cursor):
        async with contextlib.aclosing(recover(fetch, cursor)) as more:
            async for fresh in more:
                yield fresh
