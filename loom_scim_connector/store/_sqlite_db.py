"""Opening a SQLite store file: the schema, its upgrade in place, and who owns a lease.

Every way a file can fail to be a store becomes one :class:`StoreError` line here, so
``--store`` mistakes never reach the user as a traceback.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ._evidence import SQLITE_SCHEMA as _EVIDENCE_SCHEMA
from .base import StoreError

SCHEMA_VERSION = 3
_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    connection TEXT NOT NULL, model TEXT NOT NULL, id TEXT NOT NULL,
    data TEXT NOT NULL, last_seen_run INTEGER NOT NULL,
    first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT,
    PRIMARY KEY (connection, model, id)
);
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
# Columns added to ``runs`` after the first release (schema 1), added on open.
_RUN_COLUMNS = {"model": "TEXT", "owner": "TEXT", "released_by": "INTEGER"}


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
        db.executescript(_SCHEMA)
        db.executescript(_EVIDENCE_SCHEMA)  # schema 3: offboarding evidence
        columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
        for name, kind in _RUN_COLUMNS.items():
            if name not in columns:
                db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
        record_columns = {row[1] for row in db.execute("PRAGMA table_info(records)")}
        if not {"id", "data", "last_seen_run", "deleted_at"} <= record_columns:
            raise StoreError(where, "has a 'records' table that loom-scim did not make")
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
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
