"""Confirmation: the evidence a deletion rests on, and the one place it is gathered.

**The rule.** A candidate is deleted only when

1. the server answered its lookup with a SCIM 404 (a body whose ``schemas`` list the
   SCIM Error URN; anything else that is not the record fails the run), and
2. control lookups found their records both before and after that 404. Controls are
   records the server is known to hold (for a run, records it has just listed; for a
   release, live records outside the held run). One is looked up before the first
   candidate, one after every ``every`` candidates, one after the last: each batch of
   404s sits between two controls that answered with their record.

A control that answers 404 once one was found fails the run: nothing is deleted (the
server's lookups by id stopped telling a gone record from a revoked key, a moved route
or another workspace). What this cannot see: a server that answers 404 for a window
shorter than one batch and heals before the next control.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from loom_scim_connector._constants import CONFIRM_CONTROL_EVERY
from loom_scim_connector.contract import RunContext
from loom_scim_connector.errors import IncompleteSyncError
from loom_scim_connector.models.scim import UnreadableRecord

Lookup = Callable[[RunContext, str], Awaitable[BaseModel | None]]
Quarantine = Callable[[str | None, str], None]


@dataclass
class Confirmation:
    """Look candidates up in batches between control lookups.

    ``controls``: ids of records the server should return, tried in order until one is
    found (one may really have left since); ``None`` only when a person said
    ``--without-controls``. The one found is the control of every later bracket.
    A candidate whose answer cannot be read (or whose id no request can name) goes to
    ``quarantine``: it is kept, never deleted. A control answered with an unreadable
    record was found all the same.
    """

    ctx: RunContext
    model: str
    lookup: Lookup
    controls: Sequence[str] | None
    concurrency: int
    quarantine: Quarantine
    every: int = CONFIRM_CONTROL_EVERY

    async def run(self, ids: Sequence[str]) -> dict[str, BaseModel | None]:
        """Each candidate's record as the server has it now, ``None`` when it is gone."""
        found: dict[str, BaseModel | None] = {}
        if not ids:
            return found
        control = await self._opening() if self.controls is not None else None
        for start in range(0, len(ids), self.every):
            batch = ids[start : start + self.every]
            found.update(await self._lookups(batch))
            if control is not None:
                await self._control(control, start + len(batch), len(ids))
        return found

    async def _opening(self) -> str:
        """The first control the server returns now; raise when it returns none."""
        tried = list(self.controls or [])
        if not tried:
            raise IncompleteSyncError(
                f"no {self.model} record is known to be on the server to check its "
                "lookups with (a control), so no 404 can be trusted: nothing was deleted"
            )
        for rid in tried:
            if await self._found(rid):
                return rid
        raise IncompleteSyncError(
            f"the server answered 404 for {len(tried)} {self.model} records it should "
            f"hold ({', '.join(tried)}): its lookups by id cannot confirm a deletion, "
            "so nothing was deleted"
        )

    async def _control(self, rid: str, done: int, total: int) -> None:
        if not await self._found(rid):
            raise IncompleteSyncError(
                f"the control lookup of {self.model} {rid}, found before, answered 404 "
                f"after {done} of {total} candidate lookups: the server stopped telling "
                "a gone record from a missing one (a revoked key, a moved route?), so "
                "nothing was deleted"
            )

    async def _found(self, rid: str) -> bool:
        try:
            return await self.lookup(self.ctx, rid) is not None
        except UnreadableRecord:
            return True  # answered 200 with a record, however unreadable: it is there

    async def _lookups(self, ids: Sequence[str]) -> dict[str, BaseModel | None]:
        """Up to ``concurrency`` lookups at once; the first failure fails them all."""
        found: dict[str, BaseModel | None] = {}
        pending = iter(ids)

        async def worker() -> None:
            for rid in pending:
                if not rid:  # saved by an older version; no request can name it
                    self.quarantine(None, "a stored record has an empty id: no lookup can name it")
                    continue
                try:
                    found[rid] = await self.lookup(self.ctx, rid)
                except UnreadableRecord as exc:
                    why = f"its lookup answered an unreadable record ({exc.reason})"
                    self.quarantine(rid, why)

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.concurrency, len(ids))):
                    group.create_task(worker())
        except BaseExceptionGroup as errors:
            raise errors.exceptions[0] from None
        return found
