"""The PostgreSQL store's connection: opening it (never naming the password), its
schema, one transaction per call (replayed on a deadlock), and the lease check every
write makes in the transaction that writes (fencing). See :mod:`.postgres`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow, tuple_row

from . import _binding, _evidence, _sightings
from ._owner import default_owner
from .base import LeaseLostError, Run, StoreError

T = TypeVar("T")
Cursor = psycopg.Cursor[TupleRow]

# One key for creating the schema; begin_run's keys are hashes of (connection, model).
_SCHEMA_LOCK = "loom_scim schema"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS loom_scim_records (
    connection TEXT NOT NULL, model TEXT NOT NULL, id TEXT COLLATE "C" NOT NULL,
    data TEXT NOT NULL,
    first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT,
    deleted_by BIGINT,
    PRIMARY KEY (connection, model, id)
);
CREATE TABLE IF NOT EXISTS loom_scim_sightings (
    connection TEXT NOT NULL, model TEXT NOT NULL, id TEXT COLLATE "C" NOT NULL,
    last_seen_run BIGINT NOT NULL,
    PRIMARY KEY (connection, model, id)
) WITH (fillfactor = 50);
CREATE TABLE IF NOT EXISTS loom_scim_runs (
    run_id BIGSERIAL PRIMARY KEY, connection TEXT NOT NULL, sync TEXT NOT NULL,
    model TEXT NOT NULL, owner TEXT NOT NULL, started_at TEXT NOT NULL, finished_at TEXT,
    status TEXT NOT NULL, error TEXT, released_by BIGINT
);
CREATE INDEX IF NOT EXISTS loom_scim_runs_by_connection
    ON loom_scim_runs (connection, run_id);
CREATE INDEX IF NOT EXISTS loom_scim_runs_running
    ON loom_scim_runs (connection, model) WHERE status = 'running';
CREATE TABLE IF NOT EXISTS loom_scim_checkpoints (
    connection TEXT NOT NULL, sync TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (connection, sync)
);
CREATE TABLE IF NOT EXISTS loom_scim_locks (
    connection TEXT NOT NULL, model TEXT NOT NULL, run_id BIGINT NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL, PRIMARY KEY (connection, model)
);
CREATE TABLE IF NOT EXISTS loom_scim_held (
    run_id BIGINT NOT NULL, id TEXT NOT NULL, PRIMARY KEY (run_id, id)
);
"""
# Schema 4 (an older store is upgraded on open): the generation that deleted a record.
_UPGRADE = "ALTER TABLE loom_scim_records ADD COLUMN IF NOT EXISTS deleted_by BIGINT"
_RECORD_COLUMNS = {"connection", "model", "id", "data", "deleted_at"}
# Whether the store is at this schema: every table and index the scripts create, and the
# columns the upgrades add. Opening checks it with one read and runs the scripts only when
# something is missing: ``ALTER TABLE`` takes an ACCESS EXCLUSIVE lock even when it has
# nothing to add, so every open (each fleet task) queued behind any transaction reading
# the records table, and every reader after it queued behind the open (50-90 ms per open
# on an idle server; unbounded behind a long report).
_OBJECTS = tuple(
    re.findall(
        r"IF NOT EXISTS (\w+)", _SCHEMA + _evidence.POSTGRES_SCHEMA + _binding.POSTGRES_SCHEMA
    )
)
# The columns read before the scripts ran (a table of that name made by another program,
# or by a newer version, is not this schema) and those the upgrades add.
_ADDED_COLUMNS = (
    *(("loom_scim_records", column) for column in sorted(_RECORD_COLUMNS)),
    ("loom_scim_records", "deleted_by"),
    (_evidence.POSTGRES_TABLE, "hash"),
)
# Schema 6 (see ._sightings): each record's last sighting moves from its own column to
# loom_scim_sightings, and the column is dropped. An open checks the column is gone too.
# The sightings' pages are kept half empty (fillfactor 50) so that a run's new sighting
# fits beside the old one: a heap-only update, no new index entry (an unchanged resync
# of 100k users: 6.8 -> 5.5 s wall on a test server).
_MOVED = ("loom_scim_records", "last_seen_run")
_CURRENT = (
    "SELECT (SELECT bool_and(to_regclass(name) IS NOT NULL) FROM unnest(%s::text[]) AS name)"
    " AND (SELECT count(*) FROM unnest(%s::text[], %s::text[]) AS added (rel, col)"
    " JOIN pg_attribute ON attrelid = to_regclass(added.rel) AND attname = added.col"
    " AND NOT attisdropped) = %s"
    " AND NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s)"
    " AND attname = %s AND NOT attisdropped)"
)
_RETRIES = 5


