"""Idempotency keys of actions, in PostgreSQL: an action delivered twice takes effect once.

Celery with ``acks_late`` delivers a task *at least* once (a worker killed mid-task, a
visibility timeout passed, a client that sent twice), so the ``action`` task claims its
``(connection, idempotency key)`` row before doing anything:

* **new key**: a row ``running`` is inserted with a lease and this delivery runs the
  action, then stores its output (``done``) or its error (``failed``);
* **done / failed**: the stored output is returned (or the stored error raised again),
  and no request is sent: the second delivery answers what the first did;
* **running, lease live**: another delivery is running it now: :class:`ActionBusyError`
  (the task retries later);
* **running, lease expired or owner dead** (a worker killed mid-action): this delivery
  takes it over and runs the action again. That is safe because every action is
  written to be re-run: ``create-user`` looks the user up after a conflict and answers
  ``recovered``/``existed``, deactivations and deletions read back;
* **same key, other action or input**: :class:`IdempotencyConflictError`, nothing runs.

A failure is final for its key, as a success is: to try again, use a new key.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from psycopg.rows import tuple_row

from loom_scim_connector.errors import LoomScimError
from loom_scim_connector.store._owner import default_owner, is_dead, now_iso

from ._db import Tables

TABLE = "loom_scim_fleet_actions"
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    connection_id TEXT COLLATE "C" NOT NULL,
    idempotency_key TEXT COLLATE "C" NOT NULL,
    action TEXT NOT NULL,
    input_sha256 TEXT NOT NULL,
    status TEXT NOT NULL,
    owner TEXT NOT NULL,
    lease_until DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    output TEXT,
    error_class TEXT,
    error TEXT,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    PRIMARY KEY (connection_id, idempotency_key)
)
"""
_SCHEMA_LOCK = "loom_scim fleet actions schema"


class IdempotencyConflictError(LoomScimError):
    """The idempotency key was used before for another action or another input."""


class ActionBusyError(LoomScimError):
    """Another delivery of this action is running now (its lease is live)."""

    def __init__(self, connection_id: str, key: str, owner: str) -> None:
        self.connection_id, self.key, self.owner = connection_id, key, owner
        super().__init__(
            f"action with idempotency key {key!r} on {connection_id!r} is running now (by {owner})"
        )

    def __reduce__(self) -> Any:
        return (type(self), (self.connection_id, self.key, self.owner))


class ActionFailedError(LoomScimError):
    """The action failed on its first delivery; a repeat answers the same failure."""


@dataclass(frozen=True)
class Claim:
    """What :meth:`ActionLedger.claim` found: run it (``run``), or a stored outcome."""

    state: Literal["run", "done", "failed"]
    output: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 1


def input_digest(action: str, raw_input: Any) -> str:
    text = json.dumps([action, raw_input], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


class ActionLedger(Tables):
    """The ``loom_scim_fleet_actions`` table."""

    SCHEMA = _SCHEMA
    SCHEMA_LOCK = _SCHEMA_LOCK

    def __init__(
        self, dsn: str, *, owner: str | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.owner = owner or default_owner()
        self.clock = clock
        super().__init__(dsn)

    def claim(
        self, connection_id: str, key: str, action: str, raw_input: Any, *, lease: float
    ) -> Claim:
        digest = input_digest(action, raw_input)
        now = self.clock()
        with self.db.transaction(), self.db.cursor(row_factory=tuple_row) as cur:
            cur.execute(
                f"INSERT INTO {TABLE} (connection_id, idempotency_key, action, input_sha256,"  # noqa: S608
                " status, owner, lease_until, started_at)"
                " VALUES (%s, %s, %s, %s, 'running', %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (connection_id, key, action, digest, self.owner, now + lease, now_iso()),
            )
            if cur.rowcount == 1:
                return Claim("run")
            cur.execute(
                "SELECT action, input_sha256, status, owner, lease_until, output,"  # noqa: S608
                f" error_class, error, attempts FROM {TABLE}"
                " WHERE connection_id = %s AND idempotency_key = %s FOR UPDATE",
                (connection_id, key),
            )
            row = cur.fetchone()
            assert row is not None  # rows are never deleted while a key may be replayed
            stored_action, stored_digest, status, owner, lease_until = row[:5]
            if stored_action != action or stored_digest != digest:
                raise IdempotencyConflictError(
                    f"idempotency key {key!r} on {connection_id!r} was used for another "
                    f"{'input' if stored_action == action else 'action'} "
                    f"({stored_action}); use a new key for a new action"
                )
            if status == "done":
                return Claim("done", output=json.loads(row[5]), attempts=row[8])
            if status == "failed":
                return Claim("failed", error=f"{row[6]}: {row[7]}", attempts=row[8])
            if lease_until > now and not is_dead(owner):
                raise ActionBusyError(connection_id, key, owner)
            cur.execute(
                f"UPDATE {TABLE} SET owner = %s, lease_until = %s, attempts = attempts + 1"  # noqa: S608
                " WHERE connection_id = %s AND idempotency_key = %s",
                (self.owner, now + lease, connection_id, key),
            )
            return Claim("run", attempts=row[8] + 1)

    def finish(
        self,
        connection_id: str,
        key: str,
        *,
        output: dict[str, Any] | None = None,
        error: BaseException | None = None,
    ) -> None:
        status = "failed" if error is not None else "done"
        self.db.execute(
            f"UPDATE {TABLE} SET status = %s, output = %s, error_class = %s, error = %s,"  # noqa: S608
            " finished_at = %s WHERE connection_id = %s AND idempotency_key = %s",
            (
                status,
                None if output is None else json.dumps(output, sort_keys=True),
                None if error is None else type(error).__name__,
                None if error is None else str(error),
                now_iso(),
                connection_id,
                key,
            ),
        )

    def release(self, connection_id: str, key: str) -> None:
        """Give up a claim without an outcome (the task will be retried): the next
        delivery runs the action."""
        self.db.execute(
            f"UPDATE {TABLE} SET lease_until = 0"  # noqa: S608
            " WHERE connection_id = %s AND idempotency_key = %s AND status = 'running'",
            (connection_id, key),
        )
