"""Sightings, for both stores: where a record's last sighting is kept, and the one rule for
writing it (an older generation never overwrites what a newer one saw, nor undoes a
deletion a newer one made).

Since schema 6 a record's last sighting (``last_seen_run``: the generation of the last
run that saw it) is a row of a narrow table of its own, ``(connection, model, id,
last_seen_run)``, beside the record's row: a steady-state sync, where most records come
back unchanged, then writes about 40 bytes per record instead of rewriting its whole row
(about 400 bytes, copied again through SQLite's WAL). Every record has one sighting,
written in the transaction that writes the record; a record without one (none is made
so) is never a candidate for deletion.

The SQL is written once with ``{p}`` for the driver's placeholder (``?`` for sqlite3,
``%s`` for psycopg) and the tables' names, as in :mod:`._evidence`; a record is ``r``
and its sighting ``s``.
"""

from __future__ import annotations


def live(records: str, sightings: str, p: str) -> str:
    """``FROM ... WHERE`` of the live records of a model, ``r``, with their sightings,
    ``s``: ``(connection, model)``. Read from the narrow sightings first (SQLite keeps a
    ``CROSS JOIN``'s order; PostgreSQL plans it as any join): a condition on the sighting
    then leaves most records unread (an unchanged workspace's candidates: none)."""
    return (
        f"FROM {sightings} s CROSS JOIN {records} r WHERE s.connection = {p} AND s.model = {p}"
        " AND r.connection = s.connection AND r.model = s.model AND r.id = s.id"
        " AND r.deleted_at IS NULL"
    )


def unseen(records: str, sightings: str, p: str) -> str:
    """``FROM ... WHERE`` of the live records a run has not seen, the only records it may
    delete: ``(connection, model, generation)``."""
    return f"{live(records, sightings, p)} AND s.last_seen_run < {p}"


def _lands(records: str, sightings: str, g: str) -> str:
    """The rule: a write by generation ``g`` of the record keyed as ``excluded`` (the row
    an upsert proposes) lands unless a newer generation saw the record, or deleted it
    (``deleted_by``: NULL for rows deleted before schema 4, which any later run may
    re-add)."""
    newest = (
        "CASE WHEN kr.deleted_at IS NOT NULL AND COALESCE(kr.deleted_by, 0) >"
        " COALESCE(ks.last_seen_run, 0) THEN kr.deleted_by ELSE COALESCE(ks.last_seen_run, 0) END"
    )
    return (
        f"NOT EXISTS (SELECT 1 FROM {records} kr LEFT JOIN {sightings} ks"  # noqa: S608
        " ON ks.connection = kr.connection AND ks.model = kr.model AND ks.id = kr.id"
        " WHERE kr.connection = excluded.connection AND kr.model = excluded.model"
        f" AND kr.id = excluded.id AND {g} < {newest})"
    )


def upsert_sql(records: str, sightings: str, p: str) -> str:
    """Insert or update one record seen by a run: ``(connection, model, id, data,
    first_seen_at, updated_at, generation)``. ``updated_at`` moves only when the data
    changed or the record comes back from deletion. Run before :func:`sight_sql` for the
    same rows (the rule is read the same way by both: this one leaves the record as it
    was exactly when the rule keeps the sighting as it was)."""
    marks = ", ".join([p] * 6)
    return (
        f"INSERT INTO {records} AS r (connection, model, id, data,"  # noqa: S608
        f" first_seen_at, updated_at, deleted_at, deleted_by) VALUES ({marks}, NULL, NULL)"
        " ON CONFLICT (connection, model, id) DO UPDATE SET"
        " updated_at = CASE WHEN r.data = excluded.data AND r.deleted_at IS NULL"
        " THEN r.updated_at ELSE excluded.updated_at END,"
        " data = excluded.data, deleted_at = NULL, deleted_by = NULL"
        f" WHERE {_lands(records, sightings, p)}"
    )


def sight_sql(records: str, sightings: str, source: str) -> str:
    """The sightings of records just written by :func:`upsert_sql`, from ``source``, SQL
    giving the rows ``(connection, model, id, generation)``: ``VALUES (?, ?, ?, ?)``, one
    row at a time, for SQLite (whose ``json_each`` cuts a text at an escaped NUL, so a
    batch of ids as JSON could sight a cut id, not the record's own); ``SELECT %s, %s,
    value, %s FROM unnest(%s::text[]) AS value``, each id once, for a whole batch in
    PostgreSQL (whose text holds no NUL)."""
    return (
        f"INSERT INTO {sightings} AS s (connection, model, id, last_seen_run) {source}"
        " ON CONFLICT (connection, model, id) DO UPDATE SET"
        " last_seen_run = excluded.last_seen_run"
        f" WHERE {_lands(records, sightings, 'excluded.last_seen_run')}"
    )


def seen_sql(sightings: str, p: str, ids: str) -> str:
    """The upsert's effect on live records whose data is already the bytes seen: only the
    sighting moves, and never down: ``(generation, connection, model, ids, generation)``,
    ``ids`` matched by the SQL given (one parameter: a JSON array for SQLite, ``id IN
    (SELECT value FROM json_each(?))``; an array for PostgreSQL, ``id = ANY(%s)``). One
    statement for a whole batch, touching only the narrow table: the steady state, where
    most records come back unchanged, writes no record row. Only for ids the caller read
    live in this transaction (rows it holds locked: no deletion can come between), where
    the rule is ``last_seen_run < generation``; and only for a batch where each id comes
    once: with repeats, every row goes through the upsert in the caller's order, so the
    last one listed wins."""
    return (
        f"UPDATE {sightings} SET last_seen_run = {p}"  # noqa: S608
        f" WHERE connection = {p} AND model = {p} AND {ids} AND last_seen_run < {p}"
    )


def copy_sql(records: str, sightings: str) -> str:
    """Schema 6: the sightings of a store of schema 5 or older, from its records' own
    ``last_seen_run`` column (a sighting already there keeps the later generation)."""
    return (
        f"INSERT INTO {sightings} AS s (connection, model, id, last_seen_run)"  # noqa: S608
        f" SELECT connection, model, id, last_seen_run FROM {records} WHERE true"
        " ON CONFLICT (connection, model, id) DO UPDATE SET last_seen_run ="
        " CASE WHEN excluded.last_seen_run > s.last_seen_run THEN excluded.last_seen_run"
        " ELSE s.last_seen_run END"
    )
