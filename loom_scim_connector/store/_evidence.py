"""Evidence of offboarding, for both stores: one append-only table and its two queries.

The SQL is written once with ``{p}`` for the driver's placeholder (``?`` for sqlite3,
``%s`` for psycopg) and ``{t}`` for the table's name. Rows are never updated or deleted
by loom-scim: there is no method that could.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .base import Evidence

SQLITE_TABLE = "evidence"
POSTGRES_TABLE = "loom_scim_evidence"

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS evidence (
    evidence_id INTEGER PRIMARY KEY AUTOINCREMENT, connection TEXT NOT NULL,
    at TEXT NOT NULL, actor TEXT NOT NULL, source TEXT NOT NULL, action TEXT NOT NULL,
    user_id TEXT, email TEXT NOT NULL, outcome TEXT NOT NULL, request TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS evidence_by_connection ON evidence (connection, evidence_id);
"""
POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS loom_scim_evidence (
    evidence_id BIGSERIAL PRIMARY KEY, connection TEXT NOT NULL,
    at TEXT NOT NULL, actor TEXT NOT NULL, source TEXT NOT NULL, action TEXT NOT NULL,
    user_id TEXT, email TEXT NOT NULL, outcome TEXT NOT NULL, request TEXT NOT NULL,
    detail TEXT
);
CREATE INDEX IF NOT EXISTS loom_scim_evidence_by_email
    ON loom_scim_evidence (connection, lower(email));
"""

_FIELDS = ("at", "actor", "source", "action", "user_id", "email", "outcome", "request", "detail")


def insert_sql(table: str, p: str) -> str:
    columns = ", ".join(("connection", *_FIELDS))
    marks = ", ".join([p] * (len(_FIELDS) + 1))
    return f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608 (constants only)


def insert_params(key: str, item: Evidence) -> tuple[Any, ...]:
    return (key, *(getattr(item, name) for name in _FIELDS))


def select_sql(
    table: str, p: str, key: str, email: str | None, user_id: str | None, limit: int | None
) -> tuple[str, list[Any]]:
    """The query for :meth:`Store.evidence` and its parameters: newest first."""
    query = f"SELECT evidence_id, {', '.join(_FIELDS)} FROM {table} WHERE connection = {p}"  # noqa: S608
    params: list[Any] = [key]
    if email is not None:
        query += f" AND lower(email) = lower({p})"
        params.append(email)
    if user_id is not None:
        query += f" AND user_id = {p}"
        params.append(user_id)
    query += " ORDER BY evidence_id DESC"
    if limit is not None:
        query += f" LIMIT {p}"
        params.append(max(0, int(limit)))
    return query, params


def to_evidence(row: Sequence[Any]) -> Evidence:
    evidence_id, *values = row
    return Evidence(**dict(zip(_FIELDS, values, strict=True)), evidence_id=int(evidence_id))
