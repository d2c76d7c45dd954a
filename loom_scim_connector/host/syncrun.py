"""One run of a sync, from lease to verdict: the only place deletions are decided.

The steps: walk (the sync function); candidates (live records the walk did not see);
the mass-deletion guard (too many: walk again, then hold); confirmation (each
candidate looked up with the server, a control lookup first); finish (deletions, held
candidates, status and the lease's release in one store transaction). A heartbeat
renews the lease while the run lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel

from loom_scim_connector._constants import (
    CONFIRM_CONCURRENCY,
    GUARD_MAX_FRACTION,
    GUARD_MIN_COUNT,
    LEASE_SECONDS,
)
from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.config import LoomConnection
from loom_scim_connector.contract import RunContext
from loom_scim_connector.errors import IncompleteSyncError
from loom_scim_connector.manifest import ResolvedSync
from loom_scim_connector.models.scim import UnreadableRecord
from loom_scim_connector.store import LeaseLostError, Run, Store

from .context import ContractError, OnRecord, SyncContextImpl, encode
from .report import SyncReport


@dataclass(frozen=True)
class DeletionGuard:
    """When are candidates too many to confirm one by one? More than ``min_count`` AND
    more than ``max_fraction`` of the records that were live before the run."""

    min_count: int = GUARD_MIN_COUNT
    max_fraction: float = GUARD_MAX_FRACTION

    def trips(self, candidates: int, live: int) -> bool:
        return candidates > self.min_count and candidates > self.max_fraction * live


@dataclass
class SyncRun:
    sync: ResolvedSync
    store: Store
    client: LoomScimClient
    connection: LoomConnection
    logger: logging.Logger
    report: SyncReport
    on_record: OnRecord | None = None
    guard: DeletionGuard = DeletionGuard()
    lease: float = LEASE_SECONDS
    concurrency: int = CONFIRM_CONCURRENCY

    async def execute(self, run: Run, body: Callable[[Run], Awaitable[None]]) -> None:
        """Run ``body`` under the lease; any failure ends the run deleting nothing."""
        heartbeat = asyncio.create_task(self._heartbeat(run))
        try:
            await body(run)
        except BaseException as exc:
            status: Literal["failed", "cancelled"] = (
                "failed" if isinstance(exc, Exception) else "cancelled"
            )
            self.report.status = status
            self.report.error = str(exc) or type(exc).__name__
            try:
                self.store.finish_run(run, status, error=self.report.error)
            except Exception as finish_error:  # lost lease, or the store itself failed
                self.logger.debug("run %d: end not recorded: %s", run.run_id, finish_error)
            raise
        finally:
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
            self.report.requests = self.client.stats.requests
            self.report.retries = self.client.stats.retries
            self.report.pages = self.client.stats.pages

    async def _heartbeat(self, run: Run) -> None:
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                self.store.heartbeat(run, lease=self.lease)
            except LeaseLostError as exc:
                self.logger.warning("%s", exc)
                return

    def _context(self, run: Run) -> SyncContextImpl:
        return SyncContextImpl(
            self.connection,
            self.client,
            self.logger,
            self.store,
            run,
            self.sync.output_model,
            self.report,
            self.on_record,
        )

    # -- a normal run -------------------------------------------------------------------

    async def walk_and_settle(self, run: Run) -> None:
        ctx = self._context(run)
        live_before = self.store.live_count(run.model)
        await self._walk(ctx)
        if not self.sync.spec.track_deletes:
            self.store.finish_run(run, "success")
            self.report.status = "success"
            return
        candidates = self._candidates(ctx)
        if self.guard.trips(len(candidates), live_before):
            self.logger.warning(
                "%d of %d %s records were not seen: walking again before confirming any",
                len(candidates),
                live_before,
                run.model,
            )
            ctx.report_only = set(candidates)
            await self._walk(ctx)
            candidates = self._candidates(ctx)
            if self.guard.trips(len(candidates), live_before):
                self._hold(run, candidates, live_before)
                return
        gone = await self.confirm(ctx, candidates)
        self.report.candidates = len(candidates)
        deleted = self.store.finish_run(run, "success", deleted=gone)
        ctx.emit_deleted(deleted)
        self.report.status = "success"

    async def _walk(self, ctx: SyncContextImpl) -> None:
        self.report.walks += 1
        await self.sync.function(ctx)

    def _candidates(self, ctx: SyncContextImpl) -> list[str]:
        # A quarantined id was listed, unreadable: the server has it, so it is not unseen.
        unseen = [rid for rid in self.store.candidates(ctx.run) if rid not in ctx.quarantined_ids]
        claimed = ctx.claimed_gone - set(unseen)
        if claimed:
            live = {str(r["id"]) for r in self.store.records(ctx.model, ids=sorted(claimed))}
            unseen += sorted(live)
        return unseen

    def _hold(self, run: Run, candidates: list[str], live_before: int) -> None:
        note = (
            f"{len(candidates)} of {live_before} {run.model} records were not seen in two "
            f"walks: more than the guard allows (over {self.guard.min_count} and over "
            f"{self.guard.max_fraction:.0%}); nothing was deleted"
        )
        self.store.finish_run(run, "held", error=note, held=candidates)
        self.report.status = "held"
        self.report.held = list(candidates)
        self.report.candidates = len(candidates)
        self.report.warnings.append(note)

    # -- releasing a held run -----------------------------------------------------------

    async def release(self, run: Run, held_run: int, ids: list[str]) -> None:
        """Confirm a held run's candidates one by one, now that a person asked for it."""
        ctx = self._context(run)
        live = {str(r["id"]) for r in self.store.records(run.model, ids=ids)}
        candidates = [rid for rid in ids if rid in live]
        gone = await self.confirm(ctx, candidates, control=False)
        self.report.candidates = len(candidates)
        deleted = self.store.finish_run(run, "success", deleted=gone, releases=held_run)
        ctx.emit_deleted(deleted)
        self.report.status = "success"
        self.report.released = held_run

    # -- confirmation -------------------------------------------------------------------

    async def _control(
        self,
        ctx: SyncContextImpl,
        lookup: Callable[[RunContext, str], Awaitable[BaseModel | None]],
        control: bool,
    ) -> None:
        """Before trusting any 404: records this run has just listed must be found. One
        found is enough (a listed user may really have left since); none found means
        the server's lookups by id cannot tell a gone record from a missing path."""
        samples = self.store.seen_sample(ctx.run) if control else []
        for sample in samples:
            try:
                if await lookup(ctx, sample) is not None:
                    return
            except UnreadableRecord:
                return  # answered 200 with a record, however unreadable: it was found
        if samples:
            raise IncompleteSyncError(
                f"the server answered 404 for {len(samples)} {ctx.model} records this run has "
                f"just listed ({', '.join(samples)}): its lookups by id cannot confirm a "
                "deletion, so nothing was deleted"
            )

    async def confirm(
        self, ctx: SyncContextImpl, ids: list[str], *, control: bool = True
    ) -> list[str]:
        """Look each candidate up; return the ids the server confirmed gone (404).

        Records still there are saved as seen by this run ("recovered"). A lookup whose
        answer cannot be read (or an id that cannot be looked up) is quarantined: that
        record is kept, not deleted. Any lookup that fails (after the retry policy) fails
        the run, so nothing is deleted.
        """
        if not ids:
            return []
        lookup = self.sync.confirm
        if lookup is None:
            raise ContractError(f"sync {self.sync.name} tracks deletes but has no confirm")
        await self._control(ctx, lookup, control)
        found: dict[str, BaseModel | None] = {}
        pending = iter(ids)

        async def worker() -> None:
            for rid in pending:
                if not rid:  # saved by an older version; no request can name it
                    ctx.quarantine(
                        None, "a stored record has an empty id: no lookup can name it", "lookup"
                    )
                    continue
                try:
                    found[rid] = await lookup(ctx, rid)
                except UnreadableRecord as exc:
                    ctx.quarantine(
                        rid, f"its lookup answered an unreadable record ({exc.reason})", "lookup"
                    )

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.concurrency, len(ids))):
                    group.create_task(worker())
        except BaseExceptionGroup as errors:
            raise errors.exceptions[0] from None
        present = [record for record in found.values() if record is not None]
        if present:
            ctx.report_only = None
            ctx.record_saved(self.store.save(ctx.run, encode(present)))
            self.report.recovered += len(present)
            self.report.warnings.append(
                f"{len(present)} {ctx.model} records the walk did not list were found by "
                "lookup and kept: the server's paging was unstable during this run"
            )
        return [rid for rid, record in found.items() if record is None]
