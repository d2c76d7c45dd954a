"""A stalled run cannot resurrect deletions (issue 18, case 7), with real processes.

Run A lists a page (all 12 users) and is paused (SIGSTOP) before it saves it, past its
lease; run B takes over and deletes the 10 users who left; A resumes (SIGCONT) holding
its stale batch. A's save must be refused in the transaction that would write it (lease
lost), so B's deletions stay and nothing is printed as ADDED. Each run is a process of
its own on one SQLite file, through the public host API (the CLI has no lease option,
and a 30 s lease would make the test slow).
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from .tenant_server import TenantServer

KEY = "key-of-the-workspace-" + "k" * 16
USERS = [f"u-{i:02d}" for i in range(12)]
SCRIPT = """
import asyncio, sys
from loom_scim_connector import LoomConnection, LoomScimError
from loom_scim_connector.host import LocalHost

def show(model, action, record):
    print(action, record["id"], flush=True)

host = LocalHost(
    LoomConnection.create(sys.argv[1], sys.argv[2]), store=sys.argv[3], lease=1.0,
    on_record=show,
)
try:
    report = asyncio.run(host.run_sync("users"))
except LoomScimError as exc:
    print("ERROR", type(exc).__name__, exc, flush=True)
    sys.exit(1)
print("STATUS", report.status, report.deleted, flush=True)
"""


def start(server: TenantServer, store: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", SCRIPT, server.url, KEY, str(store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def stored(store: Path) -> tuple[set[str], set[str]]:
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT id, deleted_at FROM records WHERE model = 'User'").fetchall()
    return {r for r, d in rows if d is None}, {r for r, d in rows if d is not None}


def test_a_run_paused_past_its_lease_cannot_undo_the_deletions_of_the_run_that_took_over(
    tmp_path: Path,
) -> None:
    store = tmp_path / "s.sqlite3"
    with TenantServer({"A": list(USERS)}, {KEY: "A"}) as server:
        first = start(server, store)
        assert first.wait(60) == 0, first.communicate()
        assert stored(store) == (set(USERS), set())

        server.delay = 1.0  # A's page is held while the test pauses A
        listed = sum(line.startswith("GET /scim/v2/Users") for line in server.log)
        stalled = start(server, store)
        wait_for(lambda: sum(ln.startswith("GET /scim/v2/Users") for ln in server.log) > listed)
        os.kill(stalled.pid, signal.SIGSTOP)
        try:
            server.delay = 0.0
            server.tenants["A"] = USERS[:2]  # 10 users leave
            time.sleep(1.5)  # A's lease (1 s) expires while it is paused
            took_over = start(server, store)
            out, err = took_over.communicate(timeout=60)
            assert took_over.returncode == 0, err
            assert "STATUS success 10" in out
            assert stored(store) == (set(USERS[:2]), set(USERS[2:]))
        finally:
            os.kill(stalled.pid, signal.SIGCONT)
        out, err = stalled.communicate(timeout=60)

    assert stored(store) == (set(USERS[:2]), set(USERS[2:])), "a deletion was undone"
    assert stalled.returncode == 1, (out, err)
    assert "ERROR LeaseLostError" in out
    assert "ADDED" not in out
