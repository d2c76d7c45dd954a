"""The cursor of a walk: where it is, why it stopped, and whether it read everything.

Knows nothing about HTTP: the walks in ``__init__`` and ``_recovery`` feed it pages.
"""

from __future__ import annotations

import secrets
from array import array
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from loom_scim_connector._constants import DEFAULT_PAGE_SIZE, MAX_PAGES
from loom_scim_connector.models.scim import ListPage


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
        else:
            # Each bucket is kept sorted: a binary search, not a scan of ~250 boxed ints
            # a lookup at a million ids (7.5 against 2.9 us an id, measured at 1M).
            at = bisect_left(bucket, fingerprint)
            if at < len(bucket) and bucket[at] == fingerprint:
                return False
            bucket.insert(at, fingerprint)
        self.count += 1
        return True

    def __contains__(self, rid: object) -> bool:
        if not isinstance(rid, str):
            return False
        fingerprint = self._fingerprint(rid)
        bucket = self._buckets.get(fingerprint & (self.BUCKETS - 1))
        if bucket is None:
            return False
        at = bisect_left(bucket, fingerprint)
        return at < len(bucket) and bucket[at] == fingerprint


# Normal ends of a walk; any other stop (the page limit) is not complete.
_ENDS = ("empty page", "short page", "no new ids", "last page by totalResults")
LAST_BY_TOTAL = "last page by totalResults (the same on every page; candidates are confirmed)"
STUCK = "no new ids (the server repeats itself or ignores startIndex)"


@dataclass
class PageCursor:
    """Where the walk is, and why it stopped. Knows nothing about HTTP."""

    page_size: int = DEFAULT_PAGE_SIZE
    start_index: int = 1
    pages: int = 0
    received: int = 0
    repeated: int = 0
    # ids received again before the walk's end: the list moved under the walk (each
    # user added behind the cursor pushes one listed user onto the next page)
    drift: int = 0
    rises: int = 0  # how much totalResults rose, page to page, during the walk
    total_results: int | None = None
    stop_reason: str | None = None
    max_pages: int = MAX_PAGES
    signals: list[str] = field(default_factory=list)
    # what the walk tried once it knew it was short, one entry an attempt
    tried: list[str] = field(default_factory=list)
    recovered: bool = False  # a walk with smaller pages read the whole list by itself
    recover: bool = True  # when short, try the other ways (a bounded scan does not)
    max_total: int | None = None  # the largest usable totalResults of the walk
    _seen: IdFingerprints = field(default_factory=lambda: IdFingerprints(), repr=False)
    _largest_page: int = 0
    _idle: int = 0  # pages in a row that brought no new id
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
    def largest_page(self) -> int:
        """The most resources one page of the walk brought."""
        return self._largest_page

    @property
    def ended(self) -> bool:
        """The walk reached a normal end (not the page limit)."""
        return self.stop_reason is not None and self.stop_reason.startswith(_ENDS)

    @property
    def stuck(self) -> bool:
        """The walk ended on the second page in a row that brought no new id."""
        return self.stop_reason == STUCK

    @property
    def complete(self) -> bool:
        """A normal end, and nothing the server said shows that records were not read."""
        return self.ended and (self.recovered or self.shortfall() is None)

    def shortfall(self) -> str | None:
        """Why the walk knows it did not read the whole list; ``None`` when nothing says so.

        * Stuck (two pages in a row of ids already received): short unless the distinct
          ids received reach the largest ``totalResults`` of the walk; with no usable
          total, short.
        * Any other end: short when the distinct ids received are fewer than the last
          usable ``totalResults``, beyond what users added during the walk explain: each
          user added behind the cursor raises the total by one and pushes a listed user
          onto the next page, received again, and is itself seen next time. So the
          shortfall may be at most the smaller of the ids received again (``drift``) and
          the rises of ``totalResults`` (``rises``). A server whose sort is unstable
          repeats ids while its total stays put: that shortfall is real. No usable
          total: nothing says the walk is short.
        """
        if self.stuck:
            total = self.max_total
            if total is None:
                return "pages brought no new id and the server gives no usable totalResults"
            if self.received < total:
                return "pages brought no new id (the server ignores startIndex or repeats itself)"
            return None
        total = self.total_results
        if total is not None and self.received < total - min(self.drift, self.rises):
            return f"the walk ended ({self.stop_reason}) below the server's totalResults"
        return None

    def verdict(self, resource: str) -> str:
        """One line: how many of how many were read, why that is short, what was tried."""
        total = self.max_total if self.stuck else self.total_results
        read = (
            f"read {self.received} {resource} and cannot tell whether that is all"
            if total is None
            else f"read {self.received} of the {total} {resource} the server counts"
        )
        why = self.shortfall() or f"stopped on {self.stop_reason}"
        tried = f"; tried {', '.join(self.tried)}" if self.tried else ""
        return f"{read}: {why}{tried}"

    def accept(self, page: ListPage) -> list[dict[str, Any]]:
        """Take one page; return its resources whose ids this walk has not seen yet."""
        self.pages += 1
        self._note_total(page.total_results)
        resources = page.resources
        if not resources:
            self.stop_reason = "empty page"
            return []
        fresh = self._fresh(resources)
        repeats = len(resources) - len(fresh)
        self.repeated += repeats
        self.drift += repeats
        # A page of repeats alone may be the list moving under the walk (users added
        # behind the cursor push listed ones forward): go on past it. Two in a row is a
        # server that ignores startIndex, or repeats itself: the walk is stuck.
        self._idle = 0 if fresh else self._idle + 1
        if self._idle >= 2:
            self.stop_reason = STUCK
            return []
        self.start_index += len(resources)
        total = self.total_results
        if total is not None and total < self.received and page.total_results is not None:
            self.signals.append(
                f"totalResults {total} on page {self.pages} is lower than the "
                f"{self.received} received"
            )
        self._decide_next(len(resources))
        return fresh

    def absorb(
        self, resources: list[dict[str, Any]], total: int | None = None
    ) -> list[dict[str, Any]]:
        """Take resources read outside the walk's own steps (after it ended, trying to
        read what it missed): return those whose ids this walk has not seen yet.
        ``total`` is the ``totalResults`` of the page they came on, if any."""
        if total is not None:
            self._note_total(total)
        return self._fresh(resources)

    def _fresh(self, resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fresh = []
        for resource in resources:
            rid = _id_of(resource)
            if rid and not self._seen.add(rid):
                continue
            fresh.append(resource)
        self.received += len(fresh)
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
            self.rises += max(0, total - previous)
        self.total_results = total
        self.max_total = total if self.max_total is None else max(self.max_total, total)


def _id_of(resource: dict[str, Any]) -> str:
    for key in ("id", "Id", "ID"):
        if key in resource:
            return str(resource[key])
    return ""
