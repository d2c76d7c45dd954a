"""The async SCIM client: one ``httpx.AsyncClient``, the one retry policy, typed errors.

It speaks SCIM generically (``Users`` and ``Groups`` are just resource names) and returns
plain JSON; the syncs and actions read that JSON through the lenient wire models.
This module is the public face: the SCIM operations. The one way a request is sent
(retry, recovery, one exchange) is its base class in :mod:`._request`; the search by
filter lives in :mod:`._search`, the create-exactly-once in :mod:`._create`; their
public names are re-exported here.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import httpx

from . import _create, _search
from ._constants import CONFIRM_CONCURRENCY, DEFAULT_PAGE_SIZE, PAGE_CONCURRENCY, Resource
from ._create import CreateResult
from ._exchange import Recover, Recovered, json_object
from ._request import DEFAULT_TIMEOUT, ClientStats, Requester
from ._search import Search
from .config import LoomConnection
from .errors import (
    ApiError,
    InputError,
    NotFoundError,
    NotSupportedError,
    ProtocolError,
    WrongUrlError,
)
from .models.scim import (
    Capabilities,
    ListPage,
    WireFormatError,
    parse_list_response,
    parse_service_provider_config,
)
from .pagination import PageCursor, paginate
from .retry import RetryPolicy

__all__ = ["ClientStats", "CreateResult", "LoomScimClient", "Recovered", "Resource", "Search"]

# Capabilities read from each bridge URL's /ServiceProviderConfig, once per process.
_CAPABILITIES: dict[str, Capabilities] = {}


class LoomScimClient(Requester):
    def __init__(
        self,
        connection: LoomConnection,
        *,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        deadline: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_concurrency: int = PAGE_CONCURRENCY,
        log: logging.Logger | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if page_concurrency < 1:
            raise ValueError("page_concurrency must be at least 1")
        super().__init__(
            connection,
            retry=retry,
            timeout=timeout,
            deadline=deadline,
            transport=transport,
            log=log,
            threads=max(page_concurrency, CONFIRM_CONCURRENCY),
        )
        self.page_size = page_size
        # Pages of a walk in flight at once (1: the sequential walk); see pagination.py.
        self.page_concurrency = page_concurrency

    def __repr__(self) -> str:
        return f"LoomScimClient(base_url={self.base_url!r})"

    # -- SCIM operations ----------------------------------------------------------------

    @staticmethod
    def path_of(resource: Resource, resource_id: str | None = None) -> str:
        """The path of a collection, or of one resource: the only place an id becomes
        part of a path. An id is opaque data, sent as exactly one segment: every
        character but RFC 3986's unreserved ones percent-encoded (``/``, ``?``, ``#``,
        ``%`` too), and a segment of only dots (``.``, ``..``) with its dots encoded
        (``%2E``), so that no client, proxy or server resolves it as a dot segment to
        the collection or the base URL. An empty id, which would name the collection
        itself, is refused."""
        if resource_id is None:
            return f"/{resource}"
        if not resource_id:
            raise InputError(
                f"a {resource[:-1].lower()} path",
                {"id": "is empty: it would name the whole collection, not one resource"},
            )
        segment = quote(resource_id, safe="")
        if not segment.strip("."):
            segment = segment.replace(".", "%2E")
        return f"/{resource}/{segment}"

    async def get(self, resource: Resource, resource_id: str) -> dict[str, Any]:
        path = self.path_of(resource, resource_id)
        return json_object("GET", path, await self.request("GET", path))

    async def get_or_none(self, resource: Resource, resource_id: str) -> dict[str, Any] | None:
        """The resource, or ``None`` when the server answers 404 for it.

        A 404 counts only when it comes from the SCIM server, with a SCIM error body
        (its ``schemas`` list the Error URN): a gateway's own JSON, an HTML page, plain
        text or an empty body (a gateway or proxy that does not know the path) raises
        :class:`ProtocolError`, because "gone" is what deletions are built on.
        """
        try:
            return await self.get(resource, resource_id)
        except NotFoundError as exc:
            if not exc.scim_body:
                raise self.named(
                    ProtocolError(
                        "GET",
                        exc.path,
                        status=404,
                        detail="a 404 whose body is not a SCIM error (its schemas do not "
                        "list the SCIM Error URN), as a gateway or proxy sends: the "
                        "resource's absence is not confirmed",
                    )
                ) from None
            return None

    async def list_page(
        self,
        resource: Resource,
        start_index: int,
        count: int | None,
        *,
        filter: str | None = None,
    ) -> ListPage:
        """One page of a collection; ``count=None`` leaves ``count`` out of the request."""
        params: dict[str, str | int] = {"startIndex": start_index}
        if count is not None:
            params["count"] = count
        if filter is not None:
            params["filter"] = filter
        path = self.path_of(resource)
        try:
            body = await self.request("GET", path, params=params)
        except NotFoundError as exc:  # a collection that is not there: the URL is wrong
            raise self.named(WrongUrlError("GET", path, status=404, detail=exc.detail)) from None
        self.stats.pages += 1
        try:
            page = parse_list_response(body)
        except WireFormatError as exc:
            raise self.named(ProtocolError("GET", path, status=200, detail=str(exc))) from None
        self.stats.total = page.total_results
        return page

    def iterate(
        self,
        resource: Resource,
        *,
        filter: str | None = None,
        cursor: PageCursor | None = None,
        concurrency: int | None = None,
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """Every resource, a page at a time in ``startIndex`` order, through the one
        paginator: with up to ``concurrency`` pages in flight (default
        ``page_concurrency``) once the first page allows a plan. Close it
        (``contextlib.aclosing``) when stopping early."""

        async def fetch(start_index: int, count: int | None) -> ListPage:
            return await self.list_page(resource, start_index, count, filter=filter)

        in_flight = self.page_concurrency if concurrency is None else concurrency
        return paginate(
            fetch,
            cursor or PageCursor(page_size=self.page_size),
            concurrency=in_flight,
            throttle=self.throttle,
            # Half as many pages again are asked for ahead when the GET threads alone
            # bound what is in flight (no more threads than pages in flight): a thread
            # need not wait for the event loop (reading and saving the pages before) to
            # hand it the next page. Half: as fast as all at 50 ms a request, and each
            # page held ahead costs memory (about 0.2 MiB parsed).
            queued=in_flight // 2 if self.gets_in_flight_at_most(in_flight) else 0,
        )

    async def find_one(
        self, resource: Resource, attribute: str, value: str, *, scan: int = 0
    ) -> dict[str, Any] | None:
        """The first resource whose ``attribute`` equals ``value`` (by the identity
        rule), if any; see :func:`._search.find_one`."""
        return await _search.find_one(self, resource, attribute, value, scan=scan, log=self._log)

    async def search(
        self,
        resource: Resource,
        expressions: Sequence[str],
        match: Callable[[dict[str, Any]], bool],
        *,
        scan: int = 0,
        every: bool = False,
    ) -> Search:
        """Every resource ``match`` accepts, whatever the server's filters do: each
        filter in turn (``every``: all, joined), then a scan of up to ``scan``
        resources; see :func:`._search.search`."""
        return await _search.search(
            self, resource, expressions, match, scan=scan, every=every, log=self._log
        )

    async def create(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        *,
        key: tuple[str, str],
        find: Recover | None = None,
    ) -> CreateResult:
        """POST a resource exactly once from the caller's view: after a failure that
        may have been applied, and on 409, the resource is looked up by its natural
        ``key`` (or by ``find``); see :func:`._create.create`."""
        return await _create.create(self, resource, body, key=key, find=find)

    async def patch(
        self, resource: Resource, resource_id: str, operations: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any] | None:
        """PATCH with SCIM operations; the body when the server sent one (200), else None (204)."""
        path = self.path_of(resource, resource_id)
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [dict(op) for op in operations],
        }
        try:
            answer = await self.request("PATCH", path, json=body)
        except ApiError as exc:
            exc.subject = ", ".join(str(op.get("path") or "(no path)") for op in operations)
            raise
        return None if answer is None else json_object("PATCH", path, answer)

    async def delete(self, resource: Resource, resource_id: str) -> None:
        await self.request("DELETE", self.path_of(resource, resource_id))

    async def capabilities(self) -> Capabilities:
        """The server's ``/ServiceProviderConfig``, read once per bridge URL in this
        process and kept: PATCH and filter support and the largest page, as hints. A
        server without the endpoint (404, or not SCIM) has unknown capabilities."""
        known = _CAPABILITIES.get(self.base_url)
        if known is None:
            try:
                known = parse_service_provider_config(await self.service_provider_config())
            except (NotFoundError, NotSupportedError, ProtocolError):
                known = Capabilities()
            _CAPABILITIES[self.base_url] = known
        return known

    async def service_provider_config(self) -> dict[str, Any]:
        path = "/ServiceProviderConfig"
        return json_object("GET", path, await self.request("GET", path))
