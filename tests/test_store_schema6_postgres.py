"""Schema 6 for the PostgreSQL store: a store of schema 5 is moved to the sightings table
on open, in the transaction that upgrades it, and only a store already moved is taken as
current by the one-read open (see ``tests/test_store_schema6.py`` for the stores used)."""

from __future__ import annotations

from typing import Any

import pytest

from .pg_server import require_psycopg, schema_of_its_own
from .test_store_schema6 import FACTS, FACTS_5, Rows, expected_after, fill

require_psycopg()

import psycopg  # noqa: E402

from loom_scim_connector.store import StoreError  # noqa: E402
from loom_scim_connector.store.postgres import PostgresStore  # noqa: E402

MOVED_BACK = """
ALTER TABLE loom_scim_records ADD COLUMN last_seen_run BIGINT;
UPDATE loom_scim_records r SET last_seen_run = s.last_seen_run FROM loom_scim_sightings s
    WHERE s.connection = r.connection AND s.model = r.model AND s.id = r.id;
ALTER TABLE loom_scim_records ALTER COLUMN last_seen_run SET NOT NULL;
UPDATE loom_scim_records SET deleted_by = NULL WHERE id = 'u9';
"""
JOINED = (
    "loom_scim_records r JOIN loom_scim_sightings s"
    " ON s.connection = r.connection AND s.model = r.model AND s.id = r.id"
)


def pg_rows(db: psycopg.Connection[Any], facts: str, source: str) -> Rows:
    query = f"SELECT r.connection, r.model, r.id, {facts} FROM {source}"  # noqa: S608
    rows = db.execute(query).fetchall()
    return {tuple(row[:3]): tuple(row[3:]) for row in rows}


def schema5(dsn: str, *, keep_table: bool = False) -> Rows:
    """A store of schema 5 (records with their own ``last_seen_run``); with
    ``keep_table``, an empty sightings table left beside it."""
    fill(lambda key: PostgresStore(dsn, key))
    with psycopg.connect(dsn, autocommit=True) as db, db.transaction():
        db.execute(MOVED_BACK)
        db.execute(
            "DELETE FROM loom_scim_sightings" if keep_table else "DROP TABLE loom_scim_sightings"
        )
        rows = pg_rows(db, FACTS_5, "loom_scim_records r")
    assert len(rows) == 7 and rows[("conn-b", "User", "u9")][-1] is None
    return rows


def has_column(dsn: str) -> bool:
    with psycopg.connect(dsn, autocommit=True) as db:
        row = db.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_name ="
            " 'loom_scim_records' AND column_name = 'last_seen_run'"
            " AND table_schema = current_schema()"
        ).fetchone()
    return row is not None and row[0] == 1


@pytest.mark.parametrize("keep_table", [False, True], ids=["schema-5", "sightings-table-empty"])
def test_a_postgres_store_of_schema_5_is_moved_whole_on_open(keep_table: bool) -> None:
    """Also when the sightings table is already there (empty): the one-read open must not
    take a store whose records still hold the column as current."""
    with schema_of_its_own() as dsn:
        before = schema5(dsn, keep_table=keep_table)
        store = PostgresStore(dsn, "conn-a")
        assert not has_column(dsn)
        with psycopg.connect(dsn, autocommit=True) as db:
            assert pg_rows(db, FACTS, JOINED) == before
            assert db.execute("SELECT count(*) FROM loom_scim_sightings").fetchone() == (7,)
        expected_after(store, max(row[1] for row in before.values()))
        store.close()
        PostgresStore(dsn, "conn-b").close()  # opened again: current, nothing to move


def test_a_postgres_move_that_fails_leaves_the_store_of_schema_5_as_it_was() -> None:
    with schema_of_its_own() as dsn:
        before = schema5(dsn)
        with psycopg.connect(dsn, autocommit=True) as db:  # in the way of the copy
            db.execute("CREATE TABLE loom_scim_sightings (connection TEXT, model TEXT, id TEXT)")
        with pytest.raises(StoreError, match="last_seen_run"):
            PostgresStore(dsn, "conn-a")
        assert has_column(dsn)
        with psycopg.connect(dsn, autocommit=True) as db:
            assert pg_rows(db, FACTS_5, "loom_scim_records r") == before
