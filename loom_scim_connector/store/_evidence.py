"""Evidence of offboarding, for both stores: one append-only, hash-chained table.

The SQL is written once with ``{p}`` for the driver's placeholder (``?`` for sqlite3,
``%s`` for psycopg) and ``{t}`` for the table's name; each store runs it through an
``Exec`` (a statement and its parameters in, the rows it returned out) inside one of its
write transactions. Rows are never changed once written: :func:`append` inserts a row
and sets its ``prev_hash`` and ``hash`` (:mod:`._chain`) in the transaction that inserts
it, and there is no method that updates or deletes one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from loom_scim_connector.identity import same_email

from . import _chain
from .base import Evidence

SQLITE_TABLE = "evidence"
POSTGRES_TABLE = "loom_scim_evidence"
Exec = Callable[[str, Sequence[Any]], list[Any]]

SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS evidence (
    evidence_id INTEGER PRIMARY KEY AUTOINCREMENT, connection TEXT NOT NULL,
    at TEXT NOT NULL, actor TEXT NOT NULL, source TEXT NOT NULL, action TEXT NOT NULL,
    user_id TEXT, email TEXT NOT NULL, outcome TEXT NOT NULL, request TEXT NOT NULL,
    detail TEXT, intent_id INTEGER, prev_hash TEXT, hash TEXT
);
CREATE INDEX IF NOT EXISTS evidence_by_connection ON evidence (connection, evidence_id);
"""
POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS loom_scim_evidence (
    evidence_id BIGSERIAL PRIMARY KEY, connection TEXT NOT NULL,
    at TEXT NOT NULL, actor TEXT NOT NULL, source TEXT NOT NULL, action TEXT NOT NULL,
    user_id TEXT, email TEXT NOT NULL, outcome TEXT NOT NULL, request TEXT NOT NULL,
    detail TEXT, intent_id BIGINT, prev_hash TEXT, hash TEXT
);
CREATE INDEX IF NOT EXISTS loom_scim_evidence_by_connection
    ON loom_scim_evidence (connection, evidence_id);
"""
# Schema 5: the chain, and the intent an outcome settles. A store made before is
# upgraded on open, under the store's write lock: the columns are added and its existing
# rows chained, each connection's in evidence_id order (``upgrade``).
_ADDED = {"intent_id": "{int}", "prev_hash": "TEXT", "hash": "TEXT"}

_FIELDS = (
    "at", "actor", "source", "action", "user_id", "email", "outcome", "request", "detail",
    "intent_id",
)  # fmt: skip
_CHAIN_ROW = ("evidence_id", "connection", *_FIELDS, "prev_hash", "hash")


def append(run: Exec, table: str, p: str, key: str, item: Evidence) -> int:
    """Insert ``item`` as the newest record of ``key``'s chain; return its id. Call it in
    a write transaction that already serializes the connection's appends (SQLite: ``BEGIN
    IMMEDIATE``; PostgreSQL: an advisory lock per connection), so the chain cannot fork."""
    last = run(
        f"SELECT hash FROM {table} WHERE connection = {p}"  # noqa: S608 (constants only)
        " ORDER BY evidence_id DESC LIMIT 1",
        (key,),
    )
    prev = (last[0][0] if last else None) or _chain.GENESIS
    columns = ", ".join(("connection", *_FIELDS))
    marks = ", ".join([p] * (len(_FIELDS) + 1))
    values = (key, *(getattr(item, name) for name in _FIELDS))
    [(evidence_id,)] = run(
        f"INSERT INTO {table} ({columns}) VALUES ({marks}) RETURNING evidence_id",  # noqa: S608
        values,
    )
    record = {"evidence_id": int(evidence_id), "connection": key}
    record.update((name, getattr(item, name)) for name in _FIELDS)
    run(
        f"UPDATE {table} SET prev_hash = {p}, hash = {p} WHERE evidence_id = {p}",  # noqa: S608
        (prev, _chain.record_hash(record, prev), int(evidence_id)),
    )
    return int(evidence_id)


def chain(run: Exec, table: str, p: str, key: str | None) -> list[dict[str, Any]]:
    """Every record of ``key`` (of every connection when None), in ``evidence_id``
    order, with ``prev_hash`` and ``hash``: what ``evidence verify`` checks and
    ``evidence export`` writes."""
    query = f"SELECT {', '.join(_CHAIN_ROW)} FROM {table}"  # noqa: S608
    if key is not None:
        query += f" WHERE connection = {p}"
    rows = run(query + " ORDER BY evidence_id", () if key is None else (key,))
    return [_typed(dict(zip(_CHAIN_ROW, row, strict=True))) for row in rows]


def _typed(record: dict[str, Any]) -> dict[str, Any]:
    for name in ("evidence_id", "intent_id"):
        if record[name] is not None:
            record[name] = int(record[name])
    return record


def upgrade(run: Exec, table: str, p: str, present: set[str], int_type: str) -> bool:
    """Add the schema 5 columns to an older evidence table and chain its rows; say
    whether it did. Only a table that lacked them is chained: a row whose hash is
    missing from a chained table stays missing (``evidence verify`` names it)."""
    if "hash" in present:
        return False
    for name, kind in _ADDED.items():
        if name not in present:
            run(f"ALTER TABLE {table} ADD COLUMN {name} {kind.format(int=int_type)}", ())
    heads: dict[str, str] = {}
    for record in chain(run, table, p, None):
        prev = heads.get(record["connection"], _chain.GENESIS)
        heads[record["connection"]] = _chain.record_hash(record, prev)
        run(
            f"UPDATE {table} SET prev_hash = {p}, hash = {p} WHERE evidence_id = {p}",  # noqa: S608
            (prev, heads[record["connection"]], record["evidence_id"]),
        )
    return True


def select(
    run: Exec,
    table: str,
    p: str,
    key: str,
    *,
    email: str | None,
    user_id: str | None,
    limit: int | None,
) -> list[Evidence]:
    """:meth:`Store.evidence`: newest first. ``email`` is matched by the package's one
    identity rule (:func:`~loom_scim_connector.identity.same_email`), in Python: SQL's
    ``lower()`` is ASCII-only in SQLite and follows the locale in PostgreSQL."""
    query = f"SELECT evidence_id, {', '.join(_FIELDS)} FROM {table} WHERE connection = {p}"  # noqa: S608
    params: list[Any] = [key]
    if user_id is not None:
        query += f" AND user_id = {p}"
        params.append(user_id)
    query += " ORDER BY evidence_id DESC"
    if limit is not None and email is None:
        query += f" LIMIT {p}"
        params.append(max(0, int(limit)))
    found = [_to_evidence(row) for row in run(query, params)]
    if email is not None:
        found = [item for item in found if same_email(item.email, email)]
        if limit is not None:
            found = found[: max(0, int(limit))]
    return found


def _to_evidence(row: Sequence[Any]) -> Evidence:
    evidence_id, *values = row
    fields = dict(zip(_FIELDS, values, strict=True))
    if fields["intent_id"] is not None:
        fields["intent_id"] = int(fields["intent_id"])
    return Evidence(**fields, evidence_id=int(evidence_id))
