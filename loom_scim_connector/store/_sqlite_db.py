"""Opening a SQLite store file (the schema, its upgrade in place), its transactions, and
the lease check every write makes in the transaction that writes (fencing).

Every way a file can fail to be a store becomes one :class:`StoreError` line here, so
``--store`` mistakes never reach the user as a traceback.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import _evidence, _sightings
from ._binding import SQLITE_SCHEMA as _BINDING_SCHEMA
from ._owner import default_owner
from .base import LeaseLostError, Run, StoreError

SCHEMA_VERSION = 6
# Schema 6: a record's last sighting is a row of ``sightings`` (see :mod:`._sightings`),
# no longer a column of ``records``; a store of schema 5 or older is rebuilt so on open.
_RECORDS = """
CREATE TABLE IF NOT EXISTS {name} (
    connection TEXT NOT NULL, model TEXT NOT NULL, id TEXT NOT NULL, data TEXT NOT NULL,
    first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT,
    deleted_by INTEGER,
    PRIMARY KEY (connection, model, id)
);
"""
_RECORD_COLUMNS = "connection, model, id, data, first_seen_at, updated_at, deleted_at, deleted_by"
_SCHEMA = (
    _RECORDS.format(name="records")
    + """
CREATE TABLE IF NOT EXISTS sightings (
    connection TEXT NOT NULL, model TEXT NOT NULL, id TEXT NOT NULL,
    last_seen_run INTEGER NOT NULL,
    PRIMARY KEY (connection, model, id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, connection TEXT NOT NULL, sync TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL, error TEXT
);
CREATE TABLE IF NOT EXISTS checkpoints (
    connection TEXT NOT NULL, sync TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (connection, sync)
);
CREATE TABLE IF NOT EXISTS locks (
    connection TEXT NOT NULL, model TEXT NOT NULL, run_id INTEGER NOT NULL,
    expires_at REAL NOT NULL, PRIMARY KEY (connection, model)
);
CREATE TABLE IF NOT EXISTS held (
    run_id INTEGER NOT NULL, id TEXT NOT NULL, PRIMARY KEY (run_id, id)
);
"""
)
# A store of schema 5 opened read-only cannot be rebuilt: its sightings are read from its
# records' own column through this view, made in the connection's temporary schema (which
# unqualified names look in first).
_SCHEMA5_SIGHTINGS = (
    "CREATE TEMP VIEW sightings AS SELECT connection, model, id, last_seen_run FROM main.records"
)
# Columns added after the first release (schema 1), added on open: to ``runs`` in
# schema 2; to ``records`` in schema 4, the generation that deleted a record.
_ADDED_COLUMNS = {
    "runs": {"model": "TEXT", "owner": "TEXT", "released_by": "INTEGER"},
    "records": {"deleted_by": "INTEGER"},
}


class SQLiteBase:
    """An open store file: one write transaction at a time, and the lease check."""

    def __init__(
        self,
        path: Path | str,
        connection_key: str,
        *,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
        read_only: bool = False,
    ) -> None:
        self.path = path
        # Opened for reading only (a review or a dry run from an auditor's copy): SQLite
        # refuses every write, and nothing on the way tries one (no schema upgrade).
        self.read_only = read_only
        self.where = str(path)
        self.key = connection_key
        self.owner = owner or default_owner()
        self.clock = clock
        self.db = open_read_only(path) if read_only else open_db(path)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking SQLite's write lock at once (``IMMEDIATE``)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _check_lease(self, db: sqlite3.Connection, run: Run) -> None:
        """Inside a write transaction: the run still holds its lease, or nothing is
        written (:class:`LeaseLostError`)."""
        row = db.execute(
            "SELECT run_id FROM locks WHERE connection = ? AND model = ?",
            (self.key, run.model),
        ).fetchone()
        if row is None or row[0] != run.run_id:
            raise LeaseLostError.of(run)


def exec_on(db: sqlite3.Connection) -> Callable[[str, Sequence[Any]], list[Any]]:
    """A statement runner for the SQL shared with PostgreSQL (``_evidence.Exec``)."""
    return lambda query, params: db.execute(query, params).fetchall()


def _add_columns(db: sqlite3.Connection) -> None:
    """Upgrade a store made by an older version, under the write lock (two processes
    opening one old file at once must not both add a column)."""
    db.execute("BEGIN IMMEDIATE")
    try:
        for table, added in _ADDED_COLUMNS.items():
            columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for name, kind in added.items():
                if name not in columns:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
        # schema 5: the evidence chain, its columns added and existing rows chained
        present = {row[1] for row in db.execute("PRAGMA table_info(evidence)")}
        _evidence.upgrade(exec_on(db), _evidence.SQLITE_TABLE, "?", present, "INTEGER")
        if "last_seen_run" in {row[1] for row in db.execute("PRAGMA table_info(records)")}:
            _move_sightings(db)
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def _move_sightings(db: sqlite3.Connection) -> None:
    """Schema 6, inside the upgrade's transaction: each record's ``last_seen_run`` becomes
    its row in ``sightings``, and ``records`` is rebuilt without the column (the portable
    way: ``DROP COLUMN`` needs SQLite 3.35)."""
    db.execute(_sightings.copy_sql("records", "sightings"))
    db.execute(_RECORDS.format(name="records_v6"))
    db.execute(
        f"INSERT INTO records_v6 ({_RECORD_COLUMNS}) SELECT {_RECORD_COLUMNS} FROM records"  # noqa: S608
    )
    db.execute("DROP TABLE records")
    db.execute("ALTER TABLE records_v6 RENAME TO records")


def open_read_only(path: Path | str) -> sqlite3.Connection:
    """Open an existing store for reading only (``mode=ro``, ``query_only``): no schema
    made or upgraded, no journal mode set. A file in a read-only folder, whose WAL index
    cannot be made beside it, is read as immutable (nobody may write it meanwhile)."""
    where = str(path)
    target = Path(path)
    if not target.is_file():
        raise StoreError(where, "does not exist (a read-only store must be an existing store)")
    uri = target.resolve().as_uri()
    for query in ("?mode=ro", "?mode=ro&immutable=1"):
        try:
            db = sqlite3.connect(uri + query, uri=True, timeout=30.0, isolation_level=None)
            db.execute("PRAGMA query_only = ON")
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            if "unable to open" in str(exc) and "immutable" not in query:
                continue  # a read-only folder: no WAL index can be made there
            reason = str(exc)
            if "not a database" in reason:
                reason = "is not a SQLite database (give the store's own file)"
            raise StoreError(where, f"cannot be read: {reason}") from None
        break
    if "records" not in tables:
        raise StoreError(where, "is not a loom-scim store (it has no records table)")
    if version > SCHEMA_VERSION:
        db.close()
        raise StoreError(where, _newer(version))
    if version == 5:  # (query_only refuses even a temporary view; mode=ro still holds)
        db.execute("PRAGMA query_only = OFF")
        db.execute(_SCHEMA5_SIGHTINGS)
        db.execute("PRAGMA query_only = ON")
    elif version != SCHEMA_VERSION:
        db.close()
        raise StoreError(
            where,
            f"is a store of schema {version}, not {SCHEMA_VERSION}, and is opened read-only, "
            "so it cannot be upgraded: run any writing command on a writable copy first",
        )
    return db


def _newer(version: int) -> str:
    return (
        f"was written by a newer loom-scim (store schema {version}; this one knows up to "
        f"{SCHEMA_VERSION}): upgrade loom-scim to use it; nothing was changed"
    )


def _writable(where: str) -> bool:
    """Whether this process may write the file (its mode, a read-only mount, an
    immutable flag), by the effective ids SQLite opens it with."""
    return os.access(where, os.W_OK, effective_ids=os.access in os.supports_effective_ids)


def open_db(path: Path | str) -> sqlite3.Connection:
    """Open the file, turning every way it can fail into one :class:`StoreError` line."""
    where = str(path)
    if where != ":memory:":
        target = Path(path)
        if target.is_dir():
            raise StoreError(where, "is a folder; give a file name such as loom-scim.sqlite3")
        if not target.parent.is_dir():
            raise StoreError(where, f"the folder {target.parent} does not exist")
    try:
        db = sqlite3.connect(where, timeout=30.0, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 30000")
        if where != ":memory:":
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
        # A store of this version is used as it is: reads only. Otherwise (a new file, an
        # older store) the tables are made and upgraded, and the version written; a store
        # a newer release wrote is left alone (writing this version would relabel it).
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            db.close()
            raise StoreError(where, _newer(version))
        current = version == SCHEMA_VERSION
        if not current:
            db.executescript(_SCHEMA)
            db.executescript(_evidence.SQLITE_SCHEMA)  # schema 3: offboarding evidence
            db.executescript(_BINDING_SCHEMA)  # schema 4: the workspace a store belongs to
        record_columns = {row[1] for row in db.execute("PRAGMA table_info(records)")}
        if not {"id", "data", "deleted_at"} <= record_columns:
            raise StoreError(where, "has a 'records' table that loom-scim did not make")
        if not current:
            _add_columns(db)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        elif where != ":memory:" and not _writable(where):
            # Nothing is written on the way to here: a file SQLite opened read-only
            # would otherwise fail at the sync's first write, as an unexpected error.
            db.close()
            raise StoreError(where, "is read-only: the store must be writable")
    except sqlite3.DatabaseError as exc:
        reason = str(exc)
        if "not a database" in reason:
            reason = "is not a SQLite database (give a new file name, or the store's own file)"
        elif "unable to open" in reason:
            reason = "cannot be opened (check the permissions of the file and its folder)"
        elif "readonly" in reason:
            reason = "is read-only: the store must be writable"
        raise StoreError(where, reason) from None
    return db
