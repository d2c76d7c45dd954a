"""One sync per model at a time, the mass-deletion guard, and releasing a held run.

Against the sandbox, through the host and through the real CLI (in-process and as
concurrent processes on one store file).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from scim2_server.requests import ScimRequest
from scim2_server.responses import ScimResponse

from loom_scim_connector.cli import EXIT_BUSY, EXIT_HELD, EXIT_OK, run
from loom_scim_connector.host import LocalHost
from loom_scim_connector.sandbox import Sandbox
from loom_scim_connector.store import SQLiteStore

from .conftest import errors_of, fast_factory, sandbox_connection


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err, stdin=io.StringIO(""))
    return code, out.getvalue(), errors_of(err.getvalue())


@pytest.fixture
def big() -> Iterator[Sandbox]:
    with Sandbox(seed_users=60, seed=11) as sandbox:
        yield sandbox


@pytest.fixture
def env(big: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Sandbox:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", big.url)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", big.token)
    monkeypatch.chdir(tmp_path)
    return big


@contextmanager
def listing_only(sandbox: Sandbox, n: int) -> Iterator[None]:
    """The listing shows only the first ``n`` users, and counts ``n`` (a stale replica,
    a failover): a walk that reads it is complete by every sign the server gives, while
    every lookup by id still finds the others. (A server that lists 10 while counting 60
    leaves the walk knowing it is short: tests/test_trust_walk.py.)"""
    app, serve = sandbox.app, sandbox.app.serve

    def stale(request: ScimRequest) -> ScimResponse:
        response = serve(request)
        body = response.body
        listing = request.method.upper() == "GET" and request.path.strip("/") == "Users"
        if listing and body is not None and "Resources" in body:
            before = int(body.get("startIndex", 1)) - 1
            body["Resources"] = body["Resources"][: max(0, n - before)]
            body["totalResults"], body["itemsPerPage"] = n, len(body["Resources"])
        return response

    app.serve = stale  # type: ignore[method-assign]
    try:
        yield
    finally:
        app.serve = serve  # type: ignore[method-assign]


def deleted_ids(out: str) -> list[str]:
    rows = [json.loads(line) for line in out.splitlines()]
    return sorted(r["id"] for r in rows if r["_metadata"]["lastAction"] == "DELETED")


def test_a_mass_deletion_is_held_then_released_after_review(env: Sandbox) -> None:
    assert cli("sync", "users", "--page-size", "20")[0] == EXIT_OK
    leavers = env.seeded["all"][:30]
    for uid in leavers:
        env.call("DELETE", f"/Users/{uid}")
    code, out, err = cli("sync", "users", "--page-size", "20")
    assert code == EXIT_HELD
    assert deleted_ids(out) == []
    assert "30 User records not seen in two walks" in err
    assert "none was deleted" in err and "--release-held" in err
    store = SQLiteStore("loom-scim.sqlite3", env.url)
    assert len(store.records("User")) == 60
    held_run = store.runs()[0]
    assert (held_run.status, held_run.held) == ("held", 30)
    store.close()

    code, out, err = cli("sync", "users", "--release-held", str(held_run.run_id))
    assert code == EXIT_OK, err
    assert deleted_ids(out) == sorted(leavers)
    again = cli("sync", "users", "--release-held", str(held_run.run_id))
    assert again[0] == 2 and "is released, not held" in again[2]


def test_a_release_still_confirms_each_record(env: Sandbox) -> None:
    """A server that briefly listed only 10 users: the held ones all still exist."""
    assert cli("sync", "users", "--page-size", "10")[0] == EXIT_OK
    with listing_only(env, 10):
        code, out, _ = cli("sync", "users", "--page-size", "10")
    assert code == EXIT_HELD and deleted_ids(out) == []
    store = SQLiteStore("loom-scim.sqlite3", env.url)
    held = store.runs()[0].run_id
    store.close()
    code, out, err = cli("sync", "users", "--release-held", str(held))
    assert code == EXIT_OK and deleted_ids(out) == []
    assert "50 not listed, each looked up: 0 gone, 50 still there" in err


async def test_a_second_walk_that_sees_everyone_deletes_nothing(
    big: Sandbox, tmp_path: Path
) -> None:
    host = LocalHost(
        sandbox_connection(big), store=tmp_path / "s.sqlite3", client_factory=fast_factory(10)
    )
    assert (await host.run_sync("users")).added == 60
    calls = 0
    original = host.manifest.sync("users").function

    async def flaky(ctx: object) -> None:  # the first walk sees 10, the second all 60
        nonlocal calls
        calls += 1
        if calls == 1:
            with listing_only(big, 10):
                await original(ctx)  # type: ignore[arg-type]
        else:
            await original(ctx)  # type: ignore[arg-type]

    sync = host.manifest.sync("users")
    object.__setattr__(sync, "function", flaky)
    try:
        report = await host.run_sync("users")
    finally:
        object.__setattr__(sync, "function", original)
    assert (report.status, report.walks, report.deleted, report.held) == ("success", 2, 0, [])
    assert len(host.records("User")) == 60
    host.close()


def test_a_second_sync_refuses_at_once_naming_the_running_one(env: Sandbox) -> None:
    store = SQLiteStore("loom-scim.sqlite3", env.url, owner="ci-box:4242")
    running = store.begin_run("users", "User", lease=60)
    code, out, err = cli("sync", "users")
    assert code == EXIT_BUSY and out == ""
    assert err.count("\n") == 1
    assert f"run {running.run_id}" in err and running.started_at in err and "ci-box:4242" in err
    assert cli("sync", "groups")[0] == EXIT_OK  # another model is not blocked
    store.close()


async def test_wait_takes_over_when_the_running_sync_finishes(big: Sandbox, tmp_path: Path) -> None:
    other = SQLiteStore(tmp_path / "s.sqlite3", big.url)
    running = other.begin_run("users", "User", lease=60)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:
            other.finish_run(running, "success")

    host = LocalHost(
        sandbox_connection(big),
        store=tmp_path / "s.sqlite3",
        client_factory=fast_factory(20),
        sleep=sleep,
    )
    report = await host.run_sync("users", wait=60)
    assert report.status == "success" and len(waits) == 3
    host.close()
    other.close()


async def test_a_crashed_runs_lease_expires_and_it_becomes_abandoned(
    big: Sandbox, tmp_path: Path
) -> None:
    crashed = SQLiteStore(tmp_path / "s.sqlite3", big.url)
    dead = crashed.begin_run("users", "User", lease=0.001)  # then the process was killed
    host = LocalHost(
        sandbox_connection(big), store=tmp_path / "s.sqlite3", client_factory=fast_factory(20)
    )
    assert (await host.run_sync("users")).status == "success"
    statuses = {r.run_id: r.status for r in host.store.runs()}
    assert statuses[dead.run_id] == "abandoned"
    host.close()
    crashed.close()


def test_concurrent_cli_syncs_on_one_store_never_delete_a_live_user(
    tmp_path: Path,
) -> None:
    """Reproduction: four `loom-scim sync users --store s.db` at once after a full sync
    used to leave hundreds of live users DELETED, every run 'success'."""
    with Sandbox(seed_users=300, seed=5) as sandbox:
        env = {
            **os.environ,
            "LOOM_SCIM_BRIDGE_URL": sandbox.url,
            "LOOM_SCIM_API_KEY": sandbox.token,
        }
        command = [sys.executable, "-m", "loom_scim_connector", "sync", "users"]
        store = ["--store", str(tmp_path / "s.db"), "--page-size", "10"]
        first = subprocess.run(  # noqa: S603
            [*command, *store], env=env, capture_output=True, text=True, check=False
        )
        assert first.returncode == 0, first.stderr
        logs = [(tmp_path / f"out{i}", tmp_path / f"err{i}") for i in range(4)]
        runs = []
        for i, (out_path, err_path) in enumerate(logs):
            with out_path.open("w") as stdout, err_path.open("w") as stderr:
                runs.append(
                    subprocess.Popen(  # noqa: S603
                        [*command, *store, *(["--wait"] if i % 2 else [])],
                        env=env,
                        stdout=stdout,
                        stderr=stderr,
                    )
                )
        codes = [p.wait(timeout=120) for p in runs]
        results = [(c, o.read_text(), e.read_text()) for c, (o, e) in zip(codes, logs, strict=True)]
        for code, out, err in results:
            assert code in (EXIT_OK, EXIT_BUSY), err
            assert '"DELETED"' not in out
        assert any(code == EXIT_OK for code, _, _ in results)
        saved = SQLiteStore(tmp_path / "s.db", sandbox.url)
        assert len(saved.records("User")) == 300
        saved.close()


@pytest.mark.parametrize("where", ["missing", "folder", "not-sqlite"])
def test_a_bad_store_is_one_line_and_exit_2_before_any_request(
    env: Sandbox, tmp_path: Path, where: str
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database\n" * 50)
    store = {"missing": tmp_path / "nope" / "s.db", "folder": tmp_path, "not-sqlite": notes}
    served = env.app.requests_served
    code, out, err = cli("sync", "users", "--store", str(store[where]))
    assert (code, out) == (2, "")
    assert err.startswith("loom-scim: error: store ") and err.count("\n") == 1
    assert "Traceback" not in err
    assert env.app.requests_served == served
    assert notes.read_text() == "not a database\n" * 50
