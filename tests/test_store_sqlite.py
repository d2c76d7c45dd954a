"""The SQLite store: the store contract, plus what only a file on disk can get wrong."""

from __future__ import annotations

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.store import SQLiteStore, Store, StoreError, SyncBusyError

from .store_contract import LEASE, FakeClock, MakeStore, StoreContract


class TestSQLiteStore(StoreContract):
    @pytest.fixture
    def make_store(self, tmp_path: Path, clock: FakeClock) -> Iterator[MakeStore]:
        opened: list[SQLiteStore] = []

        def make(key: str = "conn") -> Store:
            store = SQLiteStore(tmp_path / "store.sqlite3", key, clock=clock)
            opened.append(store)
            return store

        yield make
        for store in opened:
            store.close()


def test_a_missing_folder_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"the folder .* does not exist"):
        SQLiteStore(tmp_path / "nope" / "s.sqlite3", "conn")


def test_a_folder_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a folder"):
        SQLiteStore(tmp_path, "conn")


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes, not a database\n" * 100)
    before = notes.read_bytes()
    with pytest.raises(StoreError, match="not a SQLite database"):
        SQLiteStore(notes, "conn")
    assert notes.read_bytes() == before


def test_another_programs_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE records (name TEXT)")
    with pytest.raises(StoreError, match="did not make"):
        SQLiteStore(path, "conn")


def test_a_store_of_the_first_release_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE records (connection TEXT NOT NULL, model TEXT NOT NULL,
                id TEXT NOT NULL, data TEXT NOT NULL, last_seen_run INTEGER NOT NULL,
                first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT,
                PRIMARY KEY (connection, model, id));
            CREATE TABLE runs (run_id INTEGER PRIMARY KEY AUTOINCREMENT,
                connection TEXT NOT NULL, sync TEXT NOT NULL, started_at TEXT NOT NULL,
                finished_at TEXT, status TEXT NOT NULL, error TEXT);
            INSERT INTO records VALUES ('conn', 'User', 'u1', '{"id": "u1"}', 1, 'x', 'x', NULL);
            INSERT INTO runs (connection, sync, started_at, status)
                VALUES ('conn', 'users', 'x', 'success');
            """
        )
    store = SQLiteStore(path, "conn")
    run = store.begin_run("users", "User", lease=LEASE)
    assert run.generation > 1 and store.candidates(run) == ["u1"]
    assert [r["id"] for r in store.finish_run(run, "success", deleted=["u1"])] == ["u1"]
    store.close()
    with sqlite3.connect(path) as db:  # schema 4: the generation that deleted it is kept
        assert db.execute("SELECT deleted_by FROM records").fetchall() == [(run.generation,)]


def test_a_store_of_this_version_is_opened_without_a_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run opens its store: one already of this version is read, not made again
    (no CREATE, no upgrade transaction, no version written)."""
    path = tmp_path / "s.sqlite3"
    SQLiteStore(path, "conn").close()  # made once
    sent: list[str] = []
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        db: sqlite3.Connection = connect(*args, **kwargs)
        db.set_trace_callback(sent.append)
        return db

    monkeypatch.setattr("loom_scim_connector.store._sqlite_db.sqlite3.connect", traced)
    store = SQLiteStore(path, "conn")
    writes = [q for q in sent if q.lstrip().upper().startswith(("CREATE", "ALTER", "BEGIN"))]
    assert writes == [] and not any("user_version =" in q for q in sent), sent
    run = store.begin_run("users", "User", lease=LEASE)  # and it is a working store
    store.finish_run(run, "success")
    store.close()


def _race(
    path: str,
    start: multiprocessing.synchronize.Event,
    results: object,
    done: multiprocessing.synchronize.Event,
) -> None:
    store = SQLiteStore(path, "conn")
    start.wait()
    try:
        run = store.begin_run("users", "User", lease=LEASE)
        results.put(("won", run.run_id))  # type: ignore[attr-defined]
    except SyncBusyError as busy:
        results.put(("busy", busy.run_id))  # type: ignore[attr-defined]
    # Alive until every racer has tried: a winner that exited (even unreaped) holds no
    # lease, and a late racer would rightly take it over.
    done.wait(60)


def test_processes_racing_for_the_lease_get_exactly_one_winner(tmp_path: Path) -> None:
    path = str(tmp_path / "race.sqlite3")
    SQLiteStore(path, "conn").close()
    context = multiprocessing.get_context("spawn")
    start, results, done = context.Event(), context.Queue(), context.Event()
    workers = [context.Process(target=_race, args=(path, start, results, done)) for _ in range(4)]
    for worker in workers:
        worker.start()
    start.set()
    outcomes = [results.get(timeout=60) for _ in workers]
    done.set()
    for worker in workers:
        worker.join(timeout=60)
    winners = [run_id for kind, run_id in outcomes if kind == "won"]
    assert len(winners) == 1
    assert all(run_id == winners[0] for kind, run_id in outcomes if kind == "busy")


def test_the_lease_of_a_killed_process_on_this_machine_is_not_waited_out(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    script = (
        "import os, signal, sys\n"
        "from loom_scim_connector.store import SQLiteStore\n"
        "run = SQLiteStore(sys.argv[1], 'conn').begin_run('users', 'User', lease=3600)\n"
        "print(run.run_id, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=False
    )
    assert killed.returncode == -signal.SIGKILL
    dead_run = int(killed.stdout)
    store = SQLiteStore(path, "conn")
    run = store.begin_run("users", "User", lease=LEASE)  # no SyncBusyError, no hour's wait
    statuses = {r.run_id: r.status for r in store.runs()}
    assert statuses == {dead_run: "abandoned", run.run_id: "running"}
    store.close()


def test_a_record_saved_by_an_older_version_is_unchanged_and_a_corrupt_row_updated() -> None:
    """Stored texts written with other spacing or key order compare as JSON; a stored
    row that is not JSON at all is overwritten as a change, not a failure."""
    from loom_scim_connector.store.base import classify

    assert classify(('{"b": 2, "a": 1}', None), '{"a":1,"b":2}') == "UNCHANGED"
    assert classify(('{"a": 1}', None), '{"a":2}') == "UPDATED"
    assert classify(("not json", None), '{"a":1}') == "UPDATED"
    assert classify(('{"a":1}', "2026-01-01"), '{"a":1}') == "ADDED"


def test_an_exited_unreaped_owner_counts_as_dead() -> None:
    """A SIGKILLed worker's pool processes stay zombies until someone reaps them; they
    hold no lease (the fleet's redelivered sync would wait a busy retry otherwise)."""
    import socket

    from loom_scim_connector.store._owner import is_dead

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        stat = Path(f"/proc/{child.pid}/stat")
        while stat.read_text().rpartition(")")[2].split()[0] != "Z":  # exited, not reaped
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert is_dead(f"{socket.gethostname()}:{child.pid}")
    finally:
        child.wait()
    assert is_dead(f"{socket.gethostname()}:{child.pid}")  # reaped: gone
    assert not is_dead(f"{socket.gethostname()}:{os.getpid()}")
