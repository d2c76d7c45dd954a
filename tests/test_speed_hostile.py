"""A hostile review of the fast sync path (issue 22): GETs on httpx's sync client on
daemon threads, records encoded once. The public CLI against a raw HTTP stand-in written
here (it answers bytes, so it can send what no well-behaved framework would), one test
for each break, and guards for what the threads must never change (Ctrl-C, deletions)."""

from __future__ import annotations

import base64
import functools
import io
import json
import os
import signal
import socketserver
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from loom_scim_connector.cli import EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, run
from loom_scim_connector.retry import RetryPolicy

KEY = "speed-hostile-key-0123456789"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
# (method, path below /scim/v2, query) -> the raw HTTP response, or None to hang up
Answer = Callable[[str, str, dict[str, str]], bytes | None]


def user(i: int) -> dict[str, Any]:
    email = f"u{i}@acme.example"
    return {"id": str(i), "userName": email, "emails": [{"value": email}], "active": True}


def raw(status: int, body: Any, *headers: str) -> bytes:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    head = [f"HTTP/1.1 {status} X", "content-type: application/scim+json", *headers]
    head.append(f"content-length: {len(data)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


def listing(users: list[dict[str, Any]], query: dict[str, str]) -> bytes:
    start, count = int(query.get("startIndex", "1")), int(query.get("count", "100"))
    window = users[start - 1 : start - 1 + count]
    body = {"schemas": [LIST], "totalResults": len(users), "startIndex": start}
    return raw(200, {**body, "itemsPerPage": len(window), "Resources": window})


def not_found() -> bytes:
    return raw(404, {"schemas": [ERROR], "status": "404", "detail": "not found"})


@contextmanager
def serve(answer: Answer) -> Iterator[str]:
    """Serve ``answer`` on 127.0.0.1, keep-alive, one thread a connection."""

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            while line := self.rfile.readline():
                method, target = line.decode().split(" ")[:2]
                length = 0
                while (header := self.rfile.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                self.rfile.read(length)
                parts = urlsplit(target)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                out = answer(method, parts.path.removeprefix("/scim/v2"), query)
                if out is None:
                    return
                self.wfile.write(out)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/scim/v2"
    finally:
        server.shutdown()
        server.server_close()


def cli(url: str, argv: list[str], monkeypatch: pytest.MonkeyPatch) -> tuple[int, str, str]:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", url)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", KEY)
    monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
    out, err = io.StringIO(), io.StringIO()
    code = run(argv, out=out, err=err, stdin=io.StringIO())
    return code, out.getvalue(), err.getvalue()


def runs(store: Path) -> list[str]:
    with sqlite3.connect(store) as db:
        return [str(row[0]) for row in db.execute("SELECT status FROM runs ORDER BY run_id")]


def deleted(store: Path) -> set[str]:
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT id FROM records WHERE deleted_at IS NOT NULL").fetchall()
    return {str(row[0]) for row in rows}


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """The retry policy's waits, not slept (never sleep for real in a retry test)."""

    async def no_sleep(seconds: float) -> None:
        pass

    policy = functools.partial(RetryPolicy, sleep=no_sleep)
    monkeypatch.setattr("loom_scim_connector._request.RetryPolicy", policy)


# -- a body whose Content-Encoding cannot be decoded ------------------------------------

GARBLED = raw(200, b"\x1f\x8b not gzip at all", "content-encoding: gzip")


def test_a_page_whose_gzip_is_garbled_once_is_retried_like_a_cut_connection(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proxy that mangles one compressed answer: the page was never read, and reading
    it again is harmless. httpx raises DecodingError, which is not a TransportError, so
    it escaped the retry loop and the sync died as a bug: "unexpected DecodingError ...
    please report it" (exit 1), where a cut connection is retried."""
    users = [user(i) for i in range(1, 251)]
    garbled = [1]

    def answer(method: str, path: str, query: dict[str, str]) -> bytes | None:
        if path == "/Users" and query.get("startIndex") == "101" and garbled[0]:
            garbled[0] -= 1
            return GARBLED
        return listing(users, query) if path == "/Users" else not_found()

    with serve(answer) as url:
        code, out, err = cli(url, ["sync", "users", "--store", str(tmp_path / "s")], monkeypatch)
    assert code == EXIT_OK, err
    assert len(out.splitlines()) == 250
    assert "unexpected" not in err
    assert "retrying GET /Users" in err


def test_a_server_whose_gzip_is_always_garbled_fails_in_one_line_not_as_a_bug(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Garbled every time: the retries end, one line says what the server sent; not a
    crash report, and no run of the store is marked a success."""
    users = [user(i) for i in range(1, 251)]

    def answer(method: str, path: str, query: dict[str, str]) -> bytes | None:
        if path == "/Users" and query.get("startIndex") == "101":
            return GARBLED
        return listing(users, query) if path == "/Users" else not_found()

    store = tmp_path / "s.sqlite3"
    with serve(answer) as url:
        code, _, err = cli(url, ["sync", "users", "--store", str(store)], monkeypatch)
    assert code == EXIT_FAILURE, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("loom-scim: error:") and "unexpected" not in last, err
    assert "decode" in last
    assert "success" not in runs(store)


# -- Ctrl-C with GETs in flight on the worker threads ----------------------------------


@contextmanager
def stalling(
    users: list[dict[str, Any]], stall: Callable[[str, dict[str, str]], bool]
) -> Iterator[tuple[str, threading.Event]]:
    """A server that holds (up to 30 s) every request ``stall`` picks; ``hit`` is set at
    the first one, so Ctrl-C lands while worker threads wait on the network."""
    hit, release = threading.Event(), threading.Event()

    def answer(method: str, path: str, query: dict[str, str]) -> bytes | None:
        if stall(path, query):
            hit.set()
            release.wait(30)
        if path == "/Users":
            return listing(users, query)
        found = [u for u in users if f"/Users/{u['id']}" == path]
        return raw(200, found[0]) if found else not_found()

    with serve(answer) as url:
        try:
            yield url, hit
        finally:
            release.set()


def interrupt(url: str, argv: list[str], hit: threading.Event) -> tuple[int, str, float]:
    env = {**os.environ, "LOOM_SCIM_BRIDGE_URL": url, "LOOM_SCIM_API_KEY": KEY}
    env.pop("LOOM_SCIM_API_KEY_EXPIRES_AT", None)
    process = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "loom_scim_connector", *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert hit.wait(60), "the sync never reached the stalled requests"
    time.sleep(0.3)  # every worker thread busy on the network
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    try:
        _, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("Ctrl-C did not end the sync: something waits on the worker threads")
    return process.returncode, err, time.monotonic() - started


def test_ctrl_c_while_worker_threads_wait_on_pages_exits_130_and_leaves_no_output(
    tmp_path: Path,
) -> None:
    users = [user(i) for i in range(1, 1201)]
    store, output = tmp_path / "s.sqlite3", tmp_path / "users.jsonl"
    argv = ["sync", "users", "--store", str(store), "--output", str(output)]
    with stalling(users, lambda path, q: int(q.get("startIndex", "1")) > 500) as (url, hit):
        code, err, took = interrupt(url, argv, hit)
    assert code == EXIT_INTERRUPTED, err
    assert "Traceback" not in err and KEY not in err
    assert "interrupted; nothing was deleted" in err
    assert took < 10
    assert not output.exists(), "a partial --output looks complete"
    assert "success" not in runs(store)


def test_ctrl_c_while_deletions_are_being_confirmed_deletes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users = [user(i) for i in range(1, 301)]
    store = tmp_path / "s.sqlite3"
    argv = ["sync", "users", "--store", str(store)]
    with stalling(users, lambda path, q: path.startswith("/Users/")) as (url, hit):
        assert cli(url, argv, monkeypatch)[0] == EXIT_OK
        del users[:20]  # 20 gone: each is confirmed by a GET, which the server holds
        code, err, _ = interrupt(url, argv, hit)
    assert code == EXIT_INTERRUPTED, err
    assert "Traceback" not in err
    assert deleted(store) == set()
    assert runs(store)[-1] != "success"


# -- the steady-state resync: unchanged rows skipped, a changed one never ---------------


def actions(out: str) -> dict[str, str]:
    lines = [json.loads(line) for line in out.splitlines()]
    return {line["id"]: line["_metadata"]["lastAction"] for line in lines}


def stored(store: Path, rid: str) -> tuple[dict[str, Any], str | None]:
    with sqlite3.connect(store) as db:
        data, gone = db.execute(
            "SELECT data, deleted_at FROM records WHERE id = ?", (rid,)
        ).fetchone()
    return json.loads(data), gone


def test_a_resync_moves_unchanged_rows_but_never_skips_a_changed_or_returning_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store's fast path (a live row whose bytes are the same only moves its
    sighting) must not swallow a change: one field, only ``meta.lastModified``, ``active``;
    nor a record deleted last run that comes back with the very bytes it had."""
    users = [user(i) for i in range(1, 251)]
    for u in users:
        u["meta"] = {"lastModified": "2026-01-01T00:00:00Z"}
    store = tmp_path / "s.sqlite3"
    argv = ["sync", "users", "--store", str(store)]

    def answer(method: str, path: str, query: dict[str, str]) -> bytes | None:
        if path == "/Users":
            return listing(users, query)
        found = [u for u in users if f"/Users/{u['id']}" == path]
        return raw(200, found[0]) if found else not_found()

    with serve(answer) as url:
        assert cli(url, argv, monkeypatch)[0] == EXIT_OK
        users[6]["name"] = {"familyName": "Changed"}
        users[7]["meta"] = {"lastModified": "2026-02-02T00:00:00Z"}
        users[9]["active"] = False
        gone = users.pop(10)  # id 11
        code, out, err = cli(url, argv, monkeypatch)
        assert code == EXIT_OK, err
        second = actions(out)
        users.insert(10, gone)
        code, out, err = cli(url, argv, monkeypatch)
        assert code == EXIT_OK, err
        third = actions(out)

    assert {i: a for i, a in second.items() if a != "UNCHANGED"} == {
        "7": "UPDATED",
        "8": "UPDATED",
        "10": "UPDATED",
        "11": "DELETED",
    }
    assert stored(store, "7")[0]["lastName"] == "Changed"
    assert stored(store, "8")[0]["updatedAt"].startswith("2026-02-02")
    assert stored(store, "10")[0]["active"] is False
    assert third["11"] == "ADDED"
    assert stored(store, "11")[1] is None, "the returning record is still marked deleted"
    assert set(third.values()) == {"UNCHANGED", "ADDED"}


# -- rate limits, on the worker threads' GETs ---------------------------------------------


def test_the_threaded_gets_honour_each_rate_limit_header_the_server_sends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project's retry tests give the client a transport, which keeps the async
    client: only the network path runs GETs on the worker threads. Through it, each of
    Retry-After, RateLimit-Reset and X-RateLimit-Reset (an ISO time) is waited out,
    never less (the waits recorded, not slept)."""
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(
        "loom_scim_connector._request.RetryPolicy", functools.partial(RetryPolicy, sleep=record)
    )
    users = [user(i) for i in range(1, 401)]
    reset = (datetime.now(UTC) + timedelta(seconds=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    limits = {
        "101": "retry-after: 7",
        "201": "ratelimit-reset: 11",
        "301": f"x-ratelimit-reset: {reset}",
    }

    def answer(method: str, path: str, query: dict[str, str]) -> bytes | None:
        header = limits.pop(query.get("startIndex", ""), None)
        if header is not None:
            return raw(429, {"schemas": [ERROR], "status": "429"}, header)
        return listing(users, query) if path == "/Users" else not_found()

    with serve(answer) as url:
        code, out, err = cli(url, ["sync", "users", "--store", str(tmp_path / "s")], monkeypatch)
    assert code == EXIT_OK, err
    assert len(out.splitlines()) == 400
    # each header's wait, as asked plus at most a second of jitter (the planned walk's
    # own pauses, until the same reset, may come beside them)
    assert any(7 <= w <= 8 for w in waits), waits
    assert any(11 <= w <= 12 for w in waits), waits
    assert any(30 <= w <= 41 for w in waits), waits


# -- the key, echoed by a server into what the worker threads read ---------------------


def forms(secret: str) -> list[str]:
    return [
        secret,
        json.dumps(secret)[1:-1].replace("-", "\\u002d"),
        "".join(f"%{b:02X}" for b in secret.encode()),
        base64.b64encode(f"Bearer {secret}".encode()).decode(),
    ]


def test_a_key_echoed_in_broken_http_on_the_worker_threads_never_reaches_any_sink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that answers a GET with a status line, a header line or an error body
    holding the key (raw, JSON-escaped, percent-encoded, base64): each is an exception
    raised on a worker thread and handed to the event loop; none may show the key."""
    echoes = [
        f"HTTP/1.1 2OO {KEY}\r\n\r\n".encode(),
        f"HTTP/1.1 200 OK\r\nx-echo {forms(KEY)[3]}\r\n\r\n".encode(),
        raw(503, {"schemas": [ERROR], "status": "503", "detail": f"bad token {forms(KEY)[1]}"}),
        raw(503, {"schemas": [ERROR], "status": "503", "detail": f"?t={forms(KEY)[2]}"}),
    ]
    users = [user(i) for i in range(1, 251)]

    def answer(method: str, path: str, query: dict[str, str]) -> bytes | None:
        if query.get("startIndex") == "101" and echoes:
            return echoes.pop(0)
        return listing(users, query) if path == "/Users" else not_found()

    store = tmp_path / "s.sqlite3"
    with serve(answer) as url:
        code, out, err = cli(url, ["sync", "users", "--store", str(store)], monkeypatch)
        echoes[:] = [f"HTTP/1.1 2OO {KEY}\r\n\r\n".encode()] * 5
        failed, out2, err2 = cli(url, ["sync", "users", "--store", str(store)], monkeypatch)
    assert code == EXIT_OK, err
    assert failed == EXIT_FAILURE, err2
    assert "[REDACTED]" in err and "[REDACTED]" in err2
    for shown in (out, err, out2, err2):
        for form in forms(KEY):
            assert form not in shown
