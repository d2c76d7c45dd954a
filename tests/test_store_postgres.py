"""The PostgreSQL store: the store contract, plus what only a shared server can get wrong.

Each test works under connection keys of its own (a random prefix), so tests never see
each other's rows, may run while others use the same database, and are removed after.
The server comes from ``tests/pg_server.py`` (skipped where there is none, except on CI).
"""

from __future__ import annotations

import multiprocessing
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from loom_scim_connector.store import SQLiteStore, Store, StoreError, SyncBusyError

from .pg_server import postgres_url, require_psycopg, schema_of_its_own
from .store_contract import LEASE, FakeClock, MakeStore, StoreContract, user

require_psycopg()

import psycopg  # noqa: E402
from psycopg.conninfo import conninfo_to_dict, make_conninfo  # noqa: E402

from loom_scim_connector.store.postgres import PostgresStore  # noqa: E402

PASSWORD = "Pg-pa55word-9f3e1c"


@pytest.fixture(scope="module")
def pg_url() -> str:
    return postgres_url()


@pytest.fixture
def prefix(pg_url: str) -> Iterator[str]:
    """A connection-key prefix of this test's own; its rows are deleted afterwards."""
    mine = f"test-{uuid.uuid4().hex}/"
    yield mine
    with psycopg.connect(pg_url, autocommit=True) as db, db.transaction():
        like = mine + "%"
        db.execute(
            "DELETE FROM loom_scim_held WHERE run_id IN"
            " (SELECT run_id FROM loom_scim_runs WHERE connection LIKE %s)",
            (like,),
        )
        for table in (
            "records",
            "sightings",
            "runs",
            "checkpoints",
            "locks",
            "evidence",
            "bindings",
        ):
            db.execute(f"DELETE FROM loom_scim_{table} WHERE connection LIKE %s", (like,))  # noqa: S608


class TestPostgresStore(StoreContract):
    @pytest.fixture
    def make_store(self, pg_url: str, prefix: str, clock: FakeClock) -> Iterator[MakeStore]:
        opened: list[PostgresStore] = []

        def make(key: str = "conn") -> Store:
            store = PostgresStore(pg_url, prefix + key, clock=clock)
            opened.append(store)
            return store

        yield make
        for store in opened:
            store.close()


def _race(
    url: str,
    key: str,
    start: multiprocessing.synchronize.Event,
    results: object,
    done: multiprocessing.synchronize.Event,
) -> None:
    store = PostgresStore(url, key)
    start.wait()
    try:
        run = store.begin_run("users", "User", lease=LEASE)
        results.put(("won", run.run_id))  # type: ignore[attr-defined]
    except SyncBusyError as busy:
        results.put(("busy", busy.run_id))  # type: ignore[attr-defined]
    finally:
        store.close()
    # Alive until every racer has tried: a winner that exited (even unreaped) holds no
    # lease, and a late racer would rightly take it over.
    done.wait(60)


