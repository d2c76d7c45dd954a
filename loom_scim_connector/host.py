"""The reference local host: Nango's dry run, in a SQLite file.

It loads the manifest, builds a client per run, validates action inputs, runs syncs and
actions, keeps records and checkpoints in SQLite (stdlib ``sqlite3``), and tracks
deletions by Nango's rule: only after a sync *returned normally* are records of its
model that were not saved during the run marked deleted. A sync that raises, or is
cancelled, deletes nothing, and the records it saved before failing are kept.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from .client import LoomScimClient
from .config import LoomConnection
from .errors import InputError
from .manifest import Manifest, load_manifest

DEFAULT_STORE = Path("loom-scim.sqlite3")

Action = Literal["ADDED", "UPDATED", "UNCHANGED", "DELETED"]
OnRecord = Callable[[str, Action, dict[str, Any]], None]
ClientFactory = Callable[[LoomConnection], LoomScimClient]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    connection TEXT NOT NULL, model TEXT NOT NULL, id TEXT NOT NULL,
    data TEXT NOT NULL, last_seen_run INTEGER NOT NULL,
    first_seen_at TEXT NOT NULL, updated_at TEXT NOT NULL, deleted_at TEXT,
    PRIMARY KEY (connection, model, id)
);
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY AUTOINCREMENT, connection TEXT NOT NULL, sync TEXT NOT NULL,
    started_at TEXT NOT NULL, finished_at TEXT, status TEXT NOT NULL, error TEXT
);
CREATE TABLE IF NOT EXISTS checkpoints (
    connection TEXT NOT NULL, sync TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (connection, sync)
);
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class SyncReport:
    sync: str
    model: str
    status: Literal["success", "failed", "cancelled"] = "failed"
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    pages: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def saved(self) -> int:
        return self.added + self.updated + self.unchanged


class RecordStore:
    """Records, runs and checkpoints of one connection in a SQLite file."""

    def __init__(self, path: Path | str, connection_key: str) -> None:
        self.path = Path(path)
        self.key = connection_key
        self.db = sqlite3.connect(self.path)
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self.db:
            yield self.db

    def start_run(self, sync: str) -> int:
        with self._tx() as db:
            cur = db.execute(
                "INSERT INTO runs (connection, sync, started_at, status) VALUES (?, ?, ?, ?)",
                (self.key, sync, _now(), "running"),
            )
        assert cur.lastrowid is not None
        return cur.lastrowid

    def finish_run(self, run_id: int, status: str, error: str | None) -> None:
        with self._tx() as db:
            db.execute(
                "UPDATE runs SET finished_at = ?, status = ?, error = ? WHERE run_id = ?",
                (_now(), status, error, run_id),
            )

    def save(
        self, model: str, run_id: int, records: Sequence[dict[str, Any]]
    ) -> list[tuple[Action, dict[str, Any]]]:
        """Upsert one batch; return what happened to each record."""
        if not records:
            return []
        ids = [str(r["id"]) for r in records]
        marks = ",".join("?" * len(ids))
        known = {
            row[0]: (row[1], row[2])
            for row in self.db.execute(
                f"SELECT id, data, deleted_at FROM records WHERE connection = ? AND model = ? "  # noqa: S608
                f"AND id IN ({marks})",
                (self.key, model, *ids),
            )
        }
        now = _now()
        results: list[tuple[Action, dict[str, Any]]] = []
        rows = []
        for record, rid in zip(records, ids, strict=True):
            data = json.dumps(record, sort_keys=True)
            before = known.get(rid)
            action: Action
            if before is None or before[1] is not None:
                action = "ADDED"
            elif before[0] != data:
                action = "UPDATED"
            else:
                action = "UNCHANGED"
            results.append((action, record))
            rows.append((self.key, model, rid, data, run_id, now, now))
        with self._tx() as db:
            db.executemany(
                "INSERT INTO records (connection, model, id, data, last_seen_run, first_seen_at,"
                " updated_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)"
                " ON CONFLICT (connection, model, id) DO UPDATE SET"
                " updated_at = CASE WHEN records.data = excluded.data"
                " AND records.deleted_at IS NULL THEN records.updated_at"
                " ELSE excluded.updated_at END,"
                " data = excluded.data, last_seen_run = excluded.last_seen_run, deleted_at = NULL",
                rows,
            )
        return results

    def delete(self, model: str, ids: Sequence[str]) -> list[dict[str, Any]]:
        gone = []
        with self._tx() as db:
            for rid in ids:
                row = db.execute(
                    "SELECT data FROM records WHERE connection = ? AND model = ? AND id = ?"
                    " AND deleted_at IS NULL",
                    (self.key, model, rid),
                ).fetchone()
                if row is not None:
                    db.execute(
                        "UPDATE records SET deleted_at = ? WHERE connection = ? AND model = ?"
                        " AND id = ?",
                        (_now(), self.key, model, rid),
                    )
                    gone.append(json.loads(row[0]))
        return gone

    def unseen_since(self, model: str, run_id: int) -> list[str]:
        return [
            row[0]
            for row in self.db.execute(
                "SELECT id FROM records WHERE connection = ? AND model = ? AND deleted_at IS NULL"
                " AND last_seen_run < ? ORDER BY id",
                (self.key, model, run_id),
            )
        ]

    def records(self, model: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        query = "SELECT data, deleted_at FROM records WHERE connection = ? AND model = ?"
        if not include_deleted:
            query += " AND deleted_at IS NULL"
        return [
            {**json.loads(data), **({"_deletedAt": deleted} if deleted else {})}
            for data, deleted in self.db.execute(query + " ORDER BY id", (self.key, model))
        ]

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


@dataclass
class _Context:
    connection: LoomConnection
    client: LoomScimClient
    logger: logging.Logger


@dataclass
class _SyncContext(_Context):
    store: RecordStore
    sync_name: str
    run_id: int
    report: SyncReport
    on_record: OnRecord | None = None
    _pending: list[str] = field(default_factory=list)

    async def batch_save(self, records: Sequence[BaseModel], model: str) -> None:
        dumped = [r.model_dump(mode="json", by_alias=True) for r in records]
        for action, record in self.store.save(model, self.run_id, dumped):
            if action == "ADDED":
                self.report.added += 1
            elif action == "UPDATED":
                self.report.updated += 1
            else:
                self.report.unchanged += 1
            if self.on_record is not None:
                self.on_record(model, action, record)

    async def batch_delete(self, ids: Sequence[str], model: str) -> None:
        self.emit_deleted(model, self.store.delete(model, ids))

    def emit_deleted(self, model: str, records: list[dict[str, Any]]) -> None:
        self.report.deleted += len(records)
        if self.on_record is not None:
            for record in records:
                self.on_record(model, "DELETED", record)

    async def get_checkpoint(self) -> dict[str, Any] | None:
        return self.store.get_checkpoint(self.sync_name)

    async def save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.store.save_checkpoint(self.sync_name, checkpoint)


@dataclass
class _ActionContext(_Context):
    input: BaseModel


def validate_input(name: str, model: type[BaseModel], raw: object) -> BaseModel:
    """Validate an action's raw input; an :class:`InputError` names every bad field."""
    if not isinstance(raw, Mapping):
        raise InputError(name, {"(input)": "must be a JSON object"})
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = {}
        for error in exc.errors(include_input=False):
            where = ".".join(str(p) for p in error["loc"]) or "(input)"
            problems[where] = str(error["msg"]).removeprefix("Value error, ")
        raise InputError(name, problems) from None


