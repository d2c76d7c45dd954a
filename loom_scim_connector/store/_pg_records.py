"""The PostgreSQL store's records: sightings (fenced by the lease), candidates, samples."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from . import _sightings
from ._owner import now_iso
from ._pg_base import Cursor, PgBase
from .base import Action, Run, _encoded, classify, text_of

_RECORDS, _SIGHTINGS = "loom_scim_records", "loom_scim_sightings"
_UPSERT = _sightings.upsert_sql(_RECORDS, _SIGHTINGS, "%s")
_SIGHT = _sightings.sight_sql(
    _RECORDS, _SIGHTINGS, "SELECT %s, %s, value, %s FROM unnest(%s::text[]) AS value"
)
_SEEN = _sightings.seen_sql(_SIGHTINGS, "%s", "id = ANY(%s)")
_LIVE = _sightings.live(_RECORDS, _SIGHTINGS, "%s")
UNSEEN = _sightings.unseen(_RECORDS, _SIGHTINGS, "%s")


class PgRecords(PgBase):
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
            self._check_lease(cur, run)  # the lease row first, then records: one lock order
            known = self._lock_records(cur, run.model, sorted(set(ids)))
            results: list[tuple[Action, dict[str, Any]]] = []
            seen: list[str] = []
            changed: list[int] = []
            once = len(set(ids)) == len(ids)  # see _sightings.seen_sql
            for i, (record, rid, data) in enumerate(zip(records, ids, datas, strict=True)):
                before = known.get(rid)
                results.append((classify(before, data), _encoded(record, data)))
                if once and before is not None and before[0] == data and before[1] is None:
                    seen.append(rid)
                else:
                    changed.append(i)
            now = now_iso()
            # Rows go in id order (a stable sort keeps repeats of one id in the caller's
            # order, so the last one wins as with SQLite), the order they were locked in.
            changed.sort(key=ids.__getitem__)
            key, model, g = self.key, run.model, run.generation
            if changed:  # the records first: see _sightings.upsert_sql
                cur.executemany(
                    _UPSERT, [(key, model, ids[i], datas[i], now, now, g) for i in changed]
                )
                cur.execute(_SIGHT, (key, model, g, list(dict.fromkeys(ids[i] for i in changed))))
            if seen:  # the same bytes, live: only the sighting moves (what the upsert does)
                cur.execute(_SEEN, (g, key, model, seen, g))
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
                f"SELECT s.id {UNSEEN} ORDER BY s.id",
                (self.key, run.model, run.generation),
            )
            return [str(row[0]) for row in cur.fetchall()]

        return self._atomic(read)

    def seen_sample(self, run: Run, limit: int = 3) -> list[str]:
        def read(cur: Cursor) -> list[str]:
            cur.execute(
                f"SELECT s.id {_LIVE} AND s.last_seen_run = %s ORDER BY s.id LIMIT %s",
                (self.key, run.model, run.generation, limit),
            )
            return [str(row[0]) for row in cur.fetchall()]

        return self._atomic(read)

    def live_sample(self, model: str, limit: int = 5) -> list[str]:
        def read(cur: Cursor) -> list[str]:
            cur.execute(
                f"SELECT s.id {_LIVE} ORDER BY s.last_seen_run DESC, s.id LIMIT %s",
                (self.key, model, limit),
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
