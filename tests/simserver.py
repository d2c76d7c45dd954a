"""A simulated SCIM server that misbehaves on purpose, for ``httpx.MockTransport``.

It holds users in a deterministic server order and a *listing*: that order, where an id
may appear more than once (a server whose sort is unstable repeats a user on a later
page). ``GET /Users`` serves windows of the listing (``startIndex`` 1-based, ``count``)
as RFC 7644 ListResponses; ``GET /Users/{id}`` answers 200 or a SCIM 404. What goes
wrong is drawn from ``random.Random(seed)`` according to :class:`Behaviour`: mutations
between requests, lying totals, capped or short (never empty) pages, repeated ids, an
ignored ``startIndex`` (page 1 to every request; with or without every user when
``count`` is left out), transient faults, an empty listing (a failover to an empty
replica) or users it leaves out (``hidden``: a lagging replica), and for lookups a
proxy's 404 (HTML, plain text, empty or a gateway's JSON) or a SCIM 404 for everyone,
from the start or after the first N lookups of a run (a key revoked mid-confirmation).
Records may be served unreadable (an empty, missing or non-text id, a lone surrogate,
no email), always for the ids in ``unreadable`` or at random, and a deleted user's
lookup may answer a scrubbed ``200 {"id", "active": false}`` instead of 404.

:mod:`tests.loopback` puts one on 127.0.0.1 for tests of the real CLI.

Two more stand-in behaviours: ``tenants`` maps another bearer token to another
workspace's :class:`SimServer` behind the same URL (a SCIM service that tells tenants
apart by the token alone), and ``at_page`` hooks let a test stall a run mid-walk (run
another sync to completion from inside the hook, as when a process is paused).

It keeps what the invariants need: the users present for the whole of the current run
(:meth:`start_run`, :meth:`stable_ids`) and the final state (:meth:`user_ids`).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote

import httpx

from loom_scim_connector import LoomConnection, LoomScimClient, RetryPolicy, no_wait
from loom_scim_connector.host import LocalHost
from loom_scim_connector.store import SQLiteStore

from .conftest import BASE, SECRET

TotalMode = Literal["true", "page_size", "missing", "negative", "changing", "low"]
Gateway404 = Literal["html", "text", "empty", "json"]
TOTAL_MODES: tuple[TotalMode, ...] = ("true", "page_size", "missing", "negative", "changing", "low")
Unreadable = Literal[
    "empty_id", "no_id", "id_not_text", "surrogate_id", "surrogate_name", "no_email"
]
UNREADABLE: tuple[Unreadable, ...] = (
    "empty_id", "no_id", "id_not_text", "surrogate_id", "surrogate_name", "no_email"
)  # fmt: skip
FAULTS = ("429", "503", "html502", "read_timeout", "connect_error")
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"

Hook = Callable[["SimServer"], None]


@dataclass(frozen=True)
class Behaviour:
    """How the server misbehaves; rates are chances per request (or per page)."""

    total: TotalMode = "true"
    page_cap: int | None = None  # serve at most this many, whatever ``count`` asks
    short_rate: float = 0.0  # a page shorter than asked although more exist
    ignore_start_index: bool = False  # always serve the first page
    no_count_gives_all: bool = False  # a list request without ``count`` gets every user
    mutation_rate: float = 0.0  # a delete, insert or repeat before a request
    fault_rate: float = 0.0  # a transient fault instead of an answer
    max_consecutive_faults: int = 2  # below the client's max_attempts: retries succeed
    gateway_404_rate: float = 0.0  # a lookup answered 404 by a proxy, not by SCIM
    gateway_404: Gateway404 = "html"  # its body: an HTML page, plain text, or nothing
    lookups_404: bool = False  # every lookup by id answers a SCIM 404 (a broken server)
    # lookups by id answer a SCIM 404 once this many have been answered in the run
    lookups_404_after: int | None = None
    empty_listing: bool = False  # lists answer 200 with no resources (an empty replica)
    hide_rate: float = 0.0  # each user left out of this run's listings (a lagging replica)
    unreadable_rate: float = 0.0  # a user served unreadable (listed or looked up)
    scrubbed_tombstones: bool = False  # a deleted user's lookup: 200 {"id", "active": false}


@dataclass
class SimServer:
    """Call it with an ``httpx.Request``; it returns an ``httpx.Response`` (or raises)."""

    seed: int = 0
    behaviour: Behaviour = field(default_factory=Behaviour)
    users: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    listing: list[str] = field(default_factory=list, repr=False)
    # one line per request, then one per mutation or fault it met
    log: list[str] = field(default_factory=list, repr=False)
    list_pages: int = 0  # list requests answered in the current run
    hooks: dict[int, list[Hook]] = field(default_factory=dict, repr=False)  # before list page N
    gateway_ids: set[str] = field(default_factory=set)  # lookups a proxy always answers 404
    hidden: set[str] = field(default_factory=set)  # left out of listings, found by lookup
    lookups: int = 0  # lookups by id answered in the current run
    unreadable: dict[str, Unreadable] = field(default_factory=dict)  # always served so
    removed: set[str] = field(default_factory=set)  # every user ever deleted
    scrubbed: set[str] = field(default_factory=set)  # deleted users answering a scrubbed 200
    served_unreadable: set[str] = field(default_factory=set)  # this run: served unreadable
    _present_at_start: set[str] = field(default_factory=set, repr=False)
    _deleted_in_run: set[str] = field(default_factory=set, repr=False)
    _served: list[str] = field(default_factory=list, repr=False)
    # faults in a row, per request (method and URL): with pages in flight at once, a
    # count shared by all requests would let one request be faulted more times in a row
    _faults_in_a_row: dict[str, int] = field(default_factory=dict, repr=False)
    # another workspace behind the same URL, by bearer token
    tenants: dict[str, SimServer] = field(default_factory=dict, repr=False)
    tenant: str = "acme"  # the domain of its users' emails
    _next_id: int = 1
    _offset: int = 0  # 0-based start of the list request being served
    list_in_flight: int = 0  # list requests received and not yet answered
    max_list_in_flight: int = 0  # the most at once in the current run

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @classmethod
    def with_users(cls, n: int, seed: int = 0, behaviour: Behaviour | None = None) -> SimServer:
        sim = cls(seed=seed, behaviour=behaviour or Behaviour())
        for _ in range(n):
            sim.insert()
        return sim

    # -- state and bookkeeping --------------------------------------------------------

    def start_run(self, behaviour: Behaviour | None = None) -> None:
        """A sync starts now: remember who is present, count its pages from 1."""
        if behaviour is not None:
            self.behaviour = behaviour
        self._present_at_start = set(self.users)
        rate = self.behaviour.hide_rate
        self.hidden = {uid for uid in sorted(self.users) if rate and self.rng.random() < rate}
        self._deleted_in_run = set()
        self._served = []
        self.served_unreadable = set()
        self.list_pages = 0
        self.lookups = 0
        self.max_list_in_flight = 0
        self.hooks = {}

    def stable_ids(self) -> set[str]:
        """Users present on the server from :meth:`start_run` until now."""
        return self._present_at_start - self._deleted_in_run

    def user_ids(self) -> set[str]:
        return set(self.users)

    def at_page(self, page: int, hook: Hook) -> None:
        """Run ``hook`` just before list page ``page`` (1-based) of this run is served."""
        self.hooks.setdefault(page, []).append(hook)

    # -- mutations ----------------------------------------------------------------------

    def insert(self, position: int | None = None) -> str:
        """A new user (a fresh id, never reused) at ``position`` in the order (else last)."""
        uid = f"u{self._next_id:05d}"
        self._next_id += 1
        given, family = f"Given{uid[1:]}", f"Family{uid[1:]}"
        self.users[uid] = {
            "schemas": [USER_SCHEMA],
            "id": uid,
            "userName": f"{given}.{family}@{self.tenant}.example".lower(),
            "name": {"givenName": given, "familyName": family},
            "active": True,
            "externalId": f"00u{uid[1:]}" if self.tenant == "acme" else f"{self.tenant}-{uid}",
            "meta": {"resourceType": "User"},
        }
        where = len(self.listing) if position is None else max(0, position)
        self.listing.insert(min(where, len(self.listing)), uid)
        self.log.append(f"  insert {uid} at {where}")
        return uid

    def delete(self, uid: str) -> None:
        del self.users[uid]
        self.listing = [i for i in self.listing if i != uid]
        self._deleted_in_run.add(uid)
        self.removed.add(uid)
        self.log.append(f"  delete {uid}")

    def repeat(self, uid: str, position: int) -> None:
        """List ``uid`` once more, at ``position`` of the listing."""
        self.listing.insert(min(max(0, position), len(self.listing)), uid)
        self.log.append(f"  repeat {uid} at {position}")

    def mutate(self, count: int = 1, *, anywhere: bool = False, repeats: bool = True) -> None:
        """``count`` random deletions, insertions and (unless not ``repeats``) repeated
        ids, before or after the current offset (or ``anywhere``)."""
        kinds = ("delete", "delete", "insert", "insert", "repeat")
        for _ in range(count):
            kind = self.rng.choice(kinds if repeats else kinds[:4])
            before = self.rng.random() < 0.5
            low, high = (0, self._offset) if before else (self._offset, len(self.listing))
            if anywhere:
                low, high = 0, len(self.listing)
            position = self.rng.randint(low, max(low, high))
            if kind == "insert":
                self.insert(position)
            elif self.listing:
                target = self.listing[min(position, len(self.listing) - 1)]
                if kind == "delete":
                    self.delete(target)
                else:
                    earlier = [uid for uid in self._served if uid in self.users]
                    self.repeat(self.rng.choice(earlier or self.listing), position)

    # -- HTTP -------------------------------------------------------------------------

    async def handle_async(self, request: httpx.Request) -> httpx.Response:
        """As an async server: yields once before answering, so concurrent requests
        overlap (and may be answered out of order), counting list requests in flight."""
        listing = request.url.path.rstrip("/").endswith(("/Users", "/Groups"))
        self.list_in_flight += listing
        self.max_list_in_flight = max(self.max_list_in_flight, self.list_in_flight)
        try:
            await asyncio.sleep(0)
            return self(request)
        finally:
            self.list_in_flight -= listing

    def __call__(self, request: httpx.Request) -> httpx.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        tenant = self.tenants.get(token, self)
        if tenant is not self:
            return tenant(request)
        parts = [unquote(p) for p in request.url.path.split("/") if p]
        self.log.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        if self.rng.random() < self.behaviour.mutation_rate:
            self.mutate()
        fault = self._fault(request)
        if fault is not None:
            return fault
        if request.method != "GET":
            return _error(405, f"{request.method} is not simulated")
        if parts[-1] in ("Users", "Groups"):
            return self._list(request, parts[-1])
        if len(parts) >= 2 and parts[-2] in ("Users", "Groups"):
            return self._lookup(parts[-1] if parts[-2] == "Users" else "")
        return _error(404, "no such endpoint")

    def _fault(self, request: httpx.Request) -> httpx.Response | None:
        """A transient fault the client retries, or ``None``; never too many in a row."""
        b = self.behaviour
        key = f"{request.method} {request.url}"
        in_a_row = self._faults_in_a_row.pop(key, 0)
        if in_a_row >= b.max_consecutive_faults or self.rng.random() >= b.fault_rate:
            return None
        self._faults_in_a_row[key] = in_a_row + 1
        kind = self.rng.choice(FAULTS)
        self.log.append(f"  fault {kind}")
        if kind == "read_timeout":
            raise httpx.ReadTimeout("simulated read timeout", request=request)
        if kind == "connect_error":
            raise httpx.ConnectError("simulated connection refused", request=request)
        if kind == "429":
            return _error(429, "too many requests", {"Retry-After": "0"})
        if kind == "503":
            return _error(503, "service unavailable")
        return _html(502, "502 Bad Gateway")

    def _list(self, request: httpx.Request, resource: str) -> httpx.Response:
        if resource == "Groups":
            return _json(200, {"schemas": [LIST_SCHEMA], "totalResults": 0, "Resources": []})
        b = self.behaviour
        asked = request.url.params.get("count")
        everything = asked is None and b.no_count_gives_all
        count = len(self.listing) if everything else max(0, int(asked or 100))
        start = 1 if b.ignore_start_index else max(1, int(request.url.params.get("startIndex", 1)))
        self._offset = start - 1
        self.list_pages += 1
        for hook in self.hooks.get(self.list_pages, []):
            hook(self)
        size = count if b.page_cap is None or everything else min(count, b.page_cap)
        listing = self.listing
        if b.empty_listing or self.hidden:
            listing = [] if b.empty_listing else [i for i in listing if i not in self.hidden]
        window = listing[start - 1 : start - 1 + size]
        more = start - 1 + len(window) < len(listing)
        if len(window) > 1 and more and self.rng.random() < b.short_rate:
            window = window[: self.rng.randint(1, len(window) - 1)]  # never empty
        self._served.extend(window)
        body: dict[str, Any] = {
            "schemas": [LIST_SCHEMA],
            "startIndex": start,
            "itemsPerPage": len(window),
            "Resources": [self._as_served(uid) for uid in window],
        }
        total = 0 if b.empty_listing else self._total(count)
        if total is not None:
            body["totalResults"] = total
        return _json(200, body)

    def _total(self, count: int) -> int | None:
        true, mode = len(self.users) - len(self.hidden & self.users.keys()), self.behaviour.total
        if mode == "missing":
            return None
        if mode == "page_size":
            return count
        if mode == "negative":
            return -self.rng.randint(1, 3)
        if mode == "changing":
            return self.rng.randint(0, 2 * true + 1)
        if mode == "low":
            return max(0, true - self.rng.randint(1, max(1, true)))
        return true

    def _lookup(self, uid: str) -> httpx.Response:
        b = self.behaviour
        self.lookups += 1
        if uid in self.gateway_ids or self.rng.random() < b.gateway_404_rate:
            return _gateway_404(b.gateway_404)
        late = b.lookups_404_after is not None and self.lookups > b.lookups_404_after
        scrubbed = uid in self.scrubbed or (uid in self.removed and b.scrubbed_tombstones)
        if scrubbed and uid not in self.users:
            return _json(200, {"id": uid, "active": False})
        if b.lookups_404 or late or uid not in self.users:
            return _error(404, f"User {uid} not found")
        return _json(200, self._as_served(uid))

    def _as_served(self, uid: str) -> dict[str, Any]:
        """The user as served this time: as stored, or unreadable (see ``UNREADABLE``)."""
        kind = self.unreadable.get(uid)
        rate = self.behaviour.unreadable_rate
        if kind is None and rate > 0 and self.rng.random() < rate:  # no draw at rate 0
            kind = self.rng.choice(UNREADABLE)
        user = self.users[uid]
        if kind is None:
            return user
        self.log.append(f"  unreadable {uid}: {kind}")
        self.served_unreadable.add(uid)
        served = {**user, "name": dict(user["name"])}
        if kind == "empty_id":
            served["id"] = ""
        elif kind == "no_id":
            del served["id"]
        elif kind == "id_not_text":
            served["id"] = {"value": uid}
        elif kind == "surrogate_id":
            served["id"] = uid + "\udc3c"
        elif kind == "surrogate_name":
            served["name"]["givenName"] += "\udc3c"
        else:
            del served["userName"]
        return served


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/scim+json", **(headers or {})},
    )


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    return _json(status, body, headers)


def _html(status: int, title: str) -> httpx.Response:
    page = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    return httpx.Response(status, text=page, headers={"Content-Type": "text/html"})


def sim_host(
    sim: SimServer,
    store: Path,
    page_size: int = 100,
    *,
    key: str = SECRET,
    clock: Callable[[], float] | None = None,
) -> LocalHost:
    """A LocalHost on a SQLite file whose clients talk to ``sim`` and never sleep; with
    ``key`` as its API key, and leases on ``clock`` when given (a fake one expires them)."""

    def factory(conn: LoomConnection) -> LoomScimClient:
        return LoomScimClient(
            conn,
            retry=RetryPolicy(sleep=no_wait),
            transport=httpx.MockTransport(sim.handle_async),
            page_size=page_size,
        )

    where: Path | SQLiteStore = store if clock is None else SQLiteStore(store, BASE, clock=clock)
    return LocalHost(LoomConnection.create(BASE, key), store=where, client_factory=factory)


def deleted_ids(host: LocalHost) -> set[str]:
    """Ids the store has marked DELETED."""
    rows = host.records("User", include_deleted=True)
    return {str(r["id"]) for r in rows if "_deletedAt" in r}


def _gateway_404(kind: Gateway404) -> httpx.Response:
    """A 404 from a proxy in front of the SCIM server: it says nothing about the user."""
    if kind == "html":
        return _html(404, "404 Not Found")
    if kind == "text":  # Go's net/http and Traefik
        return httpx.Response(
            404, text="404 page not found\n", headers={"Content-Type": "text/plain"}
        )
    if kind == "json":  # an API gateway's own JSON (AWS API Gateway, Kong): not SCIM's
        return httpx.Response(
            404, json={"message": "Not Found"}, headers={"Content-Type": "application/json"}
        )
    return httpx.Response(404)
