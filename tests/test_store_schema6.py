"""Schema 6: a store of schema 5 (each record's last sighting a column of its row) is moved
to the sightings table on open, whole and in one transaction, by both stores; a SQLite
store of schema 5 opened read-only is read as it is.

The schema-5 stores are made with today's code, then given schema 5's records table (its
DDL as schema 5 wrote it, the sightings moved back into it), so each holds runs, deleted
records (one deleted before schema 4, ``deleted_by`` NULL) and several connections and
models, as a store in use does.
"""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.cli import EXIT_OK
from loom_scim_connector.sandbox import Sandbox
from loom_scim_connector.store import Run, SQLiteStore, Store, StoreError

from .conftest import cli
from .store_contract import LEASE, user

Rows = dict[tuple[str, str, str], tuple[Any, ...]]
# Every record's facts: data, last sighting, first seen, updated, deleted at, deleted by.
FACTS = "r.data, s.last_seen_run, r.first_seen_at, r.updated_at, r.deleted_at, r.deleted_by"
FACTS_5 = FACTS.replace("s.last_seen_run", "r.last_seen_run")
JOINED = (
    "records r JOIN sightings s"
    " ON s.connection = r.connection AND s.model = r.model AND s.id = r.id"
)
# Schema 5's records table (its DDL as schema 5 wrote it), the sightings moved back in.
MOVE_BACK = """
BEGIN;
ALTER TABLE records RENAME TO records6;
CREATE TABLE records (
    connection TEXT NOT NULL, model TEXT NOT NULL, id TEXT NOT NULL,
    data TEXT NOT NULL, last_seen_run INTEGER NOT NULL,
    first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT,
    deleted_by INTEGER,
    PRIMARY KEY (connection, model, id)
);
INSERT INTO records SELECT r.connection, r.model, r.id, r.data, s.last_seen_run,
    r.first_seen_at, r.updated_at, r.deleted_at, r.deleted_by
    FROM records6 r JOIN sightings s USING (connection, model, id);
DROP TABLE records6;
DROP TABLE sightings;
UPDATE records SET deleted_by = NULL WHERE id = 'u9';
PRAGMA user_version = 5;
COMMIT;
"""


def fill(open_store: Callable[[str], Store]) -> int:
    """Two connections, two models, live and deleted records: the last generation."""
    a, b = open_store("conn-a"), open_store("conn-b")
    run = a.begin_run("users", "User", lease=LEASE)
    a.save(run, [user("u1"), user("u2"), user("u3"), user("u4")])
    a.finish_run(run, "success")
    run = a.begin_run("users", "User", lease=LEASE)
    a.save(run, [user("u1"), user("u2", role="admin")])
    a.finish_run(run, "success", deleted=["u3"])  # u4 unseen, kept (not deleted)
    run = a.begin_run("groups", "Group", lease=LEASE)
    a.save(run, [{"id": "g1", "displayName": "Staff"}])
    a.finish_run(run, "success")
    run = b.begin_run("users", "User", lease=LEASE)
    b.save(run, [user("u1", name="other workspace"), user("u9")])
    b.finish_run(run, "success")
    run = b.begin_run("users", "User", lease=LEASE)
    b.save(run, [user("u1", name="other workspace")])
    b.finish_run(run, "success", deleted=["u9"])
    a.close()
    b.close()
    return run.generation


def expected_after(store: Store, last: int) -> None:
    """What a run after the move finds: the same candidates and actions as before it."""
    run = store.begin_run("users", "User", lease=LEASE)
    assert run.generation > last
    assert store.candidates(run) == ["u1", "u2", "u4"]
    assert store.live_sample("User", limit=2) == ["u1", "u2"]  # most recently seen first
    saved = store.save(run, [user("u1"), user("u3"), user("u4", role="new")])
    assert [a for a, _ in saved] == ["UNCHANGED", "ADDED", "UPDATED"]
    assert store.candidates(run) == ["u2"]
    assert sorted(store.seen_sample(run, limit=5)) == ["u1", "u3", "u4"]
    assert [r["id"] for r in store.finish_run(run, "success", deleted=["u2"])] == ["u2"]


# -- SQLite ---------------------------------------------------------------------------


@contextlib.contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(path, isolation_level=None)
    try:
        yield db
    finally:
        db.close()


def sqlite_rows(db: sqlite3.Connection, facts: str, source: str) -> Rows:
    query = f"SELECT r.connection, r.model, r.id, {facts} FROM {source}"  # noqa: S608
    return {tuple(row[:3]): tuple(row[3:]) for row in db.execute(query)}


def sqlite_schema5(path: Path) -> Rows:
    """Make a store of schema 5 at ``path``; return its records' facts."""
    last = fill(lambda key: SQLiteStore(path, key))
    with raw(path) as db:
        db.executescript(MOVE_BACK)
        rows = sqlite_rows(db, FACTS_5, "records r")
    assert len(rows) == 7 and rows[("conn-b", "User", "u9")][-1] is None
    assert max(row[1] for row in rows.values()) == last
    return rows


