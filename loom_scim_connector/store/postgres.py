"""The PostgreSQL store (psycopg 3): the same :class:`~.base.Store` guarantees as SQLite,
for hosts that share one database (``pip install 'loom-scim-connector[fleet]'``).

Import it by its own module (``from loom_scim_connector.store.postgres import
PostgresStore``): ``loom_scim_connector.store`` does not import it, so the core install
never needs psycopg.

**Tables.** Created on open (``CREATE TABLE IF NOT EXISTS``, under an advisory lock so
two processes opening a fresh database at once do not race on the catalog), all named
``loom_scim_*`` so they can live in a shared database; they go in the first schema of
the connection's ``search_path`` (set it in the DSN, ``options=-csearch_path=...``, to
use another schema). Records are kept as the same sorted-key JSON *text* the SQLite
store keeps, not ``jsonb``: ``jsonb`` would rewrite numbers (``1e300`` comes back an
int, ``1.0`` as ``1.0`` but ``1E2`` as ``100``), refuse ``NaN`` and ``\\u0000``, and
compare semantically, so :meth:`records` and ADDED/UPDATED/UNCHANGED would differ from
SQLite's. Record ids are ``COLLATE "C"``, so ``ORDER BY id`` is SQLite's byte order
whatever the database's collation. Timestamps are the same ISO text as SQLite's
(:func:`._owner.now_iso`); lease expiry is a number from the injectable ``clock``
(seconds), so tests expire leases with a fake clock.

**Locking.** Every method is one transaction (``READ COMMITTED``) on an autocommit
connection. :meth:`begin_run` first takes a transaction-level advisory lock on a 64-bit
hash of ``(connection, model)`` (``pg_advisory_xact_lock``), then reads the lease row
``FOR UPDATE``. Both are needed: the row lock alone cannot serialize two first runs
when no lease row exists yet (there is no row to lock, and ``INSERT ... ON CONFLICT DO
UPDATE`` would let the second silently overwrite the first's fresh lease), and the
advisory lock alone would not serialize against :meth:`heartbeat` and
:meth:`finish_run`, which lock the lease row itself (``UPDATE ... RETURNING`` / ``SELECT
... FOR UPDATE``). So a lease check and the write that depends on it are never split by
another transaction, exactly as under SQLite's ``BEGIN IMMEDIATE``, with no
serialization failures to retry. A hash collision between two keys only makes their
``begin_run`` calls wait for each other for a moment. Locks are always taken in one
order (advisory lock, lease row, run rows, record rows by id), and record rows are
locked in id order (``SELECT ... ORDER BY id FOR UPDATE``) before they are written, so
two writers cannot deadlock; should PostgreSQL still report a deadlock or serialization
failure, the transaction is retried.

**Caveats of a shared database.** Leases compare each host's own clock, so hosts must
keep their clocks in step (NTP) to well within a lease. The dead-owner shortcut (a lease
whose owner ``host:pid`` is on this host and gone need not be waited out) trusts that
host names are unique across the fleet: give each host a distinct ``owner`` when they
are not (containers sharing a host name but not a PID namespace).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow, tuple_row

from . import _evidence
from ._owner import default_owner, is_dead, now_iso
from .base import (
    ABANDONED,
    Action,
    Evidence,
    HeldRun,
    LeaseLostError,
    Run,
    RunInfo,
    RunStatus,
    StoreError,
    _encoded,
    classify,
    refuse_if_held,
    text_of,
)

T = TypeVar("T")
Cursor = psycopg.Cursor[TupleRow]

# One key for creating the schema; begin_run's keys are hashes of (connection, model).
_SCHEMA_LOCK = "loom_scim schema"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS loom_scim_records (
    connection TEXT NOT NULL, model TEXT NOT NULL, id TEXT COLLATE "C" NOT NULL,
    data TEXT NOT NULL, last_seen_run BIGINT NOT NULL,
    first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT,
    PRIMARY KEY (connection, model, id)
);
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
_RECORD_COLUMNS = {"connection", "model", "id", "data", "last_seen_run", "deleted_at"}
_RETRIES = 5


class PostgresStore:
    """Records, runs, checkpoints, leases and held candidates of one connection.

    ``dsn_or_connection`` is a ``postgresql://`` URL or ``key=value`` string (the store
    opens, and :meth:`close` closes, its own connection), or an open psycopg
    connection (used as it is and left open by :meth:`close`; when it is inside a
    transaction already, the store's work joins that transaction).
    """

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
            self.where, self.db = _connect(dsn_or_connection)
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
            cur.execute(_evidence.POSTGRES_SCHEMA)

        try:
            self._atomic(create)
        except psycopg.Error as exc:
            raise StoreError(self.where, _one_line(str(exc))) from None

    # -- runs and leases ------------------------------------------------------------

    def begin_run(self, sync: str, model: str, *, lease: float) -> Run:
        def begin(cur: Cursor) -> Run:
            # Serializes begin_run per (connection, model) even before any lease row
            # exists; the row lock below serializes it with heartbeat and finish_run.
            cur.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                ("loom_scim lease " + json.dumps([self.key, model]),),
            )
            now = self.clock()
            cur.execute(
                "SELECT l.run_id, l.expires_at, r.sync, r.started_at, r.owner"
                " FROM loom_scim_locks l LEFT JOIN loom_scim_runs r ON r.run_id = l.run_id"
                " WHERE l.connection = %s AND l.model = %s FOR UPDATE OF l",
                (self.key, model),
            )
            holder = cur.fetchone()
            refuse_if_held(holder, now, sync, model, alive=lambda owner: not is_dead(owner))
            # Whatever is still 'running' for this model holds no live lease: it crashed.
            cur.execute(
                "UPDATE loom_scim_runs SET status = 'abandoned', finished_at = %s, error = %s"
                " WHERE connection = %s AND model = %s AND status = 'running'",
                (now_iso(), ABANDONED, self.key, model),
            )
            started = now_iso()
            # The run id is the generation. Sequence values follow nextval() order, not
            # commit order, but this nextval() happens while holding the locks above, so
            # for one (connection, model) each lease holder draws a larger id than every
            # earlier one; and only the lease holder finishes (deletes), so two runs of
            # one model never commit sightings whose order could contradict their ids.
            cur.execute(
                "INSERT INTO loom_scim_runs (connection, sync, model, owner, started_at, status)"
                " VALUES (%s, %s, %s, %s, %s, 'running') RETURNING run_id",
                (self.key, sync, model, self.owner, started),
            )
            row = cur.fetchone()
            assert row is not None
            run_id = int(row[0])
            cur.execute(
                "INSERT INTO loom_scim_locks (connection, model, run_id, expires_at)"
                " VALUES (%s, %s, %s, %s) ON CONFLICT (connection, model) DO UPDATE"
                " SET run_id = excluded.run_id, expires_at = excluded.expires_at",
                (self.key, model, run_id, now + lease),
            )
            return Run(run_id, sync, model, run_id, started, self.owner)

        return self._atomic(begin)

    def heartbeat(self, run: Run, *, lease: float) -> None:
        def beat(cur: Cursor) -> None:
            cur.execute(
                "UPDATE loom_scim_locks SET expires_at = %s"
                " WHERE connection = %s AND model = %s AND run_id = %s RETURNING run_id",
                (self.clock() + lease, self.key, run.model, run.run_id),
            )
            if cur.fetchone() is None:
                raise LeaseLostError.of(run)

        self._atomic(beat)

    def _check_lease(self, cur: Cursor, run: Run) -> None:
        cur.execute(
            "SELECT run_id FROM loom_scim_locks WHERE connection = %s AND model = %s FOR UPDATE",
            (self.key, run.model),
        )
        row = cur.fetchone()
        if row is None or row[0] != run.run_id:
            raise LeaseLostError.of(run)

    def finish_run(
        self,
        run: Run,
        status: RunStatus,
        *,
        error: str | None = None,
        deleted: Sequence[str] = (),
        held: Sequence[str] = (),
        releases: int | None = None,
    ) -> list[dict[str, Any]]:
        wanted = list(dict.fromkeys(str(rid) for rid in deleted))

        def finish(cur: Cursor) -> list[dict[str, Any]]:
            self._check_lease(cur, run)
            stamp = now_iso()
            gone: dict[str, dict[str, Any]] = {}
            if wanted:
                self._lock_records(cur, run.model, wanted)
                cur.execute(
                    "UPDATE loom_scim_records SET deleted_at = %s, updated_at = %s"
                    " WHERE connection = %s AND model = %s AND id = ANY(%s)"
                    " AND deleted_at IS NULL AND last_seen_run < %s RETURNING id, data",
                    (stamp, stamp, self.key, run.model, wanted, run.generation),
                )
                gone = {str(rid): json.loads(data) for rid, data in cur.fetchall()}
            if held:
                cur.execute(
                    "INSERT INTO loom_scim_held (run_id, id) SELECT DISTINCT %s, h"
                    " FROM unnest(%s::text[]) AS h ON CONFLICT DO NOTHING",
                    (run.run_id, [str(rid) for rid in held]),
                )
            if releases is not None:
                cur.execute(
                    "UPDATE loom_scim_runs SET status = 'released', released_by = %s"
                    " WHERE run_id = %s AND connection = %s",
                    (run.run_id, releases, self.key),
                )
            cur.execute(
                "UPDATE loom_scim_runs SET finished_at = %s, status = %s, error = %s"
                " WHERE run_id = %s",
                (stamp, status, error, run.run_id),
            )
            cur.execute(
                "DELETE FROM loom_scim_locks WHERE connection = %s AND model = %s AND run_id = %s",
                (self.key, run.model, run.run_id),
            )
            return [gone[rid] for rid in wanted if rid in gone]  # in the caller's order

        return self._atomic(finish)

    def held_run(self, run_id: int) -> HeldRun | None:
        def read(cur: Cursor) -> HeldRun | None:
            cur.execute(
                "SELECT sync, model, status FROM loom_scim_runs"
                " WHERE run_id = %s AND connection = %s",
                (run_id, self.key),
            )
            row = cur.fetchone()
            if row is None:
                return None
            cur.execute(
                'SELECT id FROM loom_scim_held WHERE run_id = %s ORDER BY id COLLATE "C"',
                (run_id,),
            )
            return HeldRun(run_id, row[0], row[1] or "", row[2], [r[0] for r in cur.fetchall()])

        return self._atomic(read)

    def runs(self, *, limit: int = 20) -> list[RunInfo]:
        def read(cur: Cursor) -> list[RunInfo]:
            cur.execute(
                "SELECT r.run_id, r.sync, r.model, r.status, r.started_at, r.finished_at,"
                " r.error, r.owner,"
                " (SELECT COUNT(*) FROM loom_scim_held h WHERE h.run_id = r.run_id)"
                " FROM loom_scim_runs r WHERE r.connection = %s"
                " ORDER BY r.run_id DESC LIMIT %s",
                (self.key, limit),
            )
            return [
                RunInfo(int(r[0]), r[1], r[2] or "", r[3], r[4], r[5], r[6], r[7] or "", int(r[8]))
                for r in cur.fetchall()
            ]

        return self._atomic(read)

    # -- records --------------------------------------------------------------------

    def _lock_records(self, cur: Cursor, model: str, ids: list[str]) -> dict[str, tuple[str, Any]]:
        """Lock the existing rows of ``ids`` in id order (so two writers cannot
        deadlock) and return their ``(data, deleted_at)``."""
        cur.execute(
            "SELECT id, data, deleted_at FROM loom_scim_records"
            " WHERE connection = %s AND model = %s AND id = ANY(%s) ORDER BY id FOR UPDATE",
            (self.key, model, ids),
        )
        return {str(rid): (data, deleted) for rid, data, deleted in cur.fetchall()}

    def save(
        self, run: Run, records: Sequence[Mapping[str, Any]]
    ) -> list[tuple[Action, dict[str, Any]]]:
        if not records:
            return []
        ids = [str(r["id"]) for r in records]
        datas = [text_of(record) for record in records]

        def upsert(cur: Cursor) -> list[tuple[Action, dict[str, Any]]]:
            known = self._lock_records(cur, run.model, sorted(set(ids)))
            results: list[tuple[Action, dict[str, Any]]] = []
            for record, rid, data in zip(records, ids, datas, strict=True):
                results.append((classify(known.get(rid), data), _encoded(record, data)))
            now = now_iso()
            # Rows go in id order (a stable sort keeps repeats of one id in the caller's
            # order, so the last one wins as with SQLite), the order they were locked in.
            order = sorted(range(len(ids)), key=ids.__getitem__)
            # An older generation never overwrites what a newer one saw.
            cur.executemany(
                "INSERT INTO loom_scim_records AS r (connection, model, id, data,"
                " last_seen_run, first_seen_at, updated_at, deleted_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, NULL)"
                " ON CONFLICT (connection, model, id) DO UPDATE SET"
                " updated_at = CASE WHEN excluded.last_seen_run < r.last_seen_run"
                " OR (r.data = excluded.data AND r.deleted_at IS NULL)"
                " THEN r.updated_at ELSE excluded.updated_at END,"
                " data = CASE WHEN excluded.last_seen_run < r.last_seen_run"
                " THEN r.data ELSE excluded.data END,"
                " deleted_at = CASE WHEN excluded.last_seen_run < r.last_seen_run"
                " THEN r.deleted_at ELSE NULL END,"
                " last_seen_run = GREATEST(r.last_seen_run, excluded.last_seen_run)",
                [(self.key, run.model, ids[i], datas[i], run.generation, now, now) for i in order],
            )
            return results

        return self._atomic(upsert)

    def live_count(self, model: str) -> int:
        def read(cur: Cursor) -> int:
            cur.execute(
                "SELECT COUNT(*) FROM loom_scim_records WHERE connection = %s AND model = %s"
                " AND deleted_at IS NULL",
                (self.key, model),
            )
            row = cur.fetchone()
            assert row is not None
            return int(row[0])

        return self._atomic(read)

    def candidates(self, run: Run) -> list[str]:
        def read(cur: Cursor) -> list[str]:
            cur.execute(
                "SELECT id FROM loom_scim_records WHERE connection = %s AND model = %s"
                " AND deleted_at IS NULL AND last_seen_run < %s ORDER BY id",
                (self.key, run.model, run.generation),
            )
            return [str(row[0]) for row in cur.fetchall()]

        return self._atomic(read)

    def seen_sample(self, run: Run, limit: int = 3) -> list[str]:
        def read(cur: Cursor) -> list[str]:
            cur.execute(
                "SELECT id FROM loom_scim_records WHERE connection = %s AND model = %s"
                " AND deleted_at IS NULL AND last_seen_run = %s ORDER BY id LIMIT %s",
                (self.key, run.model, run.generation, limit),
            )
            return [str(row[0]) for row in cur.fetchall()]

        return self._atomic(read)

    def records(
        self, model: str, *, include_deleted: bool = False, ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        def read(cur: Cursor) -> list[dict[str, Any]]:
            cur.execute(
                "SELECT data, deleted_at FROM loom_scim_records"
                " WHERE connection = %s AND model = %s"
                " AND (%s OR deleted_at IS NULL)"
                " AND (%s::text[] IS NULL OR id = ANY(%s::text[])) ORDER BY id",
                (self.key, model, include_deleted, wanted, wanted),
            )
            return [
                {**json.loads(data), **({"_deletedAt": deleted} if deleted else {})}
                for data, deleted in cur.fetchall()
            ]

        wanted = None if ids is None else [str(rid) for rid in ids]
        return self._atomic(read)

    # -- evidence (append-only) ----------------------------------------------------------

    def record_evidence(self, item: Evidence) -> int:
        def write(cur: Cursor) -> int:
            cur.execute(
                _evidence.insert_sql(_evidence.POSTGRES_TABLE, "%s") + " RETURNING evidence_id",
                _evidence.insert_params(self.key, item),
            )
            row = cur.fetchone()
            assert row is not None
            return int(row[0])

        return self._atomic(write)

    def evidence(
        self, *, email: str | None = None, user_id: str | None = None, limit: int | None = None
    ) -> list[Evidence]:
        query, params = _evidence.select_sql(
            _evidence.POSTGRES_TABLE, "%s", self.key, email, user_id, limit
        )

        def read(cur: Cursor) -> list[Evidence]:
            cur.execute(query, params)
            return [_evidence.to_evidence(row) for row in cur.fetchall()]

        return self._atomic(read)

    # -- checkpoints ------------------------------------------------------------------

    def get_checkpoint(self, sync: str) -> dict[str, Any] | None:
        def read(cur: Cursor) -> dict[str, Any] | None:
            cur.execute(
                "SELECT data FROM loom_scim_checkpoints WHERE connection = %s AND sync = %s",
                (self.key, sync),
            )
            row = cur.fetchone()
            return None if row is None else dict(json.loads(row[0]))

        return self._atomic(read)

    def save_checkpoint(self, sync: str, data: Mapping[str, Any]) -> None:
        def write(cur: Cursor) -> None:
            cur.execute(
                "INSERT INTO loom_scim_checkpoints (connection, sync, data) VALUES (%s, %s, %s)"
                " ON CONFLICT (connection, sync) DO UPDATE SET data = excluded.data",
                (self.key, sync, json.dumps(dict(data))),
            )

        self._atomic(write)


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


def _connect(dsn: str) -> tuple[str, psycopg.Connection[Any]]:
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
