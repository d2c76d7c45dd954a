"""An auditor's read-only copy of a store (issue 20, point 10): ``review --no-sync`` and
``offboard --dry-run`` write nothing, so they open the store read-only (SQLite
``mode=ro`` and ``query_only``) and work from a file in a read-only folder."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.cli import EXIT_BAD_INPUT, EXIT_OK
from loom_scim_connector.host.local import open_store
from loom_scim_connector.sandbox import Sandbox
from loom_scim_connector.store import SQLiteStore

from .conftest import cli


@contextlib.contextmanager
def read_only_folder(source: Path, mountpoint: Path) -> Iterator[Path]:
    """``source`` seen through a read-only folder: a read-only bind mount (root ignores
    file modes, not a read-only file system), or, for another user, mode 0555/0444."""
    mountpoint.mkdir()
    if os.geteuid() != 0:
        for path in source.iterdir():
            path.chmod(0o444)
        source.chmod(0o555)
        try:
            yield source
        finally:
            source.chmod(0o755)
        return
    done = subprocess.run(  # noqa: S603 (fixed arguments, no shell)
        [
            "/usr/bin/mount" if Path("/usr/bin/mount").exists() else "/bin/mount",
            "--bind",
            "-o",
            "ro",
            str(source),
            str(mountpoint),
        ],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip("no read-only folder can be made here (mount refused)")
    try:
        with pytest.raises(OSError, match="Read-only file system"):
            (mountpoint / "probe").write_text("x")  # the folder is truly read-only
        yield mountpoint
    finally:
        # Lazily (-l): a store the code under test left open must not keep the mount.
        umount = "/usr/bin/umount" if Path("/usr/bin/umount").exists() else "/bin/umount"
        subprocess.run([umount, "-l", str(mountpoint)], check=True)  # noqa: S603


def stat_of(folder: Path) -> dict[str, Any]:
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())}


def test_review_and_a_dry_run_work_from_a_read_only_folder(env: Sandbox, tmp_path: Path) -> None:
    source = tmp_path / "copy"
    source.mkdir()
    store = source / "store.sqlite3"
    assert cli("sync", "users", "--store", str(store))[0] == EXIT_OK
    member = env.call("GET", "/Users", query={"count": "1"})["Resources"][0]["userName"]
    before = stat_of(source)
    with read_only_folder(source, tmp_path / "ro") as folder:
        code, _, err = cli(
            "review", "--no-sync", "--store", str(folder / store.name), "--html", "r.html"
        )
        assert code == EXIT_OK, err
        assert member in (tmp_path / "r.html").read_text()
        code, out, err = cli("offboard", "--dry-run", "--store", str(folder / store.name), member)
        assert code == EXIT_OK, err
        assert "would_" in out
    assert stat_of(source) == before  # not a byte, not a time stamp changed


def test_a_store_opened_read_only_refuses_every_write(env: Sandbox, tmp_path: Path) -> None:
    store = tmp_path / "store.sqlite3"
    assert cli("sync", "users", "--store", str(store))[0] == EXIT_OK
    before = stat_of(tmp_path)["store.sqlite3"]
    opened = open_store(str(store), env.url, read_only=True)
    assert isinstance(opened, SQLiteStore) and opened.read_only
    assert opened.records("User")
    with pytest.raises(sqlite3.OperationalError, match=r"readonly|read-only|query_only"):
        opened.db.execute("DELETE FROM records")
    opened.close()
    # The store file is untouched (a reader of a WAL file in a writable folder may leave
    # SQLite's shared-memory index beside it: not the store's content).
    assert stat_of(tmp_path)["store.sqlite3"] == before


def test_a_read_only_review_of_no_store_is_one_line(env: Sandbox, tmp_path: Path) -> None:
    code, _, err = cli("review", "--no-sync", "--store", str(tmp_path / "none.sqlite3"))
    assert code == EXIT_BAD_INPUT
    assert "does not exist" in err and not (tmp_path / "none.sqlite3").exists()


ROSTER = str(Path(__file__).parent / "data" / "roster.csv")


def test_reconcile_no_sync_works_from_a_read_only_folder(env: Sandbox, tmp_path: Path) -> None:
    """``reconcile --no-sync`` (without --apply) writes nothing, so, like ``review
    --no-sync``, it opens the store read-only (issue 20's leftovers)."""
    source = tmp_path / "copy"
    source.mkdir()
    store = source / "store.sqlite3"
    assert cli("sync", "users", "--store", str(store))[0] == EXIT_OK
    before = stat_of(source)
    with read_only_folder(source, tmp_path / "ro") as folder:
        code, out, err = cli(
            "reconcile", "--no-sync", "--roster", ROSTER, "--store", str(folder / store.name)
        )
        assert code == EXIT_OK, err
        assert "orphaned (" in out and "Loom: " in out
    assert stat_of(source) == before


def test_reconcile_no_sync_of_no_store_creates_none(env: Sandbox, tmp_path: Path) -> None:
    missing = tmp_path / "none.sqlite3"
    code, _, err = cli("reconcile", "--no-sync", "--roster", ROSTER, "--store", str(missing))
    assert code == EXIT_BAD_INPUT
    assert "the store has no synced users" in err and not missing.exists()
