"""Which workspace a connection's records belong to, for both stores: one row per
connection holding the fingerprint of the API key they were synced with (a salted
HMAC, :class:`~.base.Binding`; never the key). The host decides when a new key may take
over (``host/workspace.py``); here is only the compare-and-set that records it.

The SQL is written once with ``{p}`` for the driver's placeholder, as in :mod:`._evidence`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Binding

SQLITE_TABLE = "bindings"
POSTGRES_TABLE = "loom_scim_bindings"

_COLUMNS = (
    " (connection TEXT PRIMARY KEY, salt TEXT NOT NULL, key_mac TEXT NOT NULL,"
    " bound_at TEXT NOT NULL, rebound_at TEXT, rebinds INTEGER NOT NULL DEFAULT 0)"
)
SQLITE_SCHEMA = f"CREATE TABLE IF NOT EXISTS {SQLITE_TABLE}{_COLUMNS};"
POSTGRES_SCHEMA = f"CREATE TABLE IF NOT EXISTS {POSTGRES_TABLE}{_COLUMNS};"


def select_sql(table: str, p: str) -> str:
    return (
        f"SELECT salt, key_mac, bound_at, rebound_at, rebinds FROM {table}"  # noqa: S608
        f" WHERE connection = {p}"
    )


def bind_sql(table: str, p: str, first: bool) -> str:
    """The compare-and-set: the first binding of a connection, or a re-binding that
    applies only while the binding in force is still the one the caller checked."""
    if first:
        return (
            f"INSERT INTO {table} (connection, salt, key_mac, bound_at, rebinds)"  # noqa: S608
            f" VALUES ({p}, {p}, {p}, {p}, 0) ON CONFLICT (connection) DO NOTHING"
        )
    return (
        f"UPDATE {table} SET salt = {p}, key_mac = {p}, rebound_at = {p},"  # noqa: S608
        f" rebinds = rebinds + 1 WHERE connection = {p} AND key_mac = {p}"
    )


def bind_params(key: str, new: Binding, replaces: str | None) -> tuple[Any, ...]:
    if replaces is None:
        return (key, new.salt, new.key_mac, new.bound_at)
    return (new.salt, new.key_mac, new.bound_at, key, replaces)


def to_binding(row: Sequence[Any] | None) -> Binding | None:
    if row is None:
        return None
    return Binding(str(row[0]), str(row[1]), str(row[2]), row[3], int(row[4]))
