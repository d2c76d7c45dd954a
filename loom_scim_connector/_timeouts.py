"""How long one request may take: httpx's timeouts per operation, and a total deadline.

httpx's timeouts bound each operation (a connect, a write, one read). A server that
drips a byte a second never trips the read timeout, so one request could last forever
and a sync or an offboarding never reach a verdict. So each attempt of a request also
has a total deadline (connect, send, headers and the whole body): :data:`DEFAULT_DEADLINE`
seconds, or what ``LOOM_SCIM_REQUEST_DEADLINE`` says (:func:`configured_deadline`).

The default, 120 s, is four read timeouts: a slow but honest server may stall three
times almost to the read timeout and still answer, and a page of 100 users (a few
hundred KB) arrives whole at a few KB/s. The worst a request then takes is five
attempts and the retry policy's 120 s of waiting: 12 minutes, inside the fleet's
hour per sync.

It is enforced where each request runs. On the event loop, the exchange is cancelled
(``asyncio.timeout``, in ``_request``). A GET on a thread of ``_threaded`` cannot be
cancelled, so its own client stops itself: :func:`guard` gives each socket operation
(connect, every read and write) at most the time its thread's request has left, so a
dripped read ends at the deadline and the thread is free again (the time it waited for
a free thread counts; a host name's lookup is not a socket operation: the system
resolver's own timeouts bound it). Either way the attempt
fails with :class:`DeadlineExceeded`, an ``httpx.TimeoutException``, which ``_exchange``
turns into a :class:`~.errors.DeadlineError`: a network error like the other timeouts
(retried; a write may have been applied, so it looks before it sends again; exit 1).

A transport that makes a request wait for its turn before it is sent (the fleet's
politeness: a workspace's pause after a 429, up to 5 minutes, or one of its slots) calls
:func:`waiting_for_turn` first and :func:`sent_now` when it sends: the deadline counts
from there, as it counts "from connecting"; the turn itself may take at most what the
transport says more (a Redis gone silent must not hold a request forever). Else a
request that never left this machine failed as a server too slow to answer, and each
retry waited into the same pause.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Awaitable, Iterable, Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import Any, TypeVar

import httpcore
import httpx

from ._constants import ENV_DEADLINE
from .errors import ConfigError

# Each operation: 10 s to connect, 30 s for any one read, write or pooled connection.
_READ = 30.0
DEFAULT_TIMEOUT = httpx.Timeout(_READ, connect=10.0)
# Each attempt, whole: four read timeouts (see above).
DEFAULT_DEADLINE = 4 * _READ


def configured_deadline(environ: Mapping[str, str] | None = None) -> float:
    """Seconds one attempt may take: ``LOOM_SCIM_REQUEST_DEADLINE``, else the default."""
    env = os.environ if environ is None else environ
    text = env.get(ENV_DEADLINE, "").strip()
    if not text:
        return DEFAULT_DEADLINE
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0.0
    if not 0 < seconds < float("inf"):
        raise ConfigError(
            ENV_DEADLINE,
            f"must be a number of seconds above 0 (the default is {DEFAULT_DEADLINE:g})",
        )
    return seconds


class DeadlineExceeded(httpx.TimeoutException):
    """An attempt that did not get its whole answer within the deadline."""

    def __init__(self, seconds: float, request: httpx.Request | None = None) -> None:
        super().__init__(
            f"no whole answer within the request deadline of {seconds:g} s "
            "(connect, send, headers and body)",
            request=request,
        )


T = TypeVar("T")

# The event loop's timer of the request this task is sending, and its seconds.
_loop_timer: ContextVar[tuple[asyncio.Timeout, float] | None] = ContextVar(
    "loom_scim_deadline", default=None
)


async def within_deadline(sent: Awaitable[T], seconds: float) -> T:
    """``await sent``, ended at ``seconds`` (from :func:`sent_now` if it is called)."""
    timer = asyncio.timeout(seconds)
    try:
        async with timer:
            reset = _loop_timer.set((timer, seconds))
            try:
                return await sent
            finally:
                _loop_timer.reset(reset)
    except TimeoutError:
        if not timer.expired():
            raise
        raise DeadlineExceeded(seconds) from None


def waiting_for_turn(at_most: float) -> None:
    """The request this task is sending waits for its turn, not for the server: until
    :func:`sent_now`, it ends ``at_most`` seconds past its deadline counted from now."""
    current = _loop_timer.get()
    if current is not None:
        timer, seconds = current
        timer.reschedule(asyncio.get_running_loop().time() + at_most + seconds)


def sent_now() -> None:
    """The request this task is sending leaves now: its deadline counts from here (a
    wait for the workspace's turn is not the server's slowness)."""
    current = _loop_timer.get()
    if current is not None:
        timer, seconds = current
        timer.reschedule(asyncio.get_running_loop().time() + seconds)


# The deadline of the request this thread is sending (time.monotonic()), and whether
# an operation of it was cut short by the deadline.
_local = threading.local()


class ThreadDeadline:
    """``with ThreadDeadline(ends_at, seconds):`` one request of a :func:`guard`-ed client
    on this thread, ended at ``ends_at``; a timeout the deadline caused is raised as
    :class:`DeadlineExceeded`. (A class, not a generator: a third of the CPU per use.)"""

    __slots__ = ("_ends_at", "_seconds")

    def __init__(self, ends_at: float, seconds: float) -> None:
        self._ends_at = ends_at
        self._seconds = seconds

    def __enter__(self) -> None:
        _local.ends_at, _local.hit = self._ends_at, False

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _local.ends_at = None
        if isinstance(exc, httpx.TimeoutException) and _local.hit:
            raise DeadlineExceeded(self._seconds, _request_of(exc)) from None


def _request_of(exc: httpx.RequestError) -> httpx.Request | None:
    try:
        return exc.request
    except RuntimeError:
        return None


def _bounded(timeout: float | None) -> float | None:
    """``timeout``, or less: the time left to this thread's request."""
    ends_at: float | None = getattr(_local, "ends_at", None)
    if ends_at is None:
        return timeout
    left = ends_at - time.monotonic()
    # Whether this operation is bounded by the deadline: if it times out, it did.
    _local.hit = timeout is None or left <= timeout
    if not _local.hit:
        return timeout
    if left <= 0:
        raise httpcore.ReadTimeout("the request's deadline has passed")
    return left


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, _bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(
            self._backend.connect_tcp(host, port, _bounded(timeout), local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._backend.connect_unix_socket(path, _bounded(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def guard(client: httpx.Client) -> bool:
    """Make each socket operation of ``client`` (its transport and any proxy's) take at
    most the time left to its thread's request (:class:`ThreadDeadline`). httpx
    has no public way to give its pools a network backend: ``False`` when this httpx
    no longer keeps them where they are looked for (tests check it is ``True``); the
    awaiting side still stops at the deadline, but a dripped thread runs on."""
    transports = [client._transport, *client._mounts.values()]
    guarded = True
    for transport in transports:
        if transport is None:
            continue
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if not isinstance(backend, httpcore.NetworkBackend):
            guarded = False
            continue
        if not isinstance(backend, _Backend):
            pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
    return guarded
