"""When each connection's syncs run: Celery beat ticks, PostgreSQL keeps the schedule.

Celery beat runs one periodic task, ``loom_scim.dispatch``, every
``LOOM_SCIM_FLEET_DISPATCH_SECONDS`` (60 s by default). Each dispatch reads the
``loom_scim_fleet_schedule`` table, one row per (connection, sync) with its next due
time, and queues a ``sync`` task for every row that is due, moving that row's next
due time one interval on: the connection's schedule override (``every 30m``) when it
has one, else the manifest's ``runs`` frequency of that sync. A connection added gets
its rows at the next dispatch, due at once; a connection removed loses them.

Why not one beat entry per connection: beat's schedule is static configuration, read
at start; thousands of connections added and removed at run time belong in the
database, where the workers already look. Two dispatches at once (two beats by
mistake, or a redelivered dispatch) cannot queue a sync twice: due rows are taken with
``FOR UPDATE SKIP LOCKED`` and the task is queued inside the transaction that moves the
row on, so a failed send leaves the row due for the next dispatch.

**Lost messages.** Celery's Redis transport takes a message with ``BRPOP`` and only then
records it as unacknowledged: a worker killed between the two (a machine lost, the
worker's main process SIGKILLed) loses that message for good, and no visibility timeout
brings it back (celery/celery#7950, celery/kombu#305; ``make fleet-load`` met it). So
each dispatch also queues again every sync queued more than ``lost_after`` seconds ago
(:func:`.settings.lost_after`, 1.5 times the visibility timeout) of which no run has
started since: at worst a sync runs twice, which the store's lease makes harmless.
``sync-now`` records what it queues here too (:meth:`Dispatcher.record_queued`), so
its syncs are covered; a connection's first ``sync-now`` also counts as its first run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from psycopg.rows import tuple_row

from loom_scim_connector.manifest import Manifest

from ._db import Tables
from .connections import TABLE as CONNECTIONS
from .connections import parse_every
from .settings import store_key

TABLE = "loom_scim_fleet_schedule"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    connection_id TEXT COLLATE "C" NOT NULL,
    sync TEXT NOT NULL,
    next_run_at DOUBLE PRECISION NOT NULL,
    last_queued_at DOUBLE PRECISION,
    last_task_id TEXT,
    PRIMARY KEY (connection_id, sync)
)
"""
_SCHEMA_LOCK = "loom_scim fleet schedule schema"
Send = Callable[[str, str], str]


def frequencies(manifest: Manifest) -> dict[str, int]:
    """Seconds between runs of each sync that starts by itself (``auto_start``), from
    the manifest's ``runs``."""
    return {
        name: parse_every(sync.spec.runs)
        for name, sync in manifest.syncs.items()
        if sync.spec.auto_start
    }


