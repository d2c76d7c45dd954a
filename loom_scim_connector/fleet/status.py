"""Per connection, what a monitor wants to know: ``loom-scim fleet status``.

For each connection: its key's expiry (and days left), and for each sync of the
manifest (a connection never synced lists each, as ``never``): what it is doing now
(``running`` since when and by which worker ``host:pid``, from the run whose lease is
live; ``queued`` since when, from the schedule's last queueing of which no run has
started since), the last
success, the last failure (its time, error, and the error's class and kind from
:mod:`.errors`, e.g. ``AuthenticationError`` / ``auth``), the next scheduled run (from
:mod:`.schedule`, once a dispatch has seen the connection) and the held runs still
waiting for a person's review (their run ids and the number of records kept back).
Read with a few queries over all connections, not one per connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from psycopg.rows import tuple_row

from loom_scim_connector.manifest import load_manifest
from loom_scim_connector.store._pg_base import connect
from loom_scim_connector.store.postgres import PostgresStore

from .connections import ConnectionInfo
from .errors import ErrorLog
from .schedule import TABLE as SCHEDULE
from .schedule import Dispatcher
from .settings import store_key


def fleet_status(
    dsn: str,
    connections: list[ConnectionInfo],
    *,
    today: date | None = None,
    syncs: list[str] | None = None,
    clock: Callable[[], float] = time.time,
) -> list[dict[str, Any]]:
    """The status of each connection, in the order given; ``syncs`` are the manifest's
    (each shown for every connection, run or not)."""
    if syncs is None:
        syncs = list(load_manifest().syncs)
    PostgresStore(dsn, store_key("")).close()  # makes the store's tables if none yet
    Dispatcher(dsn).close()  # and the schedule's
    with ErrorLog(dsn) as errors:
        classes = errors.last([c.id for c in connections])
    keys = [store_key(c.id) for c in connections]
    _, db = connect(dsn)
    try:
        with db.cursor(row_factory=tuple_row) as cur:
            cur.execute(
                "SELECT DISTINCT ON (connection, sync, status) connection, sync, status,"
                " run_id, finished_at, error FROM loom_scim_runs"
                " WHERE connection = ANY(%s) AND status IN ('success', 'failed')"
                " ORDER BY connection, sync, status, run_id DESC",
                (keys,),
            )
            last = {(r[0], r[1], r[2]): r for r in cur.fetchall()}
            cur.execute(
                "SELECT r.connection, r.sync, r.run_id,"
                " (SELECT COUNT(*) FROM loom_scim_held h WHERE h.run_id = r.run_id)"
                " FROM loom_scim_runs r WHERE r.connection = ANY(%s) AND r.status = 'held'"
                " ORDER BY r.run_id",
                (keys,),
            )
            held: dict[tuple[str, str], list[dict[str, int]]] = {}
            for key, sync, run_id, count in cur.fetchall():
                held.setdefault((key, sync), []).append({"runId": run_id, "records": count})
            cur.execute(
                f"SELECT connection_id, sync, next_run_at FROM {SCHEDULE}"  # noqa: S608
                " WHERE connection_id = ANY(%s)",
                ([c.id for c in connections],),
            )
            next_run = {(r[0], r[1]): r[2] for r in cur.fetchall()}
            cur.execute(
                "SELECT DISTINCT connection, sync FROM loom_scim_runs WHERE connection = ANY(%s)",
                (keys,),
            )
            seen = {(r[0], r[1]) for r in cur.fetchall()}
            running, queued = _now(cur, keys, [c.id for c in connections], clock())
    finally:
        db.close()
    today = today or date.today()
    statuses = []
    for info in connections:
        key = store_key(info.id)
        names = sorted(
            set(syncs)
            | {s for k, s in seen if k == key}
            | {s for c, s in next_run if c == info.id}
            | {s for c, s in classes if c == info.id}
        )
        per_sync = {}
        for sync in names:
            ok, bad = last.get((key, sync, "success")), last.get((key, sync, "failed"))
            at = next_run.get((info.id, sync))
            message = bad[5] if bad and (not ok or bad[3] > ok[3]) else None
            # A success clears the class; one recorded with no failed run (a key that
            # could not be read, say) failed before any run began.
            error = classes.get((info.id, sync))
            per_sync[sync] = {
                "state": _state(
                    running.get((key, sync)), queued.get((info.id, sync)), (key, sync) in seen
                ),
                "running": running.get((key, sync)),
                "queued": queued.get((info.id, sync)),
                "lastSuccess": ok[4] if ok else None,
                "lastFailure": bad[4] if bad else (error.at.isoformat() if error else None),
                "lastError": message or (error.message if error else None),
                "lastErrorClass": error.error_class if error else None,
                "lastErrorKind": error.kind if error else None,
                "nextRun": _iso(at) if at is not None else None,
                "held": held.get((key, sync), []),
            }
        expires = info.api_key_expires_at
        statuses.append(
            {
                "id": info.id,
                "apiKeyExpiresAt": expires.isoformat() if expires else None,
                "daysUntilKeyExpiry": (expires - today).days if expires else None,
                "syncs": per_sync,
            }
        )
    return statuses


def _now(
    cur: Any, keys: list[str], ids: list[str], now: float
) -> tuple[dict[tuple[str, str], dict[str, str]], dict[tuple[str, str], dict[str, str]]]:
    """The runs going on now (a ``running`` run whose lease is live) and the syncs
    queued of which no run has started since."""
    cur.execute(
        "SELECT r.connection, r.sync, r.started_at, r.owner FROM loom_scim_runs r"
        " JOIN loom_scim_locks l ON l.connection = r.connection AND l.run_id = r.run_id"
        " WHERE r.connection = ANY(%s) AND r.status = 'running' AND l.expires_at > %s",
        (keys, now),
    )
    running = {(r[0], r[1]): {"since": r[2], "owner": r[3]} for r in cur.fetchall()}
    cur.execute(
        f"SELECT s.connection_id, s.sync, s.last_queued_at, s.last_task_id FROM {SCHEDULE} s"  # noqa: S608
        " WHERE s.connection_id = ANY(%s) AND s.last_queued_at IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM loom_scim_runs r"
        "  WHERE r.connection = %s || s.connection_id AND r.sync = s.sync"
        "  AND r.started_at::timestamptz >= to_timestamp(floor(s.last_queued_at)))",
        (ids, store_key("")),
    )
    queued = {(r[0], r[1]): {"since": _iso(r[2]), "taskId": r[3]} for r in cur.fetchall()}
    return running, queued


def _state(running: Any, queued: Any, ran: bool) -> str:
    if running:
        return "running"
    if queued:
        return "queued"
    return "idle" if ran else "never"


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def status_lines(item: dict[str, Any]) -> str:
    days = item["daysUntilKeyExpiry"]
    lines = [f"{item['id']}  key expires {item['apiKeyExpiresAt'] or '-'}"]
    if days is not None:
        lines[0] += f" ({days} days)"
    for sync, s in item["syncs"].items():
        held = ", ".join(f"run {h['runId']} ({h['records']} records)" for h in s["held"])
        never = "never" if s["state"] == "never" else "-"
        now = ""
        if s["running"]:
            now = f"  RUNNING since {s['running']['since']} by {s['running']['owner']}"
        elif s["queued"]:
            now = f"  QUEUED since {s['queued']['since']}"
        lines.append(
            f"  {sync:<8} last success {s['lastSuccess'] or never}"
            f"  next run {s['nextRun'] or '-'}"
            + now
            + (f"  last error: {_error(s)}" if s["lastError"] else "")
            + (f"  HELD: {held}" if held else "")
        )
    return "\n".join(lines) + "\n"


def _error(sync: dict[str, Any]) -> str:
    """``[auth] AuthenticationError: the key was refused``, or the message alone."""
    kind, cls, message = sync["lastErrorKind"], sync["lastErrorClass"], sync["lastError"]
    if not cls:
        return str(message)
    return f"[{kind}] {message if message.startswith(cls) else f'{cls}: {message}'}"
