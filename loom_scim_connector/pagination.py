"""Pagination of SCIM list endpoints, in one place.

RFC 7644 pages by ``startIndex`` (1-based, an item index) and ``count``. Servers differ,
so the paginator trusts only what it receives:

* ``startIndex`` advances by the number of resources actually received: never by
  ``count`` (a short page would skip users) and never by one;
* it stops on an empty page, when ``totalResults`` is reached, or when a page brings no
  id the previous page did not (a server that ignores ``startIndex``);
* ``totalResults`` may be missing or wrong, pages may be short, ``Resources`` may be absent.

At the end it knows whether it can vouch for having seen everything (``complete``): a
server that announced more results than it gave is not complete, and a sync must then
not turn unseen records into deletions.

The walk is a pure cursor (:class:`PageCursor`) separate from the fetching, so that a
later concurrent fetcher can plan the remaining ``startIndex`` values from
``totalResults`` and the size of the first page, and still check each page the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from .models.scim import ListPage

FetchPage = Callable[[int, int], Awaitable[ListPage]]
"""Fetch one page: ``(start_index, count) -> ListPage``."""

DEFAULT_PAGE_SIZE = 100
MAX_PAGES = 1_000_000  # a hard stop against a server that never ends


@dataclass
class PageCursor:
    """Where the walk is, and why it stopped. Knows nothing about HTTP."""

    page_size: int = DEFAULT_PAGE_SIZE
    start_index: int = 1
    pages: int = 0
    received: int = 0
    total_results: int | None = None
    stop_reason: str | None = None
    _previous_ids: frozenset[str] = field(default_factory=frozenset, repr=False)

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
        """True when the walk ended normally and saw at least what the server announced."""
        if self.stop_reason is None:
            return False
        return self.total_results is None or self.received >= self.total_results

    def accept(self, page: ListPage) -> list[dict[str, Any]]:
        """Take one page; return its resources not already seen on the previous page."""
        self.pages += 1
        if page.total_results is not None:
            self.total_results = page.total_results
        ids = frozenset(_id_of(r) for r in page.resources)
        fresh = [r for r in page.resources if _id_of(r) not in self._previous_ids]
        if not page.resources:
            self.stop_reason = "empty page"
            return []
        if not fresh:
            self.stop_reason = "server repeated the previous page (it ignores startIndex)"
            return []
        self.received += len(fresh)
        self.start_index += len(page.resources)
        self._previous_ids = ids
        if self.total_results is not None and self.received >= self.total_results:
            self.stop_reason = "totalResults reached"
        elif self.pages >= MAX_PAGES:
            self.stop_reason = "page limit reached"
        return fresh


def _id_of(resource: dict[str, Any]) -> str:
    for key in ("id", "Id", "ID"):
        if key in resource:
            return str(resource[key])
    return ""


async def paginate(
    fetch: FetchPage, cursor: PageCursor | None = None
) -> AsyncIterator[list[dict[str, Any]]]:
    """Yield the new resources of each page until the cursor says stop.

    Pass your own ``cursor`` to read ``complete``, ``pages`` and ``stop_reason`` after.
    """
    cursor = cursor or PageCursor()
    while not cursor.done:
        page = await fetch(cursor.start_index, cursor.page_size)
        fresh = cursor.accept(page)
        if fresh:
            yield fresh
