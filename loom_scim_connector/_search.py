"""Finding resources by filter, whatever the server's filters do: the client's search.

:class:`~loom_scim_connector.client.LoomScimClient` delegates ``search`` and
``find_one`` here. Each filter expression is tried in turn and what it returns is
checked (a server may ignore a filter or compare it otherwise); a filter the server
refuses means the next; when none finds anything, a bounded scan of the listing.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from . import filters
from ._constants import Resource
from .errors import ApiError, InvalidRequestError, NotSupportedError
from .identity import same_email
from .models.scim import ListPage
from .pagination import PageCursor

# How many resources a lookup by filter asks for at first.
LOOKUP_COUNT = 10


class Lister(Protocol):
    """What a search needs of the client: its page size and its two ways to list."""

    page_size: int

    async def list_page(
        self,
        resource: Resource,
        start_index: int,
        count: int | None,
        *,
        filter: str | None = None,
    ) -> ListPage: ...

    def iterate(
        self,
        resource: Resource,
        *,
        filter: str | None = None,
        cursor: PageCursor | None = None,
        concurrency: int | None = None,
    ) -> AsyncGenerator[list[dict[str, Any]], None]: ...


@dataclass
class Search:
    """What :meth:`LoomScimClient.search` found, and what it asked to find it."""

    resources: list[dict[str, Any]] = field(default_factory=list)
    searched: list[str] = field(default_factory=list)  # each filter or scan, and its answer
    complete: bool = True  # False: found nothing more in the first ``scanned`` only
    scanned: int | None = None  # resources the scan read (None: no scan)
    refused: ApiError | None = None  # the first filter the server refused, if any

    def said(self) -> str:
        return "; ".join(self.searched)


def matching(items: Sequence[dict[str, Any]], attribute: str, value: str) -> dict[str, Any] | None:
    for item in items:
        found = {k.lower(): v for k, v in item.items()}.get(attribute.lower())
        if same_email(found, value):
            return item
    return None


async def find_one(
    client: Lister,
    resource: Resource,
    attribute: str,
    value: str,
    *,
    scan: int = 0,
    log: logging.Logger,
) -> dict[str, Any] | None:
    """The first resource whose ``attribute`` equals ``value`` (by the identity
    rule), if any: :func:`search` with the one filter ``attribute eq value``. Without
    ``scan``, a filter the server does not support raises :class:`NotSupportedError`."""
    expression = filters.eq(attribute, value)

    def match(item: dict[str, Any]) -> bool:
        return matching([item], attribute, value) is not None

    found = await search(client, resource, [expression], match, scan=scan, log=log)
    if found.refused is not None and not scan:
        raise found.refused
    return found.resources[0] if found.resources else None


async def search(
    client: Lister,
    resource: Resource,
    expressions: Sequence[str],
    match: Callable[[dict[str, Any]], bool],
    *,
    scan: int = 0,
    every: bool = False,
    log: logging.Logger,
) -> Search:
    """Every resource ``match`` accepts, whatever the server's filters do.

    Each filter expression in turn, until one finds a resource that ``match``
    accepts (a server may ignore a filter or compare it otherwise, so what it
    returns is checked); with ``every``, all of them, and what each finds is joined
    (by id): expressions over different attributes find different resources, as a
    person's accounts carry one email in ``userName`` or only in ``emails``. A filter
    the server says it does not support (501, or 400 with scimType invalidFilter)
    means the next; so does a bare 400 for any but the
    first (the server's own filter, where a 400 is a failure). When none finds
    anything, up to ``scan`` resources of the listing are read and checked; a scan
    cut at that bound is not ``complete``.
    ``searched`` says what was asked and what each answered."""
    found = Search()
    for expression in expressions:
        try:
            page = await client.list_page(resource, 1, LOOKUP_COUNT, filter=expression)
            items = list(page.resources)
            if len(items) == LOOKUP_COUNT:  # a full page: there may be more
                cursor = PageCursor(
                    page_size=client.page_size, start_index=1 + LOOKUP_COUNT, recover=False
                )
                async for more in client.iterate(
                    resource, filter=expression, cursor=cursor, concurrency=1
                ):
                    items += more
        except (NotSupportedError, InvalidRequestError) as exc:
            exc.subject = f"filter {expression}"
            if isinstance(exc, InvalidRequestError) and expression == expressions[0]:
                raise  # a bare 400 for the server's own filter is a failure
            why = exc.scim_type or exc.detail or "unsupported"
            found.searched.append(f"{expression}: refused (HTTP {exc.status}, {why})")
            found.refused = found.refused or exc
            continue
        matched = [item for item in items if match(item)]
        found.searched.append(f"{expression}: {len(matched)} found")
        known = {str(item.get("id")) for item in found.resources}
        found.resources += [item for item in matched if str(item.get("id")) not in known]
        if found.resources and not every:
            return found
    if found.resources:
        return found
    if scan:
        await _scan(client, resource, match, scan, found, log)
    return found


async def _scan(
    client: Lister,
    resource: Resource,
    match: Callable[[dict[str, Any]], bool],
    limit: int,
    found: Search,
    log: logging.Logger,
) -> None:
    log.info("the filters found no %s: reading up to %d of them", resource, limit)
    # Bounded: it does not try the ways a short walk may recover by; a walk that
    # ends knowing it is short (a server ignoring startIndex) leaves it incomplete.
    cursor = PageCursor(page_size=client.page_size, recover=False)
    read = 0
    walk = client.iterate(resource, cursor=cursor, concurrency=1)
    async with contextlib.aclosing(walk):
        async for items in walk:
            room = limit - read
            found.resources += [item for item in items[:room] if match(item)]
            read += min(len(items), room)
            if len(items) > room or (read >= limit and not cursor.done):
                found.complete = False
                break
        else:
            found.complete = cursor.complete
    what = resource.lower()
    if found.complete:
        found.searched.append(f"all {read} {what} read: {len(found.resources)} matched")
    else:
        found.searched.append(
            f"the first {read} {what} read, not all (a scan stops there): "
            f"{len(found.resources)} matched"
        )
    found.scanned = read
