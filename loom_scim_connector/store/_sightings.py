"""The one rule for writing a sighting, for both stores: an older generation never
overwrites what a newer one saw, nor undoes a deletion a newer one made.

The SQL is written once with ``{p}`` for the driver's placeholder (``?`` for sqlite3,
``%s`` for psycopg) and ``{t}`` for the table's name, as in :mod:`._evidence`.
"""

from __future__ import annotations

# A row is newer than the write when a later generation saw it, or deleted it
# (``deleted_by``: NULL for rows deleted before schema 4, which any later run may re-add).
_STALE = (
    "(excluded.last_seen_run < r.last_seen_run OR (r.deleted_at IS NOT NULL"
    " AND excluded.last_seen_run < COALESCE(r.deleted_by, 0)))"
)


def upsert_sql(table: str, p: str) -> str:
    """Insert or update one record seen by a run: ``(connection, model, id, data,
    generation, first_seen_at, updated_at)``. ``updated_at`` moves only when the data
    changed or the record comes back from deletion."""
    marks = ", ".join([p] * 7)
    return (
        f"INSERT INTO {table} AS r (connection, model, id, data, last_seen_run,"  # noqa: S608
        f" first_seen_at, updated_at, deleted_at, deleted_by) VALUES ({marks}, NULL, NULL)"
        " ON CONFLICT (connection, model, id) DO UPDATE SET"
        f" updated_at = CASE WHEN {_STALE}"
        " OR (r.data = excluded.data AND r.deleted_at IS NULL)"
        " THEN r.updated_at ELSE excluded.updated_at END,"
        f" data = CASE WHEN {_STALE} THEN r.data ELSE excluded.data END,"
        f" deleted_at = CASE WHEN {_STALE} THEN r.deleted_at ELSE NULL END,"
        f" deleted_by = CASE WHEN {_STALE} THEN r.deleted_by ELSE NULL END,"
        f" last_seen_run = CASE WHEN {_STALE} THEN r.last_seen_run"
        " ELSE excluded.last_seen_run END"
    )


def seen_sql(table: str, p: str, ids: str) -> str:
    """The upsert's effect on live rows whose data is already the bytes seen: only
    ``last_seen_run`` moves, and never down: ``(generation, connection, model, ids,
    generation)``, ``ids`` matched by the SQL given (one parameter: a JSON array for
    SQLite, ``id IN (SELECT value FROM json_each(?))``; an array for PostgreSQL,
    ``id = ANY(%s)``). One statement for a whole batch, and cheaper than the upsert (no
    insert tried, no CASE, no text compared) for the steady state, where most records
    come back unchanged. Only for a batch where each id comes once: with repeats, every
    row goes through the upsert in the caller's order, so the last one listed wins."""
    return (
        f"UPDATE {table} SET last_seen_run = {p}"  # noqa: S608
        f" WHERE connection = {p} AND model = {p} AND {ids} AND last_seen_run < {p}"
        " AND deleted_at IS NULL"
    )
