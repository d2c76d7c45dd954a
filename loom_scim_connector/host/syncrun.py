"""One run of a sync, from lease to verdict: the only place deletions are decided.

The steps: walk (the sync function); candidates (live records the walk did not see);
the mass-deletion guard (too many, or every record the store knew: walk again, then
hold); confirmation (each candidate looked up with the server, between control lookups:
:mod:`.confirm`); finish (deletions, held candidates, status and the lease's release in
one store transaction). A heartbeat renews the lease while the run lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from loom_scim_connector._constants import (
    CONFIRM_CONCURRENCY,
    CONFIRM_CONTROLS,
    GUARD_MAX_FRACTION,
    GUARD_MIN_COUNT,
    LEASE_SECONDS,
)
from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.config import LoomConnection
from loom_scim_connector.errors import InputError
from loom_scim_connector.manifest import ResolvedSync
from loom_scim_connector.store import LeaseLostError, Run, Store

from .confirm import Confirmation
from .context import ContractError, OnRecord, SyncContextImpl, encode
from .report import SyncReport


@dataclass(frozen=True)
class DeletionGuard:
    """When are candidates too many to confirm one by one? Every record that was live
    before the run (whatever the count: a walk that listed none of them is an empty
    replica, a restore or another workspace as often as a real exodus), or more than
    ``min_count`` AND more than ``max_fraction`` of them."""

    min_count: int = GUARD_MIN_COUNT
    max_fraction: float = GUARD_MAX_FRACTION

    def trips(self, candidates: int, live: int) -> bool:
        if candidates and candidates >= live:
            return True
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
            # A second walk reports what it changes, not again what the first reported.
            ctx.unchanged_reported_only = set(candidates)
            await self._walk(ctx)
            candidates = self._candidates(ctx)
            if self.guard.trips(len(candidates), live_before):
                self._hold(run, candidates, live_before)
                return
        controls = self.store.seen_sample(run, limit=CONFIRM_CONTROLS)
        gone = await self.confirm(ctx, candidates, controls)
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
        if len(candidates) >= live_before:
            note = (
                f"none of the {live_before} {run.model} records live before this run was "
                "listed in two walks (an empty replica, a restore, another workspace's "
                "key?); nothing was deleted"
            )
        else:
            note = (
                f"{len(candidates)} of {live_before} {run.model} records were not seen in "
                f"two walks: more than the guard allows (over {self.guard.min_count} and "
                f"over {self.guard.max_fraction:.0%}); nothing was deleted"
            )
        self.store.finish_run(run, "held", error=note, held=candidates)
        self.report.status = "held"
        self.report.held = list(candidates)
        self.report.candidates = len(candidates)
        self.report.warnings.append(note)

    # -- releasing a held run -----------------------------------------------------------

    async def release(
        self, run: Run, held_run: int, ids: list[str], *, without_controls: bool = False
    ) -> None:
        """Confirm a held run's candidates one by one, now that a person asked for it,
        with live records outside the held run as controls (see :mod:`.confirm`)."""
        ctx = self._context(run)
        live = {str(r["id"]) for r in self.store.records(run.model, ids=ids)}
        candidates = [rid for rid in ids if rid in live]
        # Nothing is seen by a release run: its "candidates" are every live record.
        held = set(ids)
        others = [rid for rid in self.store.candidates(run) if rid not in held]
        controls = None if without_controls else others[:CONFIRM_CONTROLS]
        if candidates and controls == []:
            raise InputError(
                "--release-held",
                {
                    str(held_run): f"holds every live {run.model} record: no live record "
                    "outside the held run is left to look up as a control, so the server's "
                    "404s cannot be told from an empty replica, a revoked key or another "
                    "workspace; to delete on those 404s alone, add --without-controls"
                },
            )
        gone = await self.confirm(ctx, candidates, controls)
        self.report.candidates = len(candidates)
        deleted = self.store.finish_run(run, "success", deleted=gone, releases=held_run)
        ctx.emit_deleted(deleted)
        self.report.status = "success"
        self.report.released = held_run

    # -- confirmation -------------------------------------------------------------------

    async def confirm(
        self, ctx: SyncContextImpl, ids: list[str], controls: list[str] | None
    ) -> list[str]:
        """Look each candidate up between control lookups (``controls``: records the
        server should hold; ``None`` only when a person said ``--without-controls``);
        return the ids the server confirmed gone (a SCIM 404).

        Records still there are saved as seen by this run ("recovered"). A lookup whose
        answer cannot be read (or an id that cannot be looked up) is quarantined: that
        record is kept, not deleted. Any lookup that fails (after the retry policy), or a
        control that answers 404, fails the run, so nothing is deleted.
        """
        if not ids:
            return []
        lookup = self.sync.confirm
        if lookup is None:
            raise ContractError(f"sync {self.sync.name} tracks deletes but has no confirm")

        def quarantine(record_id: str | None, reason: str) -> None:
            ctx.quarantine(record_id, reason, "lookup")

        found = await Confirmation(
            ctx, ctx.model, lookup, controls, self.concurrency, quarantine
        ).run(ids)
        present = [record for record in found.values() if record is not None]
        if present:
            ctx.unchanged_reported_only = None
            ctx.record_saved(self.store.save(ctx.run, encode(present)))
            self.report.recovered += len(present)
            self.report.warnings.append(
                f"{len(present)} {ctx.model} records the walk did not list were found by "
                "lookup and kept: the server's paging was unstable during this run"
            )
        return [rid for rid, record in found.items() if record is None]
