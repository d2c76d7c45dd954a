"""A loopback HTTP/1.1 reverse proxy that injects the faults a real network and gateway do.

It sits on 127.0.0.1 (port 0) in front of the sandbox and, at a seeded rate per request,
answers with one fault kind instead of (or after) forwarding:

* ``html_502`` / ``html_503``: a gateway's HTML error page; the request never reaches SCIM;
* ``reset``: the connection is reset (RST) without an answer; the request never arrives;
* ``slow``: the answer is delayed (``slow_delay`` seconds) and then sent whole;
* ``truncated``: forwarded, then the answer's head promises more bytes than are sent;
* ``commit_502`` / ``commit_reset``: forwarded and applied by the server, then the answer
  is lost (an HTML 502, or a reset): a POST that landed but whose answer never came back;
* ``mixed``: each fault draws one of the above.

A ``stand_in`` (a coroutine given each request and a way to forward one) may answer in
the server's place: an empty replica, a replica lacking some users, lookups that turn to
404 mid-run (``faults.py`` defines them).

It counts the faults it injected by kind. Its log (``drain_log``) names each request and its
headers, with the ``Authorization`` value never kept: the proxy never logs or prints it.

    with FaultProxy("127.0.0.1", sandbox.port) as proxy:
        proxy.configure("reset", rate=0.1, seed=7)
        ... point the client at proxy.root + "/scim/v2" ...
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

KINDS = (
    "html_502",
    "html_503",
    "reset",
    "slow",
    "truncated",
    "commit_502",
    "commit_reset",
)
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te"}
)
_PAGE = (
    "<html>\r\n<head><title>{code} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{code} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_PHRASES = {502: "Bad Gateway", 503: "Service Temporarily Unavailable"}


@dataclass
class Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name), None)


@dataclass
class Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes


Forward = Callable[["Request"], Awaitable["Response"]]
StandIn = Callable[["Request", Forward], Awaitable["Response | None"]]


class FaultProxy:
    """The proxy runs its own event loop on a daemon thread; configure it from any thread."""

    stand_in: StandIn | None = None  # answers in the server's place when it returns one

    def __init__(self, upstream_host: str, upstream_port: int, *, slow_delay: float = 0.6):
        self.upstream = (upstream_host, upstream_port)
        self.slow_delay = slow_delay
        self.kind: str | None = None
        self.rate = self.write_rate = 0.0
        self.requests = 0
        self.faults: Counter[str] = Counter()
        self._rng = random.Random(0)
        self._log: list[str] = []
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[Any]] = set()
        self.port = 0

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def configure(
        self, kind: str | None, rate: float = 0.0, seed: int = 0, write_rate: float | None = None
    ) -> None:
        """Inject ``kind`` (``None``: nothing) into a ``rate`` share of requests, and a
        ``write_rate`` share (default: ``rate``) of POST, PUT, PATCH and DELETE."""
        if kind is not None and kind not in (*KINDS, "mixed"):
            raise ValueError(f"unknown fault kind {kind!r}")
        with self._lock:
            self.kind, self.rate, self._rng = kind, rate, random.Random(seed)
            self.write_rate = rate if write_rate is None else write_rate

    def drain_log(self) -> list[str]:
        with self._lock:
            lines, self._log = self._log, []
        return lines

    def _draw(self, method: str) -> str | None:
        with self._lock:
            self.requests += 1
            rate = self.rate if method in ("GET", "HEAD") else self.write_rate
            if self.kind is None or self._rng.random() >= rate:
                return None
            kind = self._rng.choice(KINDS) if self.kind == "mixed" else self.kind
            self.faults[kind] += 1
            return kind

    def _note(self, request: Request, status: int | str, fault: str | None) -> None:
        # Header names, never the Authorization value (nor any other credential's).
        names = ", ".join(
            f"{k}=[REDACTED]" if k.lower() in ("authorization", "cookie") else k
            for k, _ in request.headers
        )
        line = f"{request.method} {request.target} -> {status} {fault or '-'} [{names}]"
        with self._lock:
            self._log.append(line)

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> Self:
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._handle, "127.0.0.1", 0), self._loop
        )
        self._server = started.result(timeout=10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            # Connections still open (a client killed mid-request): cancel their handlers.
            await asyncio.sleep(0.05)
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=2)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- serving ------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # asyncio keeps only weak references to tasks: one waiting on a connection that a
        # killed client left behind would be collected while pending. Keep it until done.
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        keep = True
        try:
            while keep:
                request = await _read_request(reader)
                if request is None:
                    break
                keep = await self._serve(request, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            keep = False
        finally:
            if not writer.transport.is_closing():
                writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, request: Request, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; whether the connection may serve another."""
        closing = (request.header("connection") or "").lower() == "close"
        stand_in = self.stand_in
        if stand_in is not None and (answer := await stand_in(request, self._forward)):
            self._note(request, answer.status, "stand-in")
            await _send(writer, answer, closing)
            return not closing
        fault = self._draw(request.method)
        if fault in ("html_502", "html_503"):
            self._note(request, fault[-3:], fault)
            await _send(writer, _html(int(fault[-3:])), closing)
            return not closing
        if fault == "reset":
            self._note(request, "reset", fault)
            _reset(writer)
            return False
        if fault == "slow":
            await asyncio.sleep(self.slow_delay)
        try:
            response = await self._forward(request)
        except OSError as exc:
            self._note(request, f"upstream {type(exc).__name__}", fault)
            await _send(writer, _html(502), True)
            return False
        self._note(request, response.status, fault)
        if fault == "commit_502":
            await _send(writer, _html(502), closing)
            return not closing
        if fault == "commit_reset":
            _reset(writer)
            return False
        if fault == "truncated":
            await _send(writer, response, True, cut=max(0, len(response.body) // 2))
            return False
        await _send(writer, response, closing)
        return not closing

    async def _forward(self, request: Request) -> Response:
        reader, writer = await asyncio.open_connection(*self.upstream)
        try:
            lines = [f"{request.method} {request.target} HTTP/1.1"]
            lines += [f"{k}: {v}" for k, v in request.headers if k.lower() not in HOP_BY_HOP]
            lines += [f"Content-Length: {len(request.body)}", "Connection: close"]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + request.body)
            await writer.drain()
            raw = await reader.read()  # the sandbox answers HTTP/1.0: the body ends at EOF
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        head, _, body = raw.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        _, code, reason = [*status_line.split(" ", 2), ""][:3]
        headers = [_split(line) for line in header_lines if ":" in line]
        length = next((v for k, v in headers if k.lower() == "content-length"), None)
        if length is not None and length.strip().isdigit():
            body = body[: int(length)]
        return Response(int(code), reason, headers, body)


def _split(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip(), value.strip()


def _html(code: int) -> Response:
    phrase = _PHRASES.get(code, "Error")
    body = _PAGE.format(code=code, phrase=phrase).encode()
    return Response(code, phrase, [("Server", "nginx"), ("Content-Type", "text/html")], body)


async def _send(
    writer: asyncio.StreamWriter, response: Response, close: bool, cut: int = -1
) -> None:
    """Send ``response``; with ``cut`` >= 0, only that many body bytes (the head still
    announces them all), and the connection is closed after."""
    lines = [f"HTTP/1.1 {response.status} {response.reason}"]
    lines += [f"{k}: {v}" for k, v in response.headers if k.lower() not in HOP_BY_HOP]
    announced = len(response.body) if cut < 0 else max(len(response.body), cut + 1)
    lines += [f"Content-Length: {announced}"]
    lines += ["Connection: close" if close or cut >= 0 else "Connection: keep-alive"]
    body = response.body if cut < 0 else response.body[:cut]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    await writer.drain()
    if cut >= 0:
        writer.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a TCP RST (SO_LINGER 0), not a FIN: what a crashed gateway does."""
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None  # the client closed its keep-alive connection
    request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
    method, target, version = request_line.split(" ", 2)
    headers = [_split(line) for line in header_lines if ":" in line]
    req = Request(method, target, version, headers, b"")
    length = int(req.header("content-length") or 0)  # httpx sends no chunked request bodies
    req.body = await reader.readexactly(length) if length else b""
    return req
