"""A total deadline per request attempt: a server that drips its answer a byte at a time
(each read returning within the read timeout) no longer hangs a sync or an action.

Against :mod:`tests.drip_server` on loopback, with a deadline of 0.3 s and bytes dripped
every 0.05 s. The CLI runs in a subprocess (:mod:`tests.deadline_cli`, whose retries do
not wait) with a timeout, so code without the deadline fails here instead of hanging.
"""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from loom_scim_connector import LoomConnection, LoomScimClient
from loom_scim_connector.cli import EXIT_FAILURE, EXIT_OK
from loom_scim_connector.errors import ConfigError, DeadlineError
from loom_scim_connector.retry import RetryPolicy, no_wait

from .drip_server import DripState, serve, user

ROOT = Path(__file__).resolve().parents[1]
KEY = "tok-drip-0123456789abcdef"
DEADLINE = 0.3
PROCESS_LIMIT = 30  # seconds: a CLI run that hangs fails the test instead


@pytest.fixture
def dripping() -> Iterator[tuple[DripState, str]]:
    state = DripState(users=[user(f"u{n}", f"person{n}@acme.example") for n in range(3)])
    with serve(state) as url:
        yield state, url


def loom_scim(url: str, *argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LOOM_SCIM_BRIDGE_URL": url,
        "LOOM_SCIM_API_KEY": KEY,
        "LOOM_SCIM_REQUEST_DEADLINE": str(DEADLINE),
        "PYTHONPATH": str(ROOT),
    }
    env.pop("LOOM_SCIM_API_KEY_EXPIRES_AT", None)
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tests.deadline_cli", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=PROCESS_LIMIT,
        check=False,
    )


def error_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr
    return [line for line in stderr.splitlines() if line.startswith("loom-scim: error:")]


@pytest.mark.parametrize("how", ["headers", "body"])
def test_a_dripped_list_page_ends_the_sync_with_the_timeout_error_and_deletes_nothing(
    dripping: tuple[DripState, str], tmp_path: Path, how: str
) -> None:
    state, url = dripping
    store = tmp_path / "s.db"
    first = loom_scim(url, "sync", "users", "--store", str(store), "-q", cwd=tmp_path)
    assert first.returncode == EXIT_OK, first.stderr

    state.drip = lambda method, path: how if (method, path) == ("GET", "/Users") else None
    second = loom_scim(url, "sync", "users", "--store", str(store), "-q", cwd=tmp_path)

    assert second.returncode == EXIT_FAILURE, second.stderr
    (line,) = error_lines(second.stderr)
    assert f"request deadline of {DEADLINE:g} s" in line and "after 5 attempts" in line
    assert "raise LOOM_SCIM_REQUEST_DEADLINE" in line  # the setting to change is named
    with sqlite3.connect(store) as db:
        live = db.execute("SELECT count(*) FROM records WHERE deleted_at IS NULL").fetchone()
        runs = [status for (status,) in db.execute("SELECT status FROM runs ORDER BY run_id")]
    assert live == (3,), "a walk cut by the deadline deleted someone"
    assert runs[0] == "success" and runs[-1] not in ("success", "running"), runs


def test_a_write_whose_answer_drips_looks_before_sending_again_and_creates_once(
    dripping: tuple[DripState, str], tmp_path: Path
) -> None:
    state, url = dripping
    state.drip = lambda method, _path: "body" if method == "POST" else None
    done = loom_scim(
        url, "action", "create-user", "--input", '{"email": "new@acme.example"}', cwd=tmp_path
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(done.stdout)["outcome"] == "recovered"
    assert state.log.count("POST /Users") == 1, state.log
    assert [u["userName"] for u in state.users].count("new@acme.example") == 1


def test_a_write_that_never_gets_an_answer_ends_with_the_timeout_error_posting_once(
    dripping: tuple[DripState, str], tmp_path: Path
) -> None:
    state, url = dripping
    state.drip = lambda _method, _path: "headers"
    done = loom_scim(
        url, "action", "create-user", "--input", '{"email": "new@acme.example"}', cwd=tmp_path
    )
    assert done.returncode == EXIT_FAILURE, done.stderr
    (line,) = error_lines(done.stderr)
    assert f"request deadline of {DEADLINE:g} s" in line
    # The POST may have landed: every later attempt looked it up (and was dripped too).
    assert state.log.count("POST /Users") == 1, state.log


def client_of(url: str, *, threaded: bool) -> LoomScimClient:
    return LoomScimClient(
        LoomConnection.create(url, KEY),
        retry=RetryPolicy(max_attempts=1, sleep=no_wait),
        deadline=DEADLINE,
        # A given transport keeps every request on the event loop.
        transport=None if threaded else httpx.AsyncHTTPTransport(),
    )


@pytest.mark.parametrize("threaded", [True, False], ids=["thread", "event-loop"])
async def test_each_path_stops_a_dripped_get_at_the_deadline_and_closes_it(
    dripping: tuple[DripState, str], threaded: bool
) -> None:
    state, url = dripping
    state.drip = lambda _method, _path: "body"
    client = client_of(url, threaded=threaded)
    try:
        with pytest.raises(DeadlineError, match=r"request deadline of 0\.3 s"):
            await asyncio.wait_for(client.get("Users", "u1"), timeout=10)
        # The request itself stopped (a thread ended its own read): the server sees the
        # connection closed while the client is still open, not a thread dripping on.
        for _ in range(100):
            if state.closed:
                break
            await asyncio.sleep(0.02)
        assert state.closed == 1
    finally:
        await client.aclose()


async def test_without_its_guard_a_thread_is_still_given_up_on_at_the_deadline(
    dripping: tuple[DripState, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If an httpx release hid its pools from ``guard``, the event loop keeps the verdict."""
    state, url = dripping
    state.drip = lambda _method, _path: "headers"
    monkeypatch.setattr("loom_scim_connector._threaded.guard", lambda _client: False)
    client = client_of(url, threaded=True)
    try:
        with pytest.raises(DeadlineError):
            await asyncio.wait_for(client.get("Users", "u1"), timeout=10)
    finally:
        await client.aclose()


def test_the_deadline_is_read_from_the_environment_and_checked() -> None:
    from loom_scim_connector._timeouts import DEFAULT_DEADLINE, configured_deadline

    assert configured_deadline({}) == DEFAULT_DEADLINE == 120
    assert configured_deadline({"LOOM_SCIM_REQUEST_DEADLINE": " 2.5 "}) == 2.5
    for bad in ("0", "-1", "soon", "nan", "inf"):
        with pytest.raises(ConfigError, match="LOOM_SCIM_REQUEST_DEADLINE"):
            configured_deadline({"LOOM_SCIM_REQUEST_DEADLINE": bad})