class LocalHost:
    """Run this provider's syncs and actions from a terminal or a test."""

    def __init__(
        self,
        connection: LoomConnection,
        *,
        store: Path | str = DEFAULT_STORE,
        manifest: Manifest | None = None,
        client_factory: ClientFactory = LoomScimClient,
        on_record: OnRecord | None = None,
        logger: logging.Logger | None = None,
    ) -> None:
        self.connection = connection
        self.manifest = manifest or load_manifest()
        self.client_factory = client_factory
        self.on_record = on_record
        self.logger = logger or logging.getLogger("loom_scim_connector.host")
        self.store = RecordStore(store, connection.base_url)

    def close(self) -> None:
        self.store.close()

    async def run_sync(self, name: str) -> SyncReport:
        sync = self.manifest.sync(name)
        model = sync.spec.output
        report = SyncReport(sync=name, model=model)
        run_id = self.store.start_run(name)
        started = time.perf_counter()
        status: Literal["success", "failed", "cancelled"] = "failed"
        error: str | None = None
        async with self.client_factory(self.connection) as client:
            ctx = _SyncContext(
                self.connection,
                client,
                self.logger.getChild(f"sync.{name}"),
                self.store,
                name,
                run_id,
                report,
                self.on_record,
            )
            try:
                await sync.function(ctx)
                status = "success"
                if sync.spec.track_deletes:
                    unseen = self.store.unseen_since(model, run_id)
                    ctx.emit_deleted(model, self.store.delete(model, unseen))
            except BaseException as exc:
                status = "cancelled" if not isinstance(exc, Exception) else "failed"
                error = str(exc) or type(exc).__name__
                raise
            finally:
                report.status = status
                report.error = error
                report.requests = client.stats.requests
                report.retries = client.stats.retries
                report.pages = client.stats.pages
                report.seconds = time.perf_counter() - started
                self.store.finish_run(run_id, status, error)
        return report

    async def run_action(self, name: str, raw_input: object) -> BaseModel:
        action = self.manifest.action(name)
        validated = validate_input(name, action.input_model, raw_input)
        async with self.client_factory(self.connection) as client:
            ctx = _ActionContext(
                self.connection, client, self.logger.getChild(f"action.{name}"), validated
            )
            output = await action.function(ctx)
        if not isinstance(output, action.output_model):
            raise TypeError(f"{name} returned {type(output).__name__}, not {action.output_model}")
        return output

    def records(self, model: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        return self.store.records(model, include_deleted=include_deleted)