class PgBase:
    """An open PostgreSQL store: see :class:`~.postgres.PostgresStore`."""

    def __init__(
        self,
        dsn_or_connection: str | psycopg.Connection[Any],
        connection_key: str,
        *,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.key = connection_key
        self.owner = owner or default_owner()
        self.clock = clock
        if isinstance(dsn_or_connection, str):
            self.where, self.db = connect(dsn_or_connection)
            self._owns_db = True
        else:
            self.db = dsn_or_connection
            info = self.db.info
            self.where = f"postgresql://{info.host}:{info.port}/{info.dbname}"
            self._owns_db = False
        try:
            self._create_schema()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._owns_db:
            self.db.close()

    # -- transactions ---------------------------------------------------------------

    def _atomic(self, body: Callable[[Cursor], T]) -> T:
        """Run ``body`` in one transaction; retry it on a deadlock or serialization
        failure (whose transaction PostgreSQL rolled back whole); turn a lost or broken
        connection into a :class:`StoreError`."""
        attempt = 1
        while True:
            try:
                with self.db.transaction(), self.db.cursor(row_factory=tuple_row) as cur:
                    return body(cur)
            except _REPLAYABLE as exc:
                # Only a transaction of our own can be replayed whole.
                if attempt < _RETRIES and self.db.info.transaction_status == _IDLE:
                    attempt += 1
                    continue
                raise StoreError(self.where, _one_line(str(exc))) from None
            except psycopg.OperationalError as exc:
                raise StoreError(self.where, _one_line(str(exc))) from None

    def _create_schema(self) -> None:
        def current(cur: Cursor) -> bool:
            tables, columns = zip(*_ADDED_COLUMNS, strict=True)
            cur.execute(
                _CURRENT, (list(_OBJECTS), list(tables), list(columns), len(columns), *_MOVED)
            )
            row = cur.fetchone()
            return row is not None and bool(row[0])

        def create(cur: Cursor) -> None:
            cur.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (_SCHEMA_LOCK,))
            cur.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'loom_scim_records'"
                " AND table_schema = (SELECT current_schema())"
            )
            columns = {str(row[0]) for row in cur.fetchall()}
            if columns and not columns >= _RECORD_COLUMNS:
                reason = "has a 'loom_scim_records' table that loom-scim did not make"
                raise StoreError(self.where, reason)
            cur.execute(_SCHEMA)
            cur.execute(_UPGRADE)
            cur.execute(_evidence.POSTGRES_SCHEMA)
            # Schema 5: the evidence chain (columns added, existing rows chained).
            cur.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = %s AND table_schema = (SELECT current_schema())",
                (_evidence.POSTGRES_TABLE,),
            )
            present = {str(row[0]) for row in cur.fetchall()}
            _evidence.upgrade(exec_on(cur), _evidence.POSTGRES_TABLE, "%s", present, "BIGINT")
            cur.execute(_binding.POSTGRES_SCHEMA)
            if "last_seen_run" in columns:  # schema 6, in this same transaction
                cur.execute(_sightings.copy_sql("loom_scim_records", "loom_scim_sightings"))
                cur.execute("ALTER TABLE loom_scim_records DROP COLUMN last_seen_run")

        try:
            # A store already at this schema is opened with one read: no DDL, no lock.
            if not self._atomic(current):
                self._atomic(create)
        except psycopg.Error as exc:
            raise StoreError(self.where, _one_line(str(exc))) from None

    def _check_lease(self, cur: Cursor, run: Run) -> None:
        """Inside a write transaction: lock the lease row and check the run still holds
        it, or nothing is written (:class:`LeaseLostError`)."""
        cur.execute(
            "SELECT run_id FROM loom_scim_locks WHERE connection = %s AND model = %s FOR UPDATE",
            (self.key, run.model),
        )
        row = cur.fetchone()
        if row is None or row[0] != run.run_id:
            raise LeaseLostError.of(run)


def exec_on(cur: Cursor) -> Callable[[str, Sequence[Any]], list[Any]]:
    """A statement runner for the SQL shared with SQLite (``_evidence.Exec``)."""

    def run(query: str, params: Sequence[Any]) -> list[Any]:
        cur.execute(query, params)
        return list(cur.fetchall()) if cur.description is not None else []

    return run


_IDLE = TransactionStatus.IDLE
# Failures PostgreSQL answers by rolling the whole transaction back (class 40): safe to
# replay. psycopg does not make DeadlockDetected a subclass of TransactionRollback.
_REPLAYABLE = (
    pg_errors.TransactionRollback,
    pg_errors.SerializationFailure,
    pg_errors.DeadlockDetected,
)


def _one_line(message: str) -> str:
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


def connect(dsn: str) -> tuple[str, psycopg.Connection[Any]]:
    """Open an autocommit connection, turning every way it can fail into one
    :class:`StoreError` line that names the server but never the password."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.Error:
        # psycopg's message quotes the malformed part, which may be the password.
        raise StoreError(
            "postgresql", "the connection string is malformed (give a postgresql:// URL)"
        ) from None
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or 5432)
    secret = str(params.get("password") or "")
    dbname = params.get("dbname") or params.get("user") or ""
    where = _scrub(f"postgresql://{host}:{port}/{dbname}", secret)
    defaults = {"connect_timeout": "10", "application_name": "loom-scim"}
    try:
        db = psycopg.connect(make_conninfo(dsn, **{**defaults, **params}), autocommit=True)
    except psycopg.Error as exc:
        raise StoreError(where, _scrub(_one_line(str(exc)), secret)) from None
    return where, db


def _scrub(message: str, secret: str) -> str:
    if not secret:
        return message
    for form in {secret, quote(secret, safe=""), quote(secret)}:
        message = message.replace(form, "***")
    return re.sub(r"\*{3,}", "***", message)
