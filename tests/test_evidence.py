"""Evidence an auditor can verify: the hash chain in both stores, ``loom-scim evidence
verify`` and ``export``, the standalone checker in ``examples/``, and the upgrade that
chains a store written before the chain existed."""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import multiprocessing.synchronize
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from loom_scim_connector.cli import EXIT_FAILURE, EXIT_OK, run
from loom_scim_connector.host.local import open_store
from loom_scim_connector.store import SQLiteStore
from loom_scim_connector.store._chain import GENESIS, Verified, verify
from loom_scim_connector.store._sqlite_db import SCHEMA_VERSION

from .store_contract import proof

ROOT = Path(__file__).resolve().parents[1]
CHECKER = ROOT / "examples" / "verify_evidence.py"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def filled(where: str, key: str = "conn", n: int = 4) -> list[int]:
    store = open_store(where, key)
    try:
        return [store.record_evidence(proof(f"p{i}@example.com")) for i in range(n)]
    finally:
        store.close()


# -- the standalone checker --------------------------------------------------------------


def checker(export: Path) -> subprocess.CompletedProcess[str]:
    # -I: isolated, so nothing of loom-scim (not even this checkout) can be imported.
    return subprocess.run(  # noqa: S603
        [sys.executable, "-I", str(CHECKER), str(export)],
        capture_output=True,
        text=True,
        check=False,
    )


def tampered(lines: list[str], how: str) -> list[str]:
    lines = list(lines)
    if how == "edited":
        record = json.loads(lines[1])
        record["actor"] = "someone else"
        lines[1] = json.dumps(record, sort_keys=True, ensure_ascii=False)
    elif how == "deleted":
        del lines[1]
    elif how == "reordered":
        lines[1], lines[2] = lines[2], lines[1]
    elif how == "first deleted":
        del lines[0]
    return lines


@pytest.mark.parametrize("how", ["edited", "deleted", "reordered", "first deleted"])
def test_the_standalone_checker_accepts_an_export_and_rejects_a_tampered_one(
    tmp_path: Path, how: str
) -> None:
    store = str(tmp_path / "s.sqlite3")
    filled(store)
    filled(store, key="other", n=2)
    export = tmp_path / "evidence.jsonl"
    code, _, err = cli("evidence", "export", "--store", store, "--output", str(export))
    assert code == EXIT_OK, err
    lines = export.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 6
    first = json.loads(lines[0])
    assert first["prev_hash"] == GENESIS and {"hash", "intent_id", "connection"} <= set(first)
    good = checker(export)
    assert good.returncode == 0, good.stderr
    assert "the chain is whole: 6 records" in good.stdout
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(tampered(lines, how)) + "\n", encoding="utf-8")
    refused = checker(bad)
    assert refused.returncode == 1
    said = {
        "edited": "line 2 (evidence 2): its content does not match its hash",
        "deleted": "line 2 (evidence 3): prev_hash is not the hash of the record before it "
        "(evidence 1)",
        "reordered": "line 2 (evidence 3): prev_hash is not the hash of the record before it",
        "first deleted": "line 1 (evidence 2): the first record of its connection",
    }[how]
    assert said in refused.stderr


def test_export_to_stdout_is_the_same_chain_verify_checks(tmp_path: Path) -> None:
    store = str(tmp_path / "s.sqlite3")
    filled(store)
    code, exported, _ = cli("evidence", "export", "--store", store)
    assert code == EXIT_OK
    lines = [json.loads(line) for line in exported.splitlines()]
    assert isinstance(verify(lines), Verified)
    code, out, err = cli("evidence", "verify", "--store", store)
    assert code == EXIT_OK, err
    assert "the evidence chain is whole: 4 records" in out
    assert f"conn  last hash {lines[-1]['hash']}" in out  # to keep, against truncation


def test_verify_refuses_a_store_that_does_not_exist(tmp_path: Path) -> None:
    code, _, err = cli("evidence", "verify", "--store", str(tmp_path / "nope.sqlite3"))
    assert code != EXIT_OK and "no such store file" in err
    assert not (tmp_path / "nope.sqlite3").exists()


# -- tampering with a real store ---------------------------------------------------------


def test_an_edited_sqlite_row_is_named_by_verify(tmp_path: Path) -> None:
    store = str(tmp_path / "s.sqlite3")
    ids = filled(store)
    with sqlite3.connect(store) as db:
        db.execute("UPDATE evidence SET outcome = 'failed' WHERE evidence_id = ?", (ids[2],))
    code, out, err = cli("evidence", "verify", "--store", store)
    assert code == EXIT_FAILURE, out
    assert f"broken at evidence {ids[2]} (connection conn): its content does not match" in err


def test_a_deleted_sqlite_row_is_named_as_a_gap(tmp_path: Path) -> None:
    store = str(tmp_path / "s.sqlite3")
    ids = filled(store)
    with sqlite3.connect(store) as db:
        db.execute("DELETE FROM evidence WHERE evidence_id = ?", (ids[1],))
    code, _, err = cli("evidence", "verify", "--store", store)
    assert code == EXIT_FAILURE
    assert (
        f"evidence {ids[2]} (connection conn): its prev_hash is not the hash of the record "
        f"before it (evidence {ids[0]}): a record between them was deleted"
    ) in err


@contextlib.contextmanager
def pg_store_url() -> Iterator[str]:
    """A postgresql:// URL whose tables live in a schema of this test's own."""
    from .pg_server import postgres_url, require_psycopg

    require_psycopg()
    import psycopg

    base = postgres_url()
    schema = "test_" + uuid.uuid4().hex[:12]
    with psycopg.connect(base, autocommit=True) as db:
        db.execute(f"CREATE SCHEMA {schema}")
    try:
        yield base + ("&" if "?" in base else "?") + f"options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as db:
            db.execute(f"DROP SCHEMA {schema} CASCADE")