def test_a_sqlite_store_of_schema_5_is_moved_whole_on_open(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    before = sqlite_schema5(path)
    store = SQLiteStore(path, "conn-a")
    with raw(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (6,)
        columns = {row[1] for row in db.execute("PRAGMA table_info(records)")}
        assert "last_seen_run" not in columns
        assert sqlite_rows(db, FACTS, JOINED) == before
        assert db.execute("SELECT COUNT(*) FROM sightings").fetchone() == (len(before),)
    expected_after(store, max(row[1] for row in before.values()))
    store.close()


def test_a_sqlite_store_of_schema_5_is_read_as_it_is_when_opened_read_only(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    before = sqlite_schema5(path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    store = SQLiteStore(path, "conn-a", read_only=True)
    last = max(row[1] for row in before.values())
    later = Run(last + 1, "users", "User", last + 1, "now", "me")
    assert store.candidates(later) == ["u1", "u2", "u4"]
    assert store.live_sample("User", limit=2) == ["u1", "u2"]
    assert store.live_count("User") == 3 and store.live_count("Group") == 1
    second = before[("conn-a", "User", "u1")][1]  # the generation that saw u1 and u2 last
    assert sorted(store.seen_sample(Run(1, "users", "User", second, "x", "me"))) == ["u1", "u2"]
    with pytest.raises(sqlite3.OperationalError):
        store.db.execute("DELETE FROM records")
    store.close()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    with raw(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (5,)


def test_a_sqlite_move_that_fails_leaves_the_store_of_schema_5_as_it_was(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.sqlite3"
    before = sqlite_schema5(path)
    with raw(path) as db:  # something in the way: the copy fails halfway through the move
        db.execute("CREATE TABLE sightings (connection TEXT, model TEXT, id TEXT)")
    with pytest.raises(StoreError, match="last_seen_run"):
        SQLiteStore(path, "conn-a")
    with raw(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (5,)
        assert sqlite_rows(db, FACTS_5, "records r") == before
        assert db.execute("SELECT COUNT(*) FROM sightings").fetchone() == (0,)
    reader = SQLiteStore(path, "conn-a", read_only=True)  # still readable meanwhile
    assert reader.live_sample("User", limit=1) == ["u1"]
    reader.close()


def test_review_reads_a_store_of_schema_5_read_only_and_a_sync_moves_it(
    env: Sandbox, tmp_path: Path
) -> None:
    store = tmp_path / "s.sqlite3"
    assert cli("sync", "users", "--store", str(store))[0] == EXIT_OK
    with raw(store) as db:
        db.executescript(MOVE_BACK)
    before = store.read_bytes()
    code, _, err = cli("review", "--no-sync", "--store", str(store), "--html", "r.html")
    assert code == EXIT_OK, err
    assert store.read_bytes() == before  # nothing written
    wal = Path(f"{store}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    code, _, err = cli("sync", "users", "--store", str(store))
    assert code == EXIT_OK, err
    with raw(store) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (6,)
        assert (
            db.execute("SELECT COUNT(*) FROM records WHERE deleted_at IS NOT NULL").fetchone()[0]
            == 0
        )


def test_a_record_whose_id_holds_a_nul_has_its_own_sighting(tmp_path: Path) -> None:
    """Each changed record's sighting is written under its whole id (SQLite's json_each
    would cut ``a\\0b`` to ``a``): so a later run that does not see it may delete it, and
    the record ``a`` is not seen by proxy."""
    store = SQLiteStore(tmp_path / "s.sqlite3", "conn")
    run = store.begin_run("users", "User", lease=LEASE)
    store.save(run, [user("a\x00b"), user("c")])
    store.finish_run(run, "success")
    run = store.begin_run("users", "User", lease=LEASE)
    store.save(run, [user("a"), user("c")])
    store.finish_run(run, "success")
    run = store.begin_run("users", "User", lease=LEASE)
    store.save(run, [user("c")])
    assert store.candidates(run) == ["a", "a\x00b"]
    store.close()


def test_a_store_a_newer_release_wrote_is_left_alone(env: Sandbox, tmp_path: Path) -> None:
    """A store of a later schema (a newer loom-scim wrote it) was opened as an older one
    and its version written back down: relabelled, so the newer release would no longer
    move what it needs. Now refused, in one line, for writing and for reading alike."""
    store = tmp_path / "s.sqlite3"
    assert cli("sync", "users", "--store", str(store))[0] == EXIT_OK
    with raw(store) as db:
        db.execute("PRAGMA user_version = 99")
    for argv in (("sync", "users"), ("review", "--no-sync", "--html", str(tmp_path / "r.html"))):
        code, _, err = cli(*argv, "--store", str(store))
        assert code != EXIT_OK
        assert "was written by a newer loom-scim (store schema 99" in err, err
    with raw(store) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (99,)
