"""The async SCIM client: one ``httpx.AsyncClient``, the one retry policy, typed errors.

It speaks SCIM generically (``Users`` and ``Groups`` are just resource names) and returns
plain JSON; the syncs and actions read that JSON through the lenient wire models.
"""

from __future__ import annotations

import contextlib
import json as jsonlib
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import httpx

from . import filters
from ._constants import DEFAULT_PAGE_SIZE, PAGE_CONCURRENCY, SCAN_LIMIT
from ._exchange import (
    ACCEPT,
    SCIM_JSON,
    USER_AGENT,
    read_answer,
    transport_error,
)
from ._messages import redact
from .config import LoomConnection
from .errors import (
    ApiError,
    AuthenticationError,
    ConflictError,
    InputError,
    InvalidRequestError,
    NotFoundError,
    NotSupportedError,
    ProtocolError,
    WrongUrlError,
)
from .identity import same_email
from .models.scim import (
    Capabilities,
    ListPage,
    WireFormatError,
    parse_list_response,
    parse_service_provider_config,
)
from .pagination import PageCursor, Throttle, paginate
from .retry import RetryEvent, RetryPolicy

Resource = Literal["Users", "Groups"]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# How many resources a lookup by filter asks for at first.
LOOKUP_COUNT = 10
# Capabilities read from each bridge URL's /ServiceProviderConfig, once per process.
_CAPABILITIES: dict[str, Capabilities] = {}

logger = logging.getLogger("loom_scim_connector")


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    pages: int = 0
    total: int | None = None  # totalResults of the last list page: a hint, for progress only


Recover = Callable[[], Awaitable[Any]]
"""Look up what an earlier attempt of a write may have created; ``None`` if nothing."""


@dataclass(frozen=True)
class Recovered:
    """A write's answer found by its ``recover`` lookup: an earlier attempt had landed."""

    body: Any


@dataclass
class _MaybeLanded:
    """Whether an attempt of this request failed in a way that may have been applied."""

    maybe: bool = False


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


@dataclass(frozen=True)
class CreateResult:
    """What ``create`` did: ``created`` now, ``existed`` (the server said 409 and the
    resource was found), or ``recovered`` (an earlier attempt had landed after all)."""

    resource: dict[str, Any]
    outcome: Literal["created", "existed", "recovered"]


def _matching(items: Sequence[dict[str, Any]], attribute: str, value: str) -> dict[str, Any] | None:
    for item in items:
        found = {k.lower(): v for k, v in item.items()}.get(attribute.lower())
        if same_email(found, value):
            return item
    return None