class Dispatcher(Tables):
    """Queues the syncs that are due."""

    SCHEMA = _SCHEMA
    SCHEMA_LOCK = _SCHEMA_LOCK

    def __init__(self, dsn: str, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        super().__init__(dsn)

    def dispatch(
        self, every: Mapping[str, int], send: Send, *, limit: int = 1000, prefix: str = ""
    ) -> list[tuple[str, str, str]]:
        """Queue up to ``limit`` due syncs with ``send(connection_id, sync) -> task id``;
        return (connection id, sync, task id) of each. Only connections whose id starts
        with ``prefix`` are looked at (all by default)."""
        now = self.clock()
        queued: list[tuple[str, str, str]] = []
        with self.db.transaction(), self.db.cursor(row_factory=tuple_row) as cur:
            cur.execute(
                f"DELETE FROM {TABLE} WHERE starts_with(connection_id, %s) AND"  # noqa: S608
                f" (connection_id NOT IN (SELECT id FROM {CONNECTIONS}) OR NOT sync = ANY(%s))",
                (prefix, list(every)),
            )
            cur.execute(
                f"INSERT INTO {TABLE} (connection_id, sync, next_run_at)"  # noqa: S608
                f" SELECT c.id, s.sync, %s FROM {CONNECTIONS} c"
                " CROSS JOIN unnest(%s::text[]) AS s(sync) WHERE starts_with(c.id, %s)"
                " ON CONFLICT DO NOTHING",
                (now, list(every), prefix),
            )
            cur.execute(
                f"SELECT s.connection_id, s.sync, c.schedule FROM {TABLE} s"  # noqa: S608
                f" JOIN {CONNECTIONS} c ON c.id = s.connection_id"
                " WHERE s.next_run_at <= %s AND starts_with(s.connection_id, %s)"
                " ORDER BY s.next_run_at, s.connection_id, s.sync"
                " LIMIT %s FOR UPDATE OF s SKIP LOCKED",
                (now, prefix, limit),
            )
            for connection_id, sync, override in cur.fetchall():
                interval = parse_every(override) if override else every[sync]
                task_id = send(connection_id, sync)
                cur.execute(
                    f"UPDATE {TABLE} SET next_run_at = %s, last_queued_at = %s,"  # noqa: S608
                    " last_task_id = %s WHERE connection_id = %s AND sync = %s",
                    (now + interval, now, task_id, connection_id, sync),
                )
                queued.append((connection_id, sync, task_id))
        return queued

    def record_queued(
        self, connection_id: str, sync: str, task_id: str, interval: int, *, at: float
    ) -> None:
        """A sync queued outside the schedule (``sync-now``) at ``at``, a time taken
        *before* it was sent (its run may begin before this is recorded): a new row is
        next due one ``interval`` on; either way the lost-message sweep watches it."""
        now = at
        self.db.execute(
            f"INSERT INTO {TABLE} (connection_id, sync, next_run_at, last_queued_at,"  # noqa: S608
            " last_task_id) VALUES (%s, %s, %s, %s, %s) ON CONFLICT (connection_id, sync)"
            " DO UPDATE SET last_queued_at = EXCLUDED.last_queued_at,"
            " last_task_id = EXCLUDED.last_task_id",
            (connection_id, sync, now + interval, now, task_id),
        )

    def requeue_lost(
        self, send: Send, *, lost_after: float, limit: int = 1000, prefix: str = ""
    ) -> list[tuple[str, str, str]]:
        """Queue again each sync queued more than ``lost_after`` seconds ago of which no
        run has started since (its message was lost); needs the store's tables."""
        now = self.clock()
        queued: list[tuple[str, str, str]] = []
        with self.db.transaction(), self.db.cursor(row_factory=tuple_row) as cur:
            cur.execute(
                f"SELECT s.connection_id, s.sync FROM {TABLE} s"  # noqa: S608
                " WHERE s.last_queued_at <= %s AND starts_with(s.connection_id, %s)"
                " AND NOT EXISTS (SELECT 1 FROM loom_scim_runs r"
                "  WHERE r.connection = %s || s.connection_id AND r.sync = s.sync"
                "  AND r.started_at::timestamptz >= to_timestamp(floor(s.last_queued_at)))"
                " ORDER BY s.last_queued_at LIMIT %s FOR UPDATE OF s SKIP LOCKED",
                (now - lost_after, prefix, store_key(""), limit),
            )
            for connection_id, sync in cur.fetchall():
                task_id = send(connection_id, sync)
                cur.execute(
                    f"UPDATE {TABLE} SET last_queued_at = %s, last_task_id = %s"  # noqa: S608
                    " WHERE connection_id = %s AND sync = %s",
                    (now, task_id, connection_id, sync),
                )
                queued.append((connection_id, sync, task_id))
        return queued

    def next_runs(self, connection_id: str) -> dict[str, Any]:
        """Each sync's next due time (epoch seconds) for one connection."""
        with self.db.cursor(row_factory=tuple_row) as cur:
            cur.execute(
                f"SELECT sync, next_run_at FROM {TABLE} WHERE connection_id = %s",  # noqa: S608
                (connection_id,),
            )
            return {str(sync): float(at) for sync, at in cur.fetchall()}
