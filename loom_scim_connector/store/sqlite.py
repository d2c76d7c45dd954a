"""The SQLite store (stdlib ``sqlite3``): the reference implementation of :class:`Store`.

Every write is one ``BEGIN IMMEDIATE`` transaction, so two processes sharing a file
serialize on SQLite's own write lock; the lease is a row in ``locks`` taken in the same
transaction that creates the run. The run id (``AUTOINCREMENT``, never reused) is the
generation.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import _evidence
from ._owner import default_owner, is_dead, now_iso
from ._sqlite_db import open_db
from .base import (
    ABANDONED,
    Action,
    Evidence,
    HeldRun,
    LeaseLostError,
    Run,
    RunInfo,
    RunStatus,
    _encoded,
    classify,
    refuse_if_held,
    text_of,
)


class SQLiteStore:
    """Records, runs, checkpoints, leases and held candidates of one connection."""

    def __init__(
        self,
        path: Path | str,
        connection_key: str,
        *,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.key = connection_key
        self.owner = owner or default_owner()
        self.clock = clock
        self.db = open_db(path)

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

    def _check_lease(self, db: sqlite3.Connection, run: Run) -> None:
        row = db.execute(
            "SELECT run_id, expires_at FROM locks WHERE connection = ? AND model = ?",
            (self.key, run.model),
        ).fetchone()
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
        gone: list[dict[str, Any]] = []
        with self._tx() as db:
            self._check_lease(db, run)
            stamp = now_iso()
            for rid in deleted:
                row = db.execute(
                    "SELECT data FROM records WHERE connection = ? AND model = ? AND id = ?"
                    " AND deleted_at IS NULL AND last_seen_run < ?",
                    (self.key, run.model, rid, run.generation),
                ).fetchone()
                if row is None:
                    continue
                db.execute(
                    "UPDATE records SET deleted_at = ?, updated_at = ?"
                    " WHERE connection = ? AND model = ? AND id = ?",
                    (stamp, stamp, self.key, run.model, rid),
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

    # -- records --------------------------------------------------------------------

    def save(
        self, run: Run, records: Sequence[Mapping[str, Any]]
    ) -> list[tuple[Action, dict[str, Any]]]:
        if not records:
            return []
        ids = [str(r["id"]) for r in records]
        results: list[tuple[Action, dict[str, Any]]] = []
        rows = []
        now = now_iso()
        with self._tx() as db:
            known = self._known(db, run.model, ids)
            for record, rid in zip(records, ids, strict=True):
                data = text_of(record)
                results.append((classify(known.get(rid), data), _encoded(record, data)))
                rows.append((self.key, run.model, rid, data, run.generation, now, now))
            # An older generation never overwrites what a newer one saw.
            db.executemany(
                "INSERT INTO records (connection, model, id, data, last_seen_run, first_seen_at,"
                " updated_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)"
                " ON CONFLICT (connection, model, id) DO UPDATE SET"
                " updated_at = CASE WHEN excluded.last_seen_run < records.last_seen_run"
                " OR (records.data = excluded.data AND records.deleted_at IS NULL)"
                " THEN records.updated_at ELSE excluded.updated_at END,"
                " data = CASE WHEN excluded.last_seen_run < records.last_seen_run"
                " THEN records.data ELSE excluded.data END,"
                " deleted_at = CASE WHEN excluded.last_seen_run < records.last_seen_run"
                " THEN records.deleted_at ELSE NULL END,"
                " last_seen_run = MAX(records.last_seen_run, excluded.last_seen_run)",
                rows,
            )
        return results

    def _known(
        self, db: sqlite3.Connection, model: str, ids: list[str]
    ) -> dict[str, tuple[str, str | None]]:
        found: dict[str, tuple[str, str | None]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for row in db.execute(
                "SELECT id, data, deleted_at FROM records WHERE connection = ?"  # noqa: S608
                f" AND model = ? AND id IN ({marks})",  # only placeholders are formatted in
                (self.key, model, *chunk),
            ):
                found[row[0]] = (row[1], row[2])
        return found

    def live_count(self, model: str) -> int:
        row = self.db.execute(
            "SELECT COUNT(*) FROM records WHERE connection = ? AND model = ?"
            " AND deleted_at IS NULL",
            (self.key, model),
        ).fetchone()
        return int(row[0])

    def candidates(self, run: Run) -> list[str]:
        return [
            row[0]
            for row in self.db.execute(
                "SELECT id FROM records WHERE connection = ? AND model = ? AND deleted_at IS NULL"
                " AND last_seen_run < ? ORDER BY id",
                (self.key, run.model, run.generation),
            )
        ]

    def seen_sample(self, run: Run, limit: int = 3) -> list[str]:
        rows = self.db.execute(
            "SELECT id FROM records WHERE connection = ? AND model = ? AND deleted_at IS NULL"
            " AND last_seen_run = ? LIMIT ?",
            (self.key, run.model, run.generation, limit),
        )
        return [str(row[0]) for row in rows]

    def records(
        self, model: str, *, include_deleted: bool = False, ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        query = "SELECT id, data, deleted_at FROM records WHERE connection = ? AND model = ?"
        if not include_deleted:
            query += " AND deleted_at IS NULL"
        if ids is None:
            rows = list(self.db.execute(query + " ORDER BY id", (self.key, model)))
        else:  # only the rows asked for: never a parse of the whole model for a few ids
            wanted = sorted({str(rid) for rid in ids})
            rows = []
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows += self.db.execute(
                    f"{query} AND id IN ({marks})",
                    (self.key, model, *chunk),
                )
            rows.sort(key=lambda row: row[0])
        return [
            {**json.loads(data), **({"_deletedAt": deleted} if deleted else {})}
            for _, data, deleted in rows
        ]

    # -- evidence (append-only) ----------------------------------------------------------

    def record_evidence(self, item: Evidence) -> int:
        with self._tx() as db:
            cur = db.execute(
                _evidence.insert_sql(_evidence.SQLITE_TABLE, "?"),
                _evidence.insert_params(self.key, item),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def evidence(
        self, *, email: str | None = None, user_id: str | None = None, limit: int | None = None
    ) -> list[Evidence]:
        query, params = _evidence.select_sql(
            _evidence.SQLITE_TABLE, "?", self.key, email, user_id, limit
        )
        return [_evidence.to_evidence(row) for row in self.db.execute(query, params)]

    # -- checkpoints ------------------------------------------------------------------

    def get_checkpoint(self, sync: str) -> dict[str, Any] | None:
        row = self.db.execute(
            "SELECT data FROM checkpoints WHERE connection = ? AND sync = ?", (self.key, sync)
        ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def save_checkpoint(self, sync: str, data: Mapping[str, Any]) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO checkpoints (connection, sync, data) VALUES (?, ?, ?)"
                " ON CONFLICT (connection, sync) DO UPDATE SET data = excluded.data",
                (self.key, sync, json.dumps(dict(data))),
            )
