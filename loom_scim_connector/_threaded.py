"""GET requests sent by httpx's sync client on a few threads, awaited from the event loop.

Why: per request, httpx's async stack (the connection pool checking each connection
through anyio's socket attributes, the anyio stream wrappers) costs about twice the CPU
of its sync client, and a sync walk of a large workspace is CPU-bound in the client. A
thread blocked in ``recv`` releases the GIL, so a few threads keep as many requests in
flight as the async pool would, at the sync client's cost per request (``make bench``
measures both).

Only the HTTP exchange runs on a thread: the response comes back to the event loop and
is read there by the one reader (``_exchange.read_answer``), under the one retry loop.
The threads are daemons, started as requests need them (up to ``size``): a request left
running when the caller gave up on it (a walk stopped early, a timeout, Ctrl-C) never
holds up the process's exit; its answer is dropped. A GET changes nothing on the server,
so a dropped one is harmless. A thread cannot be cancelled, so each request ends itself
at its deadline (``_timeouts.guard``: every socket operation gets at most the time left):
a server that drips its answer holds a thread no longer than the deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Mapping
from typing import Any

import httpx

from ._timeouts import ThreadDeadline, guard

# The answer's future, its loop, the path, the params, when the deadline ends (monotonic).
_Job = tuple[asyncio.Future[httpx.Response], asyncio.AbstractEventLoop, str, Any, float]


class ThreadedGets:
    """``await gets.get(path, params)``: one GET on a worker thread, its whole body read
    within ``deadline`` seconds of being asked for."""

    def __init__(self, client: httpx.Client, size: int, deadline: float) -> None:
        self._client = client
        # False only if httpx moved its pools: the caller's own deadline still holds.
        self.guarded = guard(client)
        self.size = size  # the most threads, so the most GETs in flight at once
        self._deadline = deadline
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._closed = False

    async def get(self, path: str, params: Mapping[str, str | int] | None) -> httpx.Response:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[httpx.Response] = loop.create_future()
        ends_at = time.monotonic() + self._deadline
        with self._lock:
            if self._closed:
                raise RuntimeError("the client is closed")
            if self._idle == 0 and self._threads < self.size:
                self._threads += 1
                threading.Thread(target=self._work, name="loom-scim-get", daemon=True).start()
            else:
                self._idle -= 1  # this job takes an idle thread (or waits for one)
        self._jobs.put((future, loop, path, params, ends_at))
        return await future

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, loop, path, params, ends_at = job
            if not future.cancelled():
                try:
                    with ThreadDeadline(ends_at, self._deadline):
                        response = self._client.get(path, params=params)
                except BaseException as exc:  # handed to the awaiting task, whatever it is
                    _hand(loop, future, None, exc)
                else:
                    _hand(loop, future, response, None)
                    del response  # an idle thread holds no page
            del job, future
            with self._lock:
                self._idle += 1

    def close(self) -> None:
        """Stop the threads once their current request ends, and close the sync client
        (its idle connections now; one still in use when its request ends)."""
        with self._lock:
            self._closed = True
            threads = self._threads
        for _ in range(threads):
            self._jobs.put(None)
        self._client.close()


def _hand(
    loop: asyncio.AbstractEventLoop,
    future: asyncio.Future[httpx.Response],
    response: httpx.Response | None,
    error: BaseException | None,
) -> None:
    def settle() -> None:
        if future.cancelled():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(response)  # type: ignore[arg-type]

    # A closed loop (RuntimeError): nobody waits for this answer any more.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(settle)
