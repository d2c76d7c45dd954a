"""A raw-socket SCIM stand-in whose answers can stall in ways a byte-dripping server
(:mod:`tests.drip_server`) does not: the body as chunked encoding a chunk at a time,
``100 Continue`` sent again and again instead of an answer, or nothing at all on a
connection kept open. Used by tests/test_deadline_hostile.py.

``state.stall(method, path, query)`` says how to answer: ``None`` at once, or one of
:data:`STALLS`. A stall ends when the client closes the connection or :func:`serve`
ends; ``state.closed`` counts the stalled answers the client gave up on.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import drip_server
from .drip_server import DripState

STALLS = ("chunked", "continue", "silent", "body")
Stall = Callable[[str, str, dict[str, list[str]]], str | None]


@dataclass
class StallState(DripState):
    stall: Stall = lambda _method, _path, _query: None
    stalled: list[str] = field(default_factory=list)


@contextmanager
def serve(state: StallState) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1; yield the base URL (``.../scim/v2``)."""
    with drip_server.serve(state, _connection) as url:
        yield url


def _connection(state: StallState, conn: socket.socket, stop: threading.Event) -> None:
    with conn:
        conn.settimeout(0.2)
        buffered = b""
        while not stop.is_set():
            try:
                while b"\r\n\r\n" not in buffered:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buffered += chunk
                head, _, buffered = buffered.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                fields = (line.partition(":") for line in lines[1:])
                headers = {name.strip().lower(): value.strip() for name, _, value in fields}
                length = int(headers.get("content-length", "0"))
                while len(buffered) < length:
                    buffered += conn.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            raw, buffered = buffered[:length], buffered[length:]
            status, answer = state.answer(method, target, json.loads(raw) if raw else None)
            parts = urlsplit(target)
            path = parts.path.removeprefix("/scim/v2")
            how = state.stall(method, path, parse_qs(parts.query))
            if how is not None:
                with state.lock:
                    state.stalled.append(f"{how} {method} {path}")
            if not _send(state, conn, stop, how, status, answer):
                return


def _send(
    state: StallState,
    conn: socket.socket,
    stop: threading.Event,
    how: str | None,
    status: int,
    answer: Any,
) -> bool:
    body = b"" if status == 204 else json.dumps(answer).encode()
    start = f"HTTP/1.1 {status} X\r\nContent-Type: application/scim+json\r\n"
    try:
        if how is None:
            conn.sendall(f"{start}Content-Length: {len(body)}\r\n\r\n".encode() + body)
            return True
        if how == "chunked":
            conn.sendall(f"{start}Transfer-Encoding: chunked\r\n\r\n".encode())
            pieces = (b"%x\r\n%s\r\n" % (1, bytes([byte])) for byte in body)
        elif how == "body":
            conn.sendall(f"{start}Content-Length: {len(body)}\r\n\r\n".encode())
            pieces = (bytes([byte]) for byte in body)
        elif how == "continue":
            pieces = (b"HTTP/1.1 100 Continue\r\n\r\n" for _ in iter(int, 1))
        else:  # silent: the connection stays open, nothing is sent
            pieces = (b"" for _ in iter(int, 1))
        for piece in pieces:
            if stop.wait(state.every):
                return False
            if piece:
                conn.sendall(piece)
            elif _closed_by_peer(conn):
                raise ConnectionResetError
        while not stop.wait(state.every):  # the answer never ends
            if _closed_by_peer(conn):
                raise ConnectionResetError
    except OSError:
        with state.lock:
            state.closed += 1
    return False


def _closed_by_peer(conn: socket.socket) -> bool:
    try:
        conn.settimeout(0)
        return conn.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        conn.settimeout(0.2)
