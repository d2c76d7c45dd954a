"""What a walk tries once it knows it is short (see ``PageCursor.shortfall``).

A server that ignores ``startIndex`` answers page 1 to every request, or one that pages
some other way: it may still give everything some other way. In order, stopping as soon
as the cursor no longer knows it is short:

1. one page of ``count=totalResults`` (the largest the walk saw) from ``startIndex=1``,
   when that is more than a page: a server that honours a large ``count``;
2. one page with ``count`` left out: a server that then gives everything (or its own
   page size, which may be the only one it pages correctly);
3. a sequential walk of its own with smaller pages (the largest page the server gave,
   if below what was asked, else half the page size): a server that mispages above
   some ``count``. It counts as reading the whole list only when it is complete by
   itself, by the same rules.

Every resource goes through the cursor, so only ids the walk has not seen are handed on
(and saved); whatever is still missing after all three, the walk ends incomplete.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from loom_scim_connector.errors import InvalidRequestError, NotSupportedError

from ._cursor import PageCursor
from ._planned import FetchPage

# The largest single page asked for (``count=totalResults``): a bigger directory is not
# read in one answer, which would hold it all in memory at once.
MAX_ONE_PAGE = 50_000


def needs_recovery(cursor: PageCursor) -> bool:
    """A normal end after which the walk knows, or cannot rule out, that it is short."""
    return cursor.recover and cursor.ended and (cursor.stuck or cursor.shortfall() is not None)


async def recover(
    fetch: FetchPage, cursor: PageCursor
) -> AsyncGenerator[list[dict[str, Any]], None]:
    """Try each way in turn; yield the new resources each brings."""
    total = cursor.max_total
    if total is not None and cursor.page_size < total:
        if total > MAX_ONE_PAGE:
            cursor.tried.append(f"not count={total} (above {MAX_ONE_PAGE} in one answer)")
        else:
            fresh = await _one(fetch, cursor, total, f"count={total}")
            if fresh:
                yield fresh
            if cursor.shortfall() is None:
                return
    fresh = await _one(fetch, cursor, None, "count omitted")
    if fresh:
        yield fresh
    if cursor.shortfall() is None:
        return
    largest = cursor.largest_page
    smaller = largest if 0 < largest < cursor.page_size else cursor.page_size // 2
    if smaller < 1:
        return
    sub = PageCursor(page_size=smaller, max_pages=cursor.max_pages)
    while not sub.done:
        page = await fetch(sub.start_index, sub.page_size)
        cursor.pages += 1
        fresh = cursor.absorb(sub.accept(page), page.total_results)
        if fresh:
            yield fresh
    cursor.recovered = sub.complete
    end = "a page with no new id" if sub.stuck else sub.stop_reason
    cursor.tried.append(
        f"pages of {smaller} ({sub.received} read, ended on {end}"
        f"{'' if sub.complete else ', short too'})"
    )


async def _one(
    fetch: FetchPage, cursor: PageCursor, count: int | None, what: str
) -> list[dict[str, Any]]:
    """One page from ``startIndex=1``, noted in ``cursor.tried``: its new resources. A
    server that refuses the request (400, 501: a count it will not serve) gives none."""
    cursor.pages += 1
    try:
        page = await fetch(1, count)
    except (InvalidRequestError, NotSupportedError) as exc:
        cursor.tried.append(f"{what} (refused: HTTP {exc.status})")
        return []
    fresh = cursor.absorb(page.resources, page.total_results)
    cursor.tried.append(f"{what} ({len(page.resources)} returned, {len(fresh)} new)")
    return fresh
