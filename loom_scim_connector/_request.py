"""The one way a request is sent: the retry loop, recovery, one HTTP exchange.

The base of :class:`~loom_scim_connector.client.LoomScimClient`: one
``httpx.AsyncClient`` with the key, the one retry policy, the counters. Layers, outermost
first: the retry loop (:meth:`Requester.request`) -> recovery (a write whose earlier
attempt may have landed looks first) -> one HTTP exchange, read by :mod:`._exchange`,
each attempt within its total deadline (:mod:`._timeouts`).
"""

from __future__ import annotations

import json as jsonlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import httpx

from ._exchange import (
    ACCEPT,
    SCIM_JSON,
    USER_AGENT,
    Recover,
    Recovered,
    read_answer,
    transport_error,
)
from ._messages import redact
from ._threaded import ThreadedGets
from ._timeouts import DEFAULT_TIMEOUT, configured_deadline, within_deadline
from .config import LoomConnection
from .errors import ApiError, AuthenticationError
from .pagination import Throttle
from .retry import RetryEvent, RetryPolicy

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
E = TypeVar("E", bound=ApiError)

__all__ = ["DEFAULT_TIMEOUT", "ClientStats", "Method", "Requester"]

logger = logging.getLogger("loom_scim_connector")


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    pages: int = 0
    total: int | None = None  # totalResults of the last list page: a hint, for progress only


@dataclass
class _MaybeLanded:
    """Whether an attempt of this request failed in a way that may have been applied."""

    maybe: bool = False


class Requester:
    """The one way a request is sent, under the SCIM operations of
    :class:`~loom_scim_connector.client.LoomScimClient` (its base class)."""

    def __init__(
        self,
        connection: LoomConnection,
        *,
        retry: RetryPolicy | None,
        timeout: httpx.Timeout,
        transport: httpx.AsyncBaseTransport | None,
        log: logging.Logger | None,
        threads: int = 8,
        deadline: float | None = None,
    ) -> None:
        self.connection = connection
        # Seconds each attempt may take in all (None: LOOM_SCIM_REQUEST_DEADLINE, else
        # the default): httpx's timeouts bound one read, not a dripped answer.
        self.deadline = configured_deadline() if deadline is None else deadline
        if not 0 < self.deadline < float("inf"):
            raise ValueError("deadline must be a number of seconds above 0")
        self.retry = retry or RetryPolicy()
        # 429s seen, and until when the server asked to wait: the planned walk slows down.
        self.throttle = Throttle(sleep=self.retry.sleep)
        self.stats = ClientStats()
        self._log = log or logger
        self._secret = connection.api_key.get_secret_value()
        settings: dict[str, Any] = {
            "base_url": connection.base_url + "/",
            "headers": {
                "Authorization": f"Bearer {self._secret}",
                "Accept": ACCEPT,
                "User-Agent": USER_AGENT,
            },
            "timeout": timeout,
            "follow_redirects": False,
            # One TLS context for both clients (as httpx makes it: certifi, or the
            # SSL_CERT_FILE / SSL_CERT_DIR it honours): making one costs about 25 ms.
            "verify": httpx.create_ssl_context(),
        }
        self._http = httpx.AsyncClient(transport=transport, **settings)
        # GETs on the network go through httpx's sync client on a few threads (about half
        # the CPU a request of the async stack costs; see _threaded). A given transport (a
        # test's, the dry run's, the fleet's politeness) keeps the async client for all.
        self._gets = (
            ThreadedGets(httpx.Client(**settings), threads, self.deadline)
            if transport is None
            else None
        )

    @property
    def base_url(self) -> str:
        return self.connection.base_url

    def gets_in_flight_at_most(self, limit: int) -> bool:
        """Whether this client's GETs go through at most ``limit`` threads (so no more
        than ``limit`` are ever in flight, however many are asked for at once)."""
        return self._gets is not None and self._gets.size <= limit

    def on_response(self, hook: Callable[[httpx.Response], Awaitable[None]]) -> None:
        """Call ``hook`` with every response this client receives (retries included):
        how offboarding evidence lists the exchanges it made. Never given a request's
        headers by this client's own code; a hook must not log them (the key is there)."""
        self._http.event_hooks["response"].append(hook)

    async def aclose(self) -> None:
        if self._gets is not None:
            self._gets.close()
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
            exc.earlier_may_have_applied = landed.maybe
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
            response = await self._exchange(method, path.lstrip("/"), params, content, headers)
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise self.named(transport_error(method, path, exc, attempt, self._redact)) from None
        elapsed_ms = (time.perf_counter() - started) * 1000
        self._log.debug("%s %s -> %d in %.0f ms", method, path, response.status_code, elapsed_ms)
        try:
            return read_answer(method, path, response, attempt, self._secret)
        except ApiError as exc:
            self.named(exc)
            raise

    async def _exchange(
        self,
        method: Method,
        path: str,
        params: Mapping[str, str | int] | None,
        content: bytes | None,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        """One attempt's whole answer, within the deadline, else :class:`DeadlineExceeded`."""
        gets = self._gets
        if gets is not None and method == "GET" and not self._http.event_hooks["response"]:
            if gets.guarded:  # its thread ends the request at the deadline by itself
                return await gets.get(path, params)
            sent = gets.get(path, params)
        else:
            sent = self._http.request(method, path, params=params, content=content, headers=headers)
        # The event loop's own timer: for what it sends itself, or a thread httpx hid
        # its pools from (one costs about 1% of a GET's CPU: spared where not needed).
        return await within_deadline(sent, self.deadline)

    def named(self, error: E) -> E:
        """``error``, its advice naming where this connection's settings came from (the
        TOML entry or the environment variable), and a refused key's flaw, if any."""
        if error.origins is None:
            error.origins = self.connection.origins
        if isinstance(error, AuthenticationError):
            error.key_flaw = self.connection.key_flaw
        return error

    def _redact(self, text: str) -> str:
        return redact(text, self._secret)
