"""The SQLite store (stdlib ``sqlite3``): the reference implementation of :class:`Store`.

Every write is one ``BEGIN IMMEDIATE`` transaction, so two processes sharing a file
serialize on SQLite's own write lock; the lease is a row in ``locks`` taken in the same
transaction that creates the run. The run id (``AUTOINCREMENT``, never reused) is the
generation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from . import _binding, _evidence, _sightings
from ._owner import is_dead, now_iso
from ._sqlite_db import exec_on as _exec
from ._sqlite_records import SQLiteRecords
from .base import (
    ABANDONED,
    Binding,
    Evidence,
    HeldRun,
    Run,
    RunInfo,
    RunStatus,
    refuse_if_held,
)

_UNSEEN = _sightings.unseen("records", "sightings", "?")


class SQLiteStore(SQLiteRecords):
    """Records, runs, checkpoints, leases and held candidates of one connection."""

    # -- runs and leases ------------------------------------------------------------

    def begin_run(self, sync: str, model: str, *, lease: float) -> Run:
        with self._tx() as db:
            now = self.clock()
            holder = db.execute(
                "SELECT l.run_id, l.expires_at, r.sync, r.started_at, r.owner FROM locks l"
                " LEFT JOIN runs r ON r.run_id = l.run_id"
                " WHERE l.connection = ? AND l.model = ?",
                (self.key, model),
            ).fetchone()
            refuse_if_held(holder, now, sync, model, alive=lambda owner: not is_dead(owner))
            # Whatever is still 'running' for this model holds no live lease: it crashed.
            db.execute(
                "UPDATE runs SET status = 'abandoned', finished_at = ?, error = ?"
                " WHERE connection = ? AND model = ? AND status = 'running'",
                (now_iso(), ABANDONED, self.key, model),
            )
            started = now_iso()
            cur = db.execute(
                "INSERT INTO runs (connection, sync, model, owner, started_at, status)"
                " VALUES (?, ?, ?, ?, ?, 'running')",
                (self.key, sync, model, self.owner, started),
            )
            run_id = cur.lastrowid
            assert run_id is not None
            db.execute(
                "INSERT INTO locks (connection, model, run_id, expires_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (connection, model) DO UPDATE SET run_id = excluded.run_id,"
                " expires_at = excluded.expires_at",
                (self.key, model, run_id, now + lease),
            )
        return Run(run_id, sync, model, run_id, started, self.owner)

    def heartbeat(self, run: Run, *, lease: float) -> None:
        with self._tx() as db:
            self._check_lease(db, run)
            db.execute(
                "UPDATE locks SET expires_at = ? WHERE connection = ? AND model = ?",
                (self.clock() + lease, self.key, run.model),
            )

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
        gone: list[dict[str, Any]] = []
        with self._tx() as db:
            self._check_lease(db, run)
            stamp = now_iso()
            for rid in deleted:
                row = db.execute(
                    f"SELECT r.data {_UNSEEN} AND s.id = ?",
                    (self.key, run.model, run.generation, rid),
                ).fetchone()
                if row is None:
                    continue
                db.execute(
                    "UPDATE records SET deleted_at = ?, updated_at = ?, deleted_by = ?"
                    " WHERE connection = ? AND model = ? AND id = ?",
                    (stamp, stamp, run.generation, self.key, run.model, rid),
                )
                gone.append(json.loads(row[0]))
            db.executemany(
                "INSERT OR IGNORE INTO held (run_id, id) VALUES (?, ?)",
                [(run.run_id, rid) for rid in held],
            )
            if releases is not None:
                db.execute(
                    "UPDATE runs SET status = 'released', released_by = ? WHERE run_id = ?",
                    (run.run_id, releases),
                )
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, error = ? WHERE run_id = ?",
                (stamp, status, error, run.run_id),
            )
            db.execute(
                "DELETE FROM locks WHERE connection = ? AND model = ? AND run_id = ?",
                (self.key, run.model, run.run_id),
            )
        return gone

    def held_run(self, run_id: int) -> HeldRun | None:
        row = self.db.execute(
            "SELECT sync, model, status FROM runs WHERE run_id = ? AND connection = ?",
            (run_id, self.key),
        ).fetchone()
        if row is None:
            return None
        ids = [r[0] for r in self.db.execute("SELECT id FROM held WHERE run_id = ?", (run_id,))]
        return HeldRun(run_id, row[0], row[1] or "", row[2], sorted(ids))

    def runs(self, *, limit: int = 20) -> list[RunInfo]:
        rows = self.db.execute(
            "SELECT r.run_id, r.sync, r.model, r.status, r.started_at, r.finished_at, r.error,"
            " r.owner, (SELECT COUNT(*) FROM held h WHERE h.run_id = r.run_id)"
            " FROM runs r WHERE r.connection = ? ORDER BY r.run_id DESC LIMIT ?",
            (self.key, limit),
        )
        return [
            RunInfo(r[0], r[1], r[2] or "", r[3], r[4], r[5], r[6], r[7] or "", r[8]) for r in rows
        ]

    # -- the workspace -----------------------------------------------------------------

    def binding(self) -> Binding | None:
        row = self.db.execute(_binding.select_sql(_binding.SQLITE_TABLE, "?"), (self.key,))
        return _binding.to_binding(row.fetchone())

    def bind(self, new: Binding, *, replaces: str | None) -> Binding:
        with self._tx() as db:
            db.execute(
                _binding.bind_sql(_binding.SQLITE_TABLE, "?", replaces is None),
                _binding.bind_params(self.key, new, replaces),
            )
            row = db.execute(_binding.select_sql(_binding.SQLITE_TABLE, "?"), (self.key,))
            bound = _binding.to_binding(row.fetchone())
        assert bound is not None
        return bound

    # -- evidence (append-only, chained) -------------------------------------------------

    def record_evidence(self, item: Evidence) -> int:
        with self._tx() as db:  # BEGIN IMMEDIATE: one appender at a time, no fork
            return _evidence.append(_exec(db), _evidence.SQLITE_TABLE, "?", self.key, item)

    def evidence(
        self, *, email: str | None = None, user_id: str | None = None, limit: int | None = None
    ) -> list[Evidence]:
        return _evidence.select(
            _exec(self.db), _evidence.SQLITE_TABLE, "?", self.key,
            email=email, user_id=user_id, limit=limit,
        )  # fmt: skip

    def evidence_chain(self, *, every_connection: bool = False) -> list[dict[str, Any]]:
        key = None if every_connection else self.key
        return _evidence.chain(_exec(self.db), _evidence.SQLITE_TABLE, "?", key)

    # -- checkpoints ------------------------------------------------------------------

    def get_checkpoint(self, sync: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT data FROM checkpoints WHERE connection = ? AND sync = ?", (self.key, sync)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def save_checkpoint(
        self, sync: str, data: Mapping[str, Any], *, run: Run | None = None
    ) -> None:
        with self._tx() as db:
            if run is not None:
                self._check_lease(db, run)
            db.execute(
                "INSERT INTO checkpoints (connection, sync, data) VALUES (?, ?, ?)"
                " ON CONFLICT (connection, sync) DO UPDATE SET data = excluded.data",
                (self.key, sync, json.dumps(dict(data))),
            )
