"""The SQLite store's records: sightings (fenced by the lease), candidates, samples."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import Any

from . import _sightings
from ._owner import now_iso
from ._sqlite_db import SQLiteBase
from .base import Action, Run, _encoded, classify, text_of

_UPSERT = _sightings.upsert_sql("records", "sightings", "?")
_SIGHT = _sightings.sight_sql("records", "sightings", "VALUES (?, ?, ?, ?)")
_SEEN = _sightings.seen_sql("sightings", "?", "id IN (SELECT value FROM json_each(?))")
_LIVE = _sightings.live("records", "sightings", "?")
_UNSEEN = _sightings.unseen("records", "sightings", "?")


class SQLiteRecords(SQLiteBase):
    def save(
        self, run: Run, records: Sequence[Mapping[str, Any]]
    ) -> list[tuple[Action, dict[str, Any]]]:
        if not records:
            return []
        ids = [str(r["id"]) for r in records]
        results: list[tuple[Action, dict[str, Any]]] = []
        rows = []
        sights = []
        now = now_iso()
        g = run.generation
        seen = []
        once = len(set(ids)) == len(ids)  # see _sightings.seen_sql
        with self._tx() as db:
            self._check_lease(db, run)
            known = self._known(db, run.model, ids)
            for record, rid in zip(records, ids, strict=True):
                data = text_of(record)
                before = known.get(rid)
                results.append((classify(before, data), _encoded(record, data)))
                # json_each cuts a text at an escaped NUL: such an id would match no
                # row and keep its old sighting, so it goes through the upsert.
                if (
                    once
                    and before is not None
                    and before[0] == data
                    and before[1] is None
                    and "\0" not in rid
                ):
                    seen.append(rid)
                else:
                    rows.append((self.key, run.model, rid, data, now, now, g))
                    sights.append((self.key, run.model, rid, g))
            if rows:  # the records first: see _sightings.upsert_sql
                db.executemany(_UPSERT, rows)
                db.executemany(_SIGHT, sights)
            if seen:  # the same bytes, live: only the sighting moves (what the upsert does)
                db.execute(_SEEN, (g, self.key, run.model, json.dumps(seen), g))
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
                f"SELECT s.id {_UNSEEN} ORDER BY s.id",
                (self.key, run.model, run.generation),
            )
        ]

    def seen_sample(self, run: Run, limit: int = 3) -> list[str]:
        rows = self.db.execute(
            f"SELECT s.id {_LIVE} AND s.last_seen_run = ? LIMIT ?",
            (self.key, run.model, run.generation, limit),
        )
        return [str(row[0]) for row in rows]

    def live_sample(self, model: str, limit: int = 5) -> list[str]:
        rows = self.db.execute(
            f"SELECT s.id {_LIVE} ORDER BY s.last_seen_run DESC, s.id LIMIT ?",
            (self.key, model, limit),
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
