"""A SCIM stand-in on a raw socket that can drip its answers a byte at a time
(tests/test_deadline.py): each read of the client returns within any read timeout, and
the answer never ends in time. Written apart from the other stand-ins, on purpose: it
needs control of every byte sent.

``state.drip(method, path)`` says how to answer: ``None`` at once, ``"headers"`` the
whole answer a byte at a time (the status line and headers too), ``"body"`` the status
and headers at once, then the body a byte at a time. A connection the client closed
ends its thread at the next byte; so does the end of :func:`serve`. ``state.closed``
counts the dripped answers the client gave up on (it closed the connection).
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
Drip = Callable[[str, str], str | None]


def user(uid: str, email: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "id": uid,
        "userName": email,
        "name": {"givenName": "G", "familyName": "F"},
        "emails": [{"value": email, "primary": True}],
        "active": True,
    }


@dataclass
class DripState:
    users: list[dict[str, Any]] = field(default_factory=list)
    drip: Drip = lambda _method, _path: None
    every: float = 0.05  # seconds between two dripped bytes
    log: list[str] = field(default_factory=list)
    closed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, method: str, target: str, body: Any) -> tuple[int, Any]:
        parts = urlsplit(target)
        path = unquote(parts.path.removeprefix("/scim/v2"))
        query = parse_qs(parts.query)
        with self.lock:
            self.log.append(f"{method} {path}")
            if path == "/ServiceProviderConfig":
                return 200, {"filter": {"supported": True}, "patch": {"supported": True}}
            if path == "/Users" and method == "GET":
                found = self.users
                wanted = query.get("filter", [""])[0].partition('"')[2].rstrip('"]').lower()
                if wanted:
                    found = [u for u in found if _carries(u, wanted)]
                start = int(query.get("startIndex", ["1"])[0])
                page = found[start - 1 : start - 1 + int(query.get("count", ["100"])[0])]
                return 200, {
                    "schemas": [LIST],
                    "totalResults": len(found),
                    "startIndex": start,
                    "itemsPerPage": len(page),
                    "Resources": page,
                }
            if path == "/Users" and method == "POST":
                made = {**body, "id": uuid.uuid4().hex, "active": True}
                self.users.append(made)
                return 201, made
            match = [u for u in self.users if f"/Users/{u['id']}" == path]
            if match and method == "GET":
                return 200, match[0]
            if match and method == "PATCH":
                for op in body.get("Operations", []):
                    if isinstance(op.get("value"), dict):
                        match[0].update(op["value"])
                    elif op.get("path"):
                        match[0][op["path"]] = op.get("value")
                return 200, match[0]
            return 404, {"schemas": [ERROR], "status": "404", "detail": "not found"}


def _carries(item: dict[str, Any], email: str) -> bool:
    emails = [e.get("value", "").lower() for e in item.get("emails", [])]
    return item.get("userName", "").lower() == email or email in emails


Connection = Callable[[Any, socket.socket, threading.Event], None]


@contextmanager
def serve(state: DripState, connection: Connection | None = None) -> Iterator[str]:
    """Serve ``state`` on 127.0.0.1, each connection by ``connection`` (this module's
    dripping answers by default); yield the base URL (``.../scim/v2``)."""
    handle = connection or _connection
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=handle, args=(state, conn, stop), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/scim/v2"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def _connection(state: DripState, conn: socket.socket, stop: threading.Event) -> None:
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
            except TimeoutError:
                continue
            except OSError:
                return
            head, _, buffered = buffered.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            fields = (line.partition(":") for line in lines[1:])
            headers = {name.strip().lower(): value.strip() for name, _, value in fields}
            length = int(headers.get("content-length", "0"))
            while len(buffered) < length:
                buffered += conn.recv(65536)
            raw, buffered = buffered[:length], buffered[length:]
            status, answer = state.answer(method, target, json.loads(raw) if raw else None)
            if not _send(state, conn, stop, method, target, status, answer):
                return


def _send(
    state: DripState,
    conn: socket.socket,
    stop: threading.Event,
    method: str,
    target: str,
    status: int,
    answer: Any,
) -> bool:
    """Send one answer, dripped as ``state.drip`` says; ``False`` once the client left."""
    body = json.dumps(answer).encode()
    head = (
        f"HTTP/1.1 {status} X\r\nContent-Type: application/scim+json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    how = state.drip(method, urlsplit(target).path.removeprefix("/scim/v2"))
    at_once = {None: head + body, "body": head, "headers": b""}[how]
    try:
        conn.sendall(at_once)
        for byte in (head + body)[len(at_once) :]:
            if stop.wait(state.every):
                return False
            conn.sendall(bytes([byte]))
    except OSError:  # the client closed the connection: it gave up on this answer
        with state.lock:
            state.closed += 1
        return False
    return True
