"""Saving off the event loop (``host/context.py``): a batch is saved on a worker thread,
the await returns once it is committed, the store lets one thread at a time use its
connection, and a run cancelled mid-save neither loses nor halves the batch."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector import LoomConnection
from loom_scim_connector.store import Run, SQLiteStore

from .conftest import Script
from .test_host import IDS, pages, scripted_host

WAIT = 10.0  # seconds a step may take before the test calls it stuck (never slept)


@pytest.fixture
def blocked_save(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """``(inside, go)``: a save made off the main thread stops inside its transaction
    (after the lease check, before any record is written), sets ``inside`` and waits
    for ``go``."""
    inside, go = threading.Event(), threading.Event()
    original = SQLiteStore._check_lease

    def check(self: SQLiteStore, db: sqlite3.Connection, run: Run) -> None:
        original(self, db, run)
        if threading.current_thread() is not threading.main_thread() and not inside.is_set():
            inside.set()
            assert go.wait(WAIT), "the test never let the save go on"

    monkeypatch.setattr(SQLiteStore, "_check_lease", check)
    yield inside, go
    go.set()


async def test_a_batch_is_saved_off_the_loop_and_committed_when_the_await_returns(
    connection: LoomConnection, tmp_path: Path
) -> None:
    """The save runs on another thread than the event loop, and each record the host
    reports (after ``await ctx.batch_save``) is already in the store."""
    host = scripted_host(connection, tmp_path / "s.sqlite3", Script(pages(IDS, 2)))
    loop_thread = threading.get_ident()
    saved_on: list[int] = []
    original = host.store.save

    def spy(run: Run, records: Any) -> Any:
        saved_on.append(threading.get_ident())
        return original(run, records)

    host.store.save = spy  # type: ignore[method-assign]
    reported: list[str] = []

    def on_record(model: str, action: str, record: dict[str, Any]) -> None:
        assert [r["id"] for r in host.store.records(model, ids=[record["id"]])] == [record["id"]]
        reported.append(record["id"])

    host.on_record = on_record
    report = await host.run_sync("users")
    host.close()
    assert report.status == "success"
    assert sorted(reported) == sorted(IDS)
    assert saved_on and loop_thread not in saved_on


async def test_the_event_loop_runs_while_a_batch_is_being_saved(
    connection: LoomConnection, tmp_path: Path
) -> None:
    """The save waits for a callback that only the event loop can run: the loop must
    be free while the database works."""
    host = scripted_host(connection, tmp_path / "s.sqlite3", Script(pages(IDS, 2)))
    loop = asyncio.get_running_loop()
    original = host.store.save
    waited: list[bool] = []

    def save(run: Run, records: Any) -> Any:
        ran = threading.Event()
        loop.call_soon_threadsafe(ran.set)
        waited.append(ran.wait(WAIT))
        return original(run, records)

    host.store.save = save  # type: ignore[method-assign]
    report = await host.run_sync("users")
    host.close()
    assert report.status == "success"
    assert waited and all(waited), "the event loop was blocked by the save"


def _in_thread(work: Callable[[], object]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the test
            errors.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, errors


def _filled(tmp_path: Path) -> tuple[SQLiteStore, Run, list[dict[str, Any]]]:
    store = SQLiteStore(tmp_path / "s.sqlite3", "https://x.example")
    run = store.begin_run("users", "User", lease=600)
    return store, run, [{"id": f"u{i}", "userName": f"u{i}@x.example"} for i in range(50)]


def test_one_thread_at_a_time_uses_a_sqlite_store(
    tmp_path: Path, blocked_save: tuple[threading.Event, threading.Event]
) -> None:
    """A heartbeat from another thread waits for the save in progress, then runs: no
    transaction begun inside another's, no same-thread error."""
    inside, go = blocked_save
    store, run, records = _filled(tmp_path)
    saver, save_errors = _in_thread(lambda: store.save(run, records))
    assert inside.wait(WAIT)
    beater, beat_errors = _in_thread(lambda: store.heartbeat(run, lease=600))
    beater.join(0.2)
    assert beater.is_alive(), "the heartbeat used the connection while a save held it"
    go.set()
    saver.join(WAIT)
    beater.join(WAIT)
    assert (save_errors, beat_errors) == ([], [])
    assert len(store.records("User")) == 50
    store.close()


def test_closing_a_sqlite_store_waits_for_the_save_in_progress(
    tmp_path: Path, blocked_save: tuple[threading.Event, threading.Event]
) -> None:
    """Closed while a save is inside its transaction (Ctrl-C, then the CLI's cleanup):
    the save commits whole first; the store is never closed under it."""
    inside, go = blocked_save
    store, run, records = _filled(tmp_path)
    saver, save_errors = _in_thread(lambda: store.save(run, records))
    assert inside.wait(WAIT)
    closer, close_errors = _in_thread(store.close)
    closer.join(0.2)
    assert closer.is_alive(), "the store was closed under a save in progress"
    go.set()
    saver.join(WAIT)
    closer.join(WAIT)
    assert (save_errors, close_errors) == ([], [])
    again = SQLiteStore(tmp_path / "s.sqlite3", "https://x.example")
    assert len(again.records("User")) == 50
    again.close()


async def test_a_run_cancelled_during_a_save_ends_after_the_batch_commits_whole(
    connection: LoomConnection,
    tmp_path: Path,
    blocked_save: tuple[threading.Event, threading.Event],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Ctrl-C while a batch is in the database: the batch commits whole (or not at all)
    on its thread before the run's end (``cancelled``) is written, and nothing is lost."""
    monkeypatch.setattr("loom_scim_connector.syncs._run.SAVE_BATCH", 6)
    inside, go = blocked_save
    host = scripted_host(connection, tmp_path / "s.sqlite3", Script(pages(IDS, 2)))
    task = asyncio.ensure_future(host.run_sync("users"))
    assert await asyncio.to_thread(inside.wait, WAIT)
    task.cancel()  # the save is inside its transaction, on its thread
    timer = threading.Timer(0.2, go.set)  # the run's end must wait for it meanwhile
    timer.start()
    with pytest.raises(asyncio.CancelledError):
        await task
    timer.join()
    host.close()
    with sqlite3.connect(tmp_path / "s.sqlite3") as db:
        status = db.execute("SELECT status FROM runs ORDER BY run_id DESC").fetchone()
        ids = sorted(row[0] for row in db.execute("SELECT id FROM records"))
    assert status == ("cancelled",)
    assert ids == sorted(IDS)
