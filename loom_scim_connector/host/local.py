"""``LocalHost``: run this provider's syncs and actions from a terminal or a test."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from loom_scim_connector._constants import CONFIRM_CONCURRENCY, LEASE_SECONDS
from loom_scim_connector._constants import DEFAULT_STORE as _DEFAULT_STORE
from loom_scim_connector.check import discover
from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.config import LoomConnection
from loom_scim_connector.errors import ApiError, InputError, NotFoundError
from loom_scim_connector.manifest import Manifest, ResolvedSync, load_manifest
from loom_scim_connector.store import Run, SQLiteStore, Store, StoreError, SyncBusyError

from .context import ActionContextImpl, OnRecord, validate_input
from .report import SyncReport
from .syncrun import DeletionGuard, SyncRun
from .workspace import ensure_workspace

DEFAULT_STORE = Path(_DEFAULT_STORE)
ClientFactory = Callable[[LoomConnection], LoomScimClient]
Sleep = Callable[[float], Awaitable[None]]


def open_store(store: Path | str | Store, connection_key: str, *, read_only: bool = False) -> Store:
    """A store from what a user gives: a ``postgresql://`` URL (needs the ``fleet``
    extra), a SQLite file path (opened for reading only when ``read_only``: SQLite then
    refuses any write), or a :class:`Store` already made."""
    if isinstance(store, str) and store.startswith(("postgresql://", "postgres://")):
        try:
            from loom_scim_connector.store.postgres import PostgresStore
        except ImportError:
            raise StoreError(
                "(a postgresql:// URL)",
                "needs the fleet extra: pip install 'loom-scim-connector[fleet]'",
            ) from None
        return PostgresStore(store, connection_key)
    if isinstance(store, str | Path):
        return SQLiteStore(store, connection_key, read_only=read_only)
    return store


class LocalHost:
    """Run this provider's syncs and actions, with records in a store (SQLite by default)."""

    def __init__(
        self,
        connection: LoomConnection,
        *,
        store: Path | str | Store = DEFAULT_STORE,
        manifest: Manifest | None = None,
        client_factory: ClientFactory = LoomScimClient,
        on_record: OnRecord | None = None,
        logger: logging.Logger | None = None,
        guard: DeletionGuard | None = None,
        lease: float = LEASE_SECONDS,
        confirm_concurrency: int = CONFIRM_CONCURRENCY,
        sleep: Sleep = asyncio.sleep,
        read_only: bool = False,
    ) -> None:
        self.connection = connection
        self.manifest = manifest or load_manifest(lazy=True)
        self.client_factory = client_factory
        self.on_record = on_record
        self.logger = logger or logging.getLogger("loom_scim_connector.host")
        self.guard = guard or DeletionGuard()
        self.lease = lease
        self.confirm_concurrency = confirm_concurrency
        self.sleep = sleep
        self.store: Store = open_store(store, connection.base_url, read_only=read_only)

    def close(self) -> None:
        self.store.close()

    async def run_sync(self, name: str, *, wait: float | None = None) -> SyncReport:
        """Run one sync. ``wait`` seconds to wait for a running sync of the same model,
        else :class:`~loom_scim_connector.store.SyncBusyError` at once."""
        sync = self.manifest.sync(name)
        report = SyncReport(sync=name, model=sync.spec.output)
        await self._execute(sync, wait, report, lambda runner: runner.walk_and_settle)
        return report

    async def release_held(
        self,
        name: str,
        run_id: int,
        *,
        wait: float | None = None,
        without_controls: bool = False,
    ) -> SyncReport:
        """Confirm and apply the deletions a held run kept back, after a person's review.

        Each candidate is still looked up first, between control lookups of live records
        outside the held run: only those the server confirms gone are deleted; the others
        are kept and reported as recovered. With no such record left, :class:`InputError`
        unless ``without_controls`` (the server's 404s alone then decide).
        """
        sync = self.manifest.sync(name)
        held = self.store.held_run(run_id)
        if held is None or held.sync != name:
            raise InputError("--release-held", {str(run_id): f"is not a run of the {name} sync"})
        if held.status != "held":
            raise InputError(
                "--release-held", {str(run_id): f"is {held.status}, not held: nothing to release"}
            )
        report = SyncReport(sync=name, model=sync.spec.output)

        def body(runner: SyncRun) -> Callable[[Run], Awaitable[None]]:
            return lambda r: runner.release(r, run_id, held.ids, without_controls=without_controls)

        await self._execute(sync, wait, report, body)
        return report

    async def _begin(self, sync: ResolvedSync, wait: float | None) -> Run:
        deadline = None if wait is None else time.monotonic() + wait
        delay = 0.2
        while True:
            try:
                return self.store.begin_run(sync.name, sync.spec.output, lease=self.lease)
            except SyncBusyError as busy:
                left = 0.0 if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    raise
                self.logger.info("waiting for run %d to finish", busy.run_id)
                await self.sleep(min(delay, left))
                delay = min(delay * 2, 2.0)

    async def _execute(
        self,
        sync: ResolvedSync,
        wait: float | None,
        report: SyncReport,
        body: Callable[[SyncRun], Callable[[Run], Awaitable[None]]],
    ) -> None:
        started = time.perf_counter()
        try:
            async with self._session(report.warnings) as client:
                run = await self._begin(sync, wait)
                report.run_id = run.run_id
                runner = SyncRun(
                    sync,
                    self.store,
                    client,
                    self.connection,
                    self.logger.getChild(f"sync.{sync.name}"),
                    report,
                    self.on_record,
                    self.guard,
                    self.lease,
                    self.confirm_concurrency,
                )
                await runner.execute(run, body(runner))
        finally:
            report.seconds = time.perf_counter() - started

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[LoomScimClient]:
        """One client for several actions in a row (offboarding a list of people)."""
        async with self._session(None) as client:
            yield client

    @contextlib.asynccontextmanager
    async def _session(self, warnings: list[str] | None) -> AsyncIterator[LoomScimClient]:
        """A client on the discovered URL, once the store is known to hold the workspace
        this key reaches (:mod:`.workspace`); a new key that took it over is noted: in
        ``warnings`` (a sync's report, which its reader prints), else in the log."""
        self.connection = await discover(self.connection, self.client_factory)
        async with self.client_factory(self.connection) as client:
            note = await ensure_workspace(
                self.store, self.manifest, self.connection, client, self.logger
            )
            if note is not None and warnings is not None:
                warnings.append(note)
            elif note is not None:
                self.logger.warning("%s", note)
            yield client

    async def run_action(
        self, name: str, raw_input: object, *, client: LoomScimClient | None = None
    ) -> BaseModel:
        """Validate the input, run the action, check its output; on ``client`` when given
        (from :meth:`session`), else on a client of its own."""
        action = self.manifest.action(name)
        validated = validate_input(name, action.input_model, raw_input)
        async with contextlib.AsyncExitStack() as stack:
            if client is None:
                client = await stack.enter_async_context(self.session())
            ctx = ActionContextImpl(
                self.connection, client, self.logger.getChild(f"action.{name}"), validated
            )
            try:
                output = await action.function(ctx)
            except NotFoundError:
                # A missing id, or a URL that is not SCIM at all? The collection says.
                await client.list_page("Users", 1, 1)  # WrongUrlError when the URL is wrong
                raise
            except ApiError as exc:  # one an action raised itself (a record it cannot read)
                client.named(exc)
                raise
        if not isinstance(output, action.output_model):
            raise TypeError(f"{name} returned {type(output).__name__}, not {action.output_model}")
        return output

    def records(self, model: str, *, include_deleted: bool = False) -> list[dict[str, Any]]:
        return self.store.records(model, include_deleted=include_deleted)
