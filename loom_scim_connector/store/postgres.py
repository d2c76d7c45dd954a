"""The PostgreSQL store (psycopg 3): the same :class:`~.base.Store` guarantees as SQLite,
for hosts that share one database (``pip install 'loom-scim-connector[fleet]'``).

Import it by its own module (``from loom_scim_connector.store.postgres import
PostgresStore``): ``loom_scim_connector.store`` does not import it, so the core install
never needs psycopg.

**Tables.** Created on open (``CREATE TABLE IF NOT EXISTS``, under an advisory lock so
two processes opening a fresh database at once do not race on the catalog), all named
``loom_scim_*`` so they can live in a shared database; they go in the first schema of
the connection's ``search_path`` (set it in the DSN, ``options=-csearch_path=...``, to
use another schema); a store made by an older version is upgraded on open. Records are
kept as the same sorted-key JSON *text* the SQLite store keeps, not ``jsonb``: ``jsonb``
would rewrite numbers (``1e300`` comes back an int, ``1.0`` as ``1.0`` but ``1E2`` as
``100``), refuse ``NaN`` and ``\\u0000``, and compare semantically, so :meth:`records`
and ADDED/UPDATED/UNCHANGED would differ from SQLite's. Record ids are ``COLLATE "C"``,
so ``ORDER BY id`` is SQLite's byte order whatever the database's collation. Timestamps
are the same ISO text as SQLite's (:func:`._owner.now_iso`); lease expiry is a number
from the injectable ``clock`` (seconds), so tests expire leases with a fake clock.

**Locking.** Every method is one transaction (``READ COMMITTED``) on an autocommit
connection. :meth:`begin_run` first takes a transaction-level advisory lock on a 64-bit
hash of ``(connection, model)`` (``pg_advisory_xact_lock``), then reads the lease row
``FOR UPDATE``. Both are needed: the row lock alone cannot serialize two first runs when
no lease row exists yet (there is no row to lock, and ``INSERT ... ON CONFLICT DO
UPDATE`` would let the second silently overwrite the first's fresh lease), and the
advisory lock alone would not serialize against :meth:`heartbeat`, :meth:`save`,
:meth:`finish_run` and a fenced checkpoint, which lock the lease row itself (``UPDATE
... RETURNING`` / ``SELECT ... FOR UPDATE``, the fencing check). So a lease check and
the write that depends on it are never split by another transaction, exactly as under
SQLite's ``BEGIN IMMEDIATE``, with no serialization failures to retry. A hash collision
between two keys only makes their ``begin_run`` calls wait for each other for a moment.
Locks are always taken in one order (advisory lock, lease row, run rows, record rows by
id), and record rows are locked in id order (``SELECT ... ORDER BY id FOR UPDATE``)
before they are written (a record's sighting, in ``loom_scim_sightings``, is written
only under its record row's lock), so two writers cannot deadlock; should PostgreSQL still report
a deadlock or serialization failure, the transaction is retried.

**Caveats of a shared database.** Leases compare each host's own clock, so hosts must
keep their clocks in step (NTP) to well within a lease. The dead-owner shortcut (a lease
whose owner ``host:pid`` is on this host and gone need not be waited out) trusts that
host names are unique across the fleet: give each host a distinct ``owner`` when they
are not (containers sharing a host name but not a PID namespace).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from . import _binding
from ._owner import is_dead, now_iso
from ._pg_base import Cursor
from ._pg_evidence import PgEvidence
from ._pg_records import UNSEEN
from .base import (
    ABANDONED,
    Binding,
    HeldRun,
    LeaseLostError,
    Run,
    RunInfo,
    RunStatus,
    refuse_if_held,
)


class PostgresStore(PgEvidence):
    """Records, runs, checkpoints, leases and held candidates of one connection.

    ``dsn_or_connection`` is a ``postgresql://`` URL or ``key=value`` string (the store
    opens, and :meth:`close` closes, its own connection), or an open psycopg
    connection (used as it is and left open by :meth:`close`; when it is inside a
    transaction already, the store's work joins that transaction).
    """

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
                cur.execute(  # the records of `wanted` the run may delete (unseen, live)
                    "UPDATE loom_scim_records u SET deleted_at = %s, updated_at = %s,"  # noqa: S608
                    f" deleted_by = %s FROM (SELECT s.id {UNSEEN} AND s.id = ANY(%s)) d"
                    " WHERE u.connection = %s AND u.model = %s AND u.id = d.id"
                    " RETURNING u.id, u.data",
                    (stamp, stamp, run.generation, self.key, run.model, run.generation,
                     wanted, self.key, run.model),
                )  # fmt: skip
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

    def save_checkpoint(
        self, sync: str, data: Mapping[str, Any], *, run: Run | None = None
    ) -> None:
        def write(cur: Cursor) -> None:
            if run is not None:
                self._check_lease(cur, run)
            cur.execute(
                "INSERT INTO loom_scim_checkpoints (connection, sync, data) VALUES (%s, %s, %s)"
                " ON CONFLICT (connection, sync) DO UPDATE SET data = excluded.data",
                (self.key, sync, json.dumps(dict(data))),
            )

        self._atomic(write)

    # -- the workspace -----------------------------------------------------------------

    def binding(self) -> Binding | None:
        def read(cur: Cursor) -> Binding | None:
            cur.execute(_binding.select_sql(_binding.POSTGRES_TABLE, "%s"), (self.key,))
            return _binding.to_binding(cur.fetchone())

        return self._atomic(read)

    def bind(self, new: Binding, *, replaces: str | None) -> Binding:
        def write(cur: Cursor) -> Binding:
            cur.execute(
                _binding.bind_sql(_binding.POSTGRES_TABLE, "%s", replaces is None),
                _binding.bind_params(self.key, new, replaces),
            )
            cur.execute(_binding.select_sql(_binding.POSTGRES_TABLE, "%s"), (self.key,))
            bound = _binding.to_binding(cur.fetchone())
            assert bound is not None
            return bound

        return self._atomic(write)