def test_a_postgres_row_edited_or_deleted_is_named_by_verify() -> None:
    import psycopg

    with pg_store_url() as url:
        ids = filled(url)
        code, _, err = cli("evidence", "verify", "--store", url)
        assert code == EXIT_OK, err
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                "UPDATE loom_scim_evidence SET email = 'x@example.com' WHERE evidence_id = %s",
                (ids[1],),
            )
        code, _, err = cli("evidence", "verify", "--store", url)
        assert code == EXIT_FAILURE
        assert f"evidence {ids[1]} (connection conn): its content does not match" in err
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("DELETE FROM loom_scim_evidence WHERE evidence_id = %s", (ids[1],))
        code, _, err = cli("evidence", "verify", "--store", url)
        assert code == EXIT_FAILURE
        assert f"evidence {ids[2]} (connection conn): its prev_hash is not the hash" in err
        assert f"(evidence {ids[0]}): a record between them was deleted" in err


# -- two writers never fork the chain ----------------------------------------------------


def _append(where: str, start: multiprocessing.synchronize.Event, tag: str) -> None:
    store = open_store(where, "conn")
    start.wait()
    try:
        for n in range(10):
            store.record_evidence(proof(f"{tag}{n}@example.com"))
    finally:
        store.close()


def _race(where: str) -> None:
    open_store(where, "conn").close()
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_append, args=(where, start, f"w{i}-")) for i in range(4)]
    for worker in workers:
        worker.start()
    start.set()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    store = open_store(where, "conn")
    try:
        rows = store.evidence_chain()
    finally:
        store.close()
    assert len(rows) == 40
    assert isinstance(verify(rows), Verified)


def test_processes_appending_at_once_never_fork_the_sqlite_chain(tmp_path: Path) -> None:
    _race(str(tmp_path / "race.sqlite3"))


def test_processes_appending_at_once_never_fork_the_postgres_chain() -> None:
    with pg_store_url() as url:
        _race(url)


# -- a store written before the chain is chained on upgrade -----------------------------

OLD_ROWS = [
    ("conn", "2026-01-01T00:00:00+00:00", "ann@host:1", "offboard", "deactivate-user", "u1",
     "a@example.com", "deactivated", "PATCH /Users/u1 -> 204", "read back active=false"),
    ("other", "2026-01-02T00:00:00+00:00", "ann@host:1", "offboard", "deactivate-user", "u2",
     "b@example.com", "already_inactive", "GET /Users/u2 -> 200", None),
    ("conn", "2026-01-03T00:00:00+00:00", "bob@host:2", "reconcile", "delete-user", "u3",
     "c@example.com", "deleted", "DELETE /Users/u3 -> 204", None),
]  # fmt: skip
_OLD_COLUMNS = "connection, at, actor, source, action, user_id, email, outcome, request, detail"


def _chained_after_upgrade(where: str, reopen: Callable[[], Any]) -> None:
    store = reopen()
    try:
        rows = store.evidence_chain(every_connection=True)
        new = store.record_evidence(proof("d@example.com"))
        mine = store.evidence_chain()
    finally:
        store.close()
    assert [r["email"] for r in rows] == ["a@example.com", "b@example.com", "c@example.com"]
    result = verify(rows)
    assert isinstance(result, Verified) and result.records == 3
    assert rows[0]["prev_hash"] == GENESIS and rows[1]["prev_hash"] == GENESIS  # two chains
    assert rows[2]["prev_hash"] == rows[0]["hash"]
    assert mine[-1]["evidence_id"] == new and mine[-1]["prev_hash"] == rows[2]["hash"]
    code, out, err = cli("evidence", "verify", "--store", where)
    assert code == EXIT_OK and "4 records" in out, err


def test_a_sqlite_store_of_schema_4_has_its_evidence_chained_on_open(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE records (connection TEXT NOT NULL, model TEXT NOT NULL,
                id TEXT NOT NULL, data TEXT NOT NULL, last_seen_run INTEGER NOT NULL,
                first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT,
                deleted_by INTEGER, PRIMARY KEY (connection, model, id));
            CREATE TABLE evidence (
                evidence_id INTEGER PRIMARY KEY AUTOINCREMENT, connection TEXT NOT NULL,
                at TEXT NOT NULL, actor TEXT NOT NULL, source TEXT NOT NULL,
                action TEXT NOT NULL, user_id TEXT, email TEXT NOT NULL,
                outcome TEXT NOT NULL, request TEXT NOT NULL, detail TEXT);
            """
        )
        db.executemany(
            f"INSERT INTO evidence ({_OLD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
            OLD_ROWS,
        )
    _chained_after_upgrade(str(path), lambda: SQLiteStore(path, "conn"))
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)


def test_a_postgres_store_made_before_the_chain_has_its_evidence_chained_on_open() -> None:
    import psycopg

    from loom_scim_connector.store.postgres import PostgresStore

    with pg_store_url() as url:
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                "CREATE TABLE loom_scim_evidence (evidence_id BIGSERIAL PRIMARY KEY,"
                " connection TEXT NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL,"
                " source TEXT NOT NULL, action TEXT NOT NULL, user_id TEXT,"
                " email TEXT NOT NULL, outcome TEXT NOT NULL, request TEXT NOT NULL,"
                " detail TEXT)"
            )
            with db.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO loom_scim_evidence ({_OLD_COLUMNS})"  # noqa: S608
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    OLD_ROWS,
                )
        _chained_after_upgrade(url, lambda: PostgresStore(url, "conn"))