class LoomScimClient:
    def __init__(
        self,
        connection: LoomConnection,
        *,
        retry: RetryPolicy | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_concurrency: int = PAGE_CONCURRENCY,
        log: logging.Logger | None = None,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if page_concurrency < 1:
            raise ValueError("page_concurrency must be at least 1")
        self.connection = connection
        self.retry = retry or RetryPolicy()
        self.page_size = page_size
        # Pages of a walk in flight at once (1: the sequential walk); see pagination.py.
        self.page_concurrency = page_concurrency
        # 429s seen, and until when the server asked to wait: the planned walk slows down.
        self.throttle = Throttle(sleep=self.retry.sleep)
        self.stats = ClientStats()
        self._log = log or logger
        self._secret = connection.api_key.get_secret_value()
        self._http = httpx.AsyncClient(
            base_url=connection.base_url + "/",
            headers={
                "Authorization": f"Bearer {self._secret}",
                "Accept": ACCEPT,
                "User-Agent": USER_AGENT,
            },
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"LoomScimClient(base_url={self.base_url!r})"

    @property
    def base_url(self) -> str:
        return self.connection.base_url

    def on_response(self, hook: Callable[[httpx.Response], Awaitable[None]]) -> None:
        """Call ``hook`` with every response this client receives (retries included):
        how offboarding evidence lists the exchanges it made. Never given a request's
        headers by this client's own code; a hook must not log them (the key is there)."""
        self._http.event_hooks["response"].append(hook)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the one way a request is sent ------------------------------------------------

    async def request(
        self,
        method: Method,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        recover: Recover | None = None,
    ) -> Any:
        """Send a request: the one retry loop every request goes through.

        Returns the JSON body, or ``None``. Layers, outermost first: the retry loop
        (here) -> recovery (:meth:`_send_recovering`) -> one HTTP exchange
        (:meth:`_send_once`). With ``recover``, a write whose earlier attempt may have
        landed looks first, and what it finds is returned as :class:`Recovered`.
        """
        result: Any = None
        landed = _MaybeLanded()
        async for attempt in self.retry.retrying(self._on_retry):
            with attempt:
                result = await self._send_recovering(
                    method, path, params, json, recover, landed, attempt.retry_state.attempt_number
                )
        return result

    async def _send_recovering(
        self,
        method: Method,
        path: str,
        params: Mapping[str, str | int] | None,
        body: Any,
        recover: Recover | None,
        landed: _MaybeLanded,
        attempt: int,
    ) -> Any:
        """Before sending a write again, look for what an earlier attempt may have made."""
        if recover is not None and landed.maybe:
            found = await recover()
            if found is not None:
                return Recovered(found)
        try:
            return await self._send_once(method, path, params, body, attempt)
        except ApiError as exc:
            landed.maybe = landed.maybe or exc.may_have_applied
            raise

    def _on_retry(self, event: RetryEvent) -> None:
        self.stats.retries += 1
        error = event.error
        if error.status == 429:
            self.throttle.note(event.wait)
        why = f"HTTP {error.status}" if error.status else (error.detail or error.kind)
        self._log.warning(
            "retrying %s %s in %.1f s after %s (attempt %d of %d)",
            error.method,
            error.path,
            event.wait,
            why,
            event.attempt,
            min(self.retry.max_attempts, error.retry_limit or self.retry.max_attempts),
        )

    async def _send_once(
        self,
        method: Method,
        path: str,
        params: Mapping[str, str | int] | None,
        body: Any,
        attempt: int,
    ) -> Any:
        self.stats.requests += 1
        headers = {"Content-Type": SCIM_JSON} if body is not None else None
        content = jsonlib.dumps(body).encode() if body is not None else None
        started = time.perf_counter()
        try:
            response = await self._http.request(
                method, path.lstrip("/"), params=params, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            raise transport_error(method, path, exc, attempt, self._redact) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._log.debug("%s %s -> %d in %.0f ms", method, path, response.status_code, elapsed_ms)
        try:
            return read_answer(method, path, response, attempt, self._secret)
        except AuthenticationError as exc:  # names where the key came from, and any flaw
            exc.key_origin = self.connection.key_origin
            exc.key_flaw = self.connection.key_flaw
            raise

    def _redact(self, text: str) -> str:
        return redact(text, self._secret)

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
        return self._object("GET", path, await self.request("GET", path))

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
                raise ProtocolError(
                    "GET",
                    exc.path,
                    status=404,
                    detail="a 404 whose body is not a SCIM error (its schemas do not list "
                    "the SCIM Error URN), as a gateway or proxy sends: the resource's "
                    "absence is not confirmed",
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
            raise WrongUrlError("GET", path, status=404, detail=exc.detail) from None
        self.stats.pages += 1
        try:
            page = parse_list_response(body)
        except WireFormatError as exc:
            raise ProtocolError("GET", path, status=200, detail=str(exc)) from None
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

        return paginate(
            fetch,
            cursor or PageCursor(page_size=self.page_size),
            concurrency=self.page_concurrency if concurrency is None else concurrency,
            throttle=self.throttle,
        )

    async def find_one(
        self, resource: Resource, attribute: str, value: str, *, scan: int = 0
    ) -> dict[str, Any] | None:
        """The first resource whose ``attribute`` equals ``value`` (by the identity
        rule), if any: :meth:`search` with the one filter ``attribute eq value``. Without
        ``scan``, a filter the server does not support raises :class:`NotSupportedError`."""
        expression = filters.eq(attribute, value)

        def match(item: dict[str, Any]) -> bool:
            return _matching([item], attribute, value) is not None

        found = await self.search(resource, [expression], match, scan=scan)
        if found.refused is not None and not scan:
            raise found.refused
        return found.resources[0] if found.resources else None

    async def search(
        self,
        resource: Resource,
        expressions: Sequence[str],
        match: Callable[[dict[str, Any]], bool],
        *,
        scan: int = 0,
    ) -> Search:
        """Every resource ``match`` accepts, whatever the server's filters do.

        Each filter expression in turn, until one finds a resource that ``match``
        accepts (a server may ignore a filter or compare it otherwise, so what it
        returns is checked). A filter the server says it does not support (501, or 400
        with scimType invalidFilter) means the next; so does a bare 400 for any but the
        first (the server's own filter, where a 400 is a failure). When none finds
        anything, up to ``scan`` resources of the listing are read and checked; a scan
        cut at that bound is not ``complete``.
        ``searched`` says what was asked and what each answered."""
        found = Search()
        for expression in expressions:
            try:
                page = await self.list_page(resource, 1, LOOKUP_COUNT, filter=expression)
                items = list(page.resources)
                if len(items) == LOOKUP_COUNT:  # a full page: there may be more
                    cursor = PageCursor(
                        page_size=self.page_size, start_index=1 + LOOKUP_COUNT, recover=False
                    )
                    async for more in self.iterate(
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
            found.resources = [item for item in items if match(item)]
            found.searched.append(f"{expression}: {len(found.resources)} found")
            if found.resources:
                return found
        if scan:
            await self._scan(resource, match, scan, found)
        return found

    async def _scan(
        self,
        resource: Resource,
        match: Callable[[dict[str, Any]], bool],
        limit: int,
        found: Search,
    ) -> None:
        self._log.info("the filters found no %s: reading up to %d of them", resource, limit)
        # Bounded: it does not try the ways a short walk may recover by; a walk that
        # ends knowing it is short (a server ignoring startIndex) leaves it incomplete.
        cursor = PageCursor(page_size=self.page_size, recover=False)
        read = 0
        walk = self.iterate(resource, cursor=cursor, concurrency=1)
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

    async def create(
        self,
        resource: Resource,
        body: Mapping[str, Any],
        *,
        key: tuple[str, str],
        find: Recover | None = None,
    ) -> CreateResult:
        """POST a resource exactly once from the caller's view.

        ``key`` is the resource's natural key (``("displayName", name)``): after a failure
        that may have been applied (a timeout after sending, a 5xx), the next attempt first
        looks the resource up by it; on 409 the existing resource is returned. ``find``,
        when given, is that lookup instead (a person is found by email in more places
        than one attribute); it returns the one existing resource, or ``None``.
        """
        path = self.path_of(resource)
        attribute, value = key

        async def lookup() -> Any:
            return await self.find_one(resource, attribute, value, scan=SCAN_LIMIT)

        recover = find or lookup
        try:
            answer = await self.request("POST", path, json=dict(body), recover=recover)
        except ConflictError:
            existing = await recover()
            if existing is None:
                raise
            return CreateResult(self._object("POST", path, existing), "existed")
        if isinstance(answer, Recovered):
            return CreateResult(self._object("POST", path, answer.body), "recovered")
        return CreateResult(self._object("POST", path, answer), "created")

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
        return None if answer is None else self._object("PATCH", path, answer)

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
        return self._object("GET", path, await self.request("GET", path))

    @staticmethod
    def _object(method: str, path: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise ProtocolError(method, path, status=200, detail="expected a JSON object")
        return body
