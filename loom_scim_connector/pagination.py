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

``totalResults`` is a *signal*, never a reason to stop: missing, negative, lower than
what was already received, or changing during the walk, it is noted in ``signals``.
The walk does not claim more than it can: records it did not see are only candidates
for deletion, which the host confirms one by one with the server.

The walk is a pure cursor (:class:`PageCursor`) separate from the fetching, so that a
concurrent fetcher can plan ``startIndex`` values and still check each page the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ._constants import DEFAULT_PAGE_SIZE, MAX_PAGES
from .models.scim import ListPage

FetchPage = Callable[[int, int], Awaitable[ListPage]]
"""Fetch one page: ``(start_index, count) -> ListPage``."""


# Normal ends of a walk; any other stop (the page limit) is not complete.
_ENDS = ("empty page", "short page", "no new ids")


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
    _seen: set[str] = field(default_factory=set, repr=False)
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
            if rid and rid in self._seen:
                self.repeated += 1
                continue
            if rid:
                self._seen.add(rid)
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


async def paginate(
    fetch: FetchPage, cursor: PageCursor | None = None
) -> AsyncIterator[list[dict[str, Any]]]:
    """Yield the new resources of each page until the cursor says stop.

    Pass your own ``cursor`` to read ``complete``, ``pages``, ``signals`` and
    ``stop_reason`` after.
    """
    cursor = cursor or PageCursor()
    while not cursor.done:
        page = await fetch(cursor.start_index, cursor.page_size)
        fresh = cursor.accept(page)
        if fresh:
            yield fresh