def test_processes_racing_for_the_lease_get_exactly_one_winner(pg_url: str, prefix: str) -> None:
    key = prefix + "conn"
    context = multiprocessing.get_context("spawn")
    start, results, done = context.Event(), context.Queue(), context.Event()
    args = (pg_url, key, start, results, done)
    workers = [context.Process(target=_race, args=args) for _ in range(4)]
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
    pg_url: str, prefix: str
) -> None:
    key = prefix + "conn"
    script = (
        "import os, signal, sys\n"
        "from loom_scim_connector.store.postgres import PostgresStore\n"
        "run = PostgresStore(sys.argv[1], sys.argv[2]).begin_run('users', 'User', lease=3600)\n"
        "print(run.run_id, flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script, pg_url, key], capture_output=True, text=True, check=False
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    dead_run = int(killed.stdout)
    store = PostgresStore(pg_url, key)
    run = store.begin_run("users", "User", lease=LEASE)  # no SyncBusyError, no hour's wait
    assert {r.run_id: r.status for r in store.runs()} == {
        dead_run: "abandoned",
        run.run_id: "running",
    }
    store.close()


def test_records_come_back_exactly_as_the_sqlite_store_returns_them(
    pg_url: str, prefix: str, tmp_path: Path
) -> None:
    odd = [
        user("b", n=1e300, f=1.0, big=2**70, text="nul \u0000 é 😀", nested={"z": [1, None]}),
        user("B"),
        user("a-1"),
        user("a_1"),
    ]
    stores: list[Store] = [
        PostgresStore(pg_url, prefix + "conn"),
        SQLiteStore(tmp_path / "s.sqlite3", "conn"),
    ]
    seen = []
    for store in stores:
        run = store.begin_run("users", "User", lease=LEASE)
        store.save(run, odd)
        store.finish_run(run, "success")
        run = store.begin_run("users", "User", lease=LEASE)
        store.save(run, odd[:3])
        gone = store.finish_run(run, "success", deleted=["a_1"])
        deleted = store.records("User", include_deleted=True, ids=["a_1"])
        assert [set(r) - {"_deletedAt"} for r in deleted] == [set(odd[3])]
        seen.append((store.records("User"), gone, store.candidates(run)))
        store.close()
    assert seen[0] == seen[1]
    assert [r["id"] for r in seen[0][0]] == ["B", "a-1", "b"]  # byte order, as SQLite


def test_the_core_install_does_not_import_psycopg() -> None:
    script = (
        "import sys\n"
        "import loom_scim_connector, loom_scim_connector.store, loom_scim_connector.host\n"
        "assert 'psycopg' not in sys.modules, 'psycopg was imported'\n"
        "assert 'loom_scim_connector.store.postgres' not in sys.modules\n"
    )
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def _refused(dsn: str) -> StoreError:
    with pytest.raises(StoreError) as refused:
        PostgresStore(dsn, "conn")
    error = refused.value
    assert PASSWORD not in f"{error} {error!r} {error.where} {error.reason}"
    assert "\n" not in str(error) and str(error).startswith("store postgresql")
    assert error.__cause__ is None and error.__suppress_context__
    return error


@pytest.mark.parametrize(
    ("dsn", "says"),
    [
        (f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test", "Connection refused"),
        (f"host=127.0.0.1 port=1 user=postgres password={PASSWORD}", "Connection refused"),
        (f"postgresql://postgres:{PASSWORD}@127.0.0.1:notaport/test", "notaport"),
        (f"host=127.0.0.1 password:{PASSWORD}", "malformed"),
        (f"postgresql://postgres@127.0.0.1:1/test?password={PASSWORD}", "Connection refused"),
    ],
)
def test_a_password_never_appears_in_a_store_error(dsn: str, says: str) -> None:
    assert says in str(_refused(dsn))


def test_a_password_never_appears_when_the_server_refuses(pg_url: str) -> None:
    dsn = make_conninfo(pg_url, password=PASSWORD, dbname=f"nope_{PASSWORD}")
    error = _refused(dsn)
    assert "does not exist" in str(error)


def test_another_programs_table_is_refused_and_a_given_connection_is_left_open(
    pg_url: str,
) -> None:
    schema = f"loom_scim_test_{uuid.uuid4().hex}"
    with psycopg.connect(pg_url, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
        try:
            db.execute(f"SET search_path TO {schema}")
            db.execute("CREATE TABLE loom_scim_records (name TEXT)")
            with pytest.raises(StoreError, match="did not make"):
                PostgresStore(db, "conn")
            assert not db.closed
            db.execute("DROP TABLE loom_scim_records")
            store = PostgresStore(db, "conn")  # a fresh schema gets its own tables
            run = store.begin_run("users", "User", lease=LEASE)
            store.save(run, [user("u1")])
            store.finish_run(run, "success")
            store.close()
            assert not db.closed
            assert db.execute("SELECT COUNT(*) FROM loom_scim_records").fetchone() == (1,)
        finally:
            db.execute(f"DROP SCHEMA {schema} CASCADE")


def test_a_store_made_before_fencing_is_upgraded_on_open(pg_url: str) -> None:
    """Schema 4 adds ``deleted_by`` (the generation that deleted a record) in place."""
    with schema_of_its_own() as dsn:
        with psycopg.connect(dsn, autocommit=True) as db:
            db.execute(
                "CREATE TABLE loom_scim_records (connection TEXT NOT NULL, model TEXT NOT NULL,"
                ' id TEXT COLLATE "C" NOT NULL, data TEXT NOT NULL, last_seen_run BIGINT NOT NULL,'
                " first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT,"
                " PRIMARY KEY (connection, model, id))"
            )
            db.execute(
                "INSERT INTO loom_scim_records VALUES"
                " ('conn', 'User', 'u1', '{\"id\": \"u1\"}', 0, 'x', 'x', NULL)"
            )
        store = PostgresStore(dsn, "conn")
        run = store.begin_run("users", "User", lease=LEASE)
        assert [r["id"] for r in store.finish_run(run, "success", deleted=["u1"])] == ["u1"]
        store.close()
        with psycopg.connect(dsn, autocommit=True) as db:
            rows = db.execute("SELECT deleted_by FROM loom_scim_records").fetchall()
        assert rows == [(run.generation,)]


def test_opening_a_store_at_this_schema_waits_for_no_reader(pg_url: str) -> None:
    """Every open ran ``ALTER TABLE ... ADD COLUMN IF NOT EXISTS``, which takes an ACCESS
    EXCLUSIVE lock even when it adds nothing: each fleet task's open waited behind any
    transaction reading the records table (a report, a status query), and every reader
    after it waited behind the open."""
    with schema_of_its_own() as dsn:
        PostgresStore(dsn, "conn").close()  # the schema, made once
        options = str(conninfo_to_dict(dsn).get("options", ""))
        impatient = make_conninfo(dsn, options=f"{options} -clock_timeout=1000")
        with psycopg.connect(dsn) as reader:  # a transaction left open, as a long report's
            reader.execute("SELECT COUNT(*) FROM loom_scim_records").fetchone()
            PostgresStore(impatient, "conn").close()  # no lock wanted: opens at once
            reader.rollback()


def test_a_store_missing_an_index_gets_it_back_on_open(pg_url: str) -> None:
    """The fast path trusts the schema only when every object the scripts create exists."""
    with schema_of_its_own() as dsn:
        PostgresStore(dsn, "conn").close()
        with psycopg.connect(dsn, autocommit=True) as db:
            db.execute("DROP INDEX loom_scim_runs_running")
        PostgresStore(dsn, "conn").close()
        with psycopg.connect(dsn, autocommit=True) as db:
            found = db.execute("SELECT to_regclass('loom_scim_runs_running')").fetchone()
        assert found is not None and found[0] is not None


def test_a_records_table_of_another_shape_is_refused_on_open_even_with_every_object(
    pg_url: str,
) -> None:
    """The one-read open trusts the schema only when the records table has the columns
    this version reads: a table of that name lacking one (another program's, or a newer
    version's) is refused in one line, not met later as a database error mid-sync."""
    with schema_of_its_own() as dsn:
        PostgresStore(dsn, "conn").close()
        with psycopg.connect(dsn, autocommit=True) as db:
            db.execute(
                "ALTER TABLE loom_scim_records DROP COLUMN deleted_at"
            )  # (since schema 6, not last_seen_run)
        with pytest.raises(StoreError, match="did not make"):
            PostgresStore(dsn, "conn")
