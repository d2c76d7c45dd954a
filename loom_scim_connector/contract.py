"""The host contract: what a host hands a sync or an action.

A sync is ``async def sync(ctx: SyncContext) -> None``; an action is
``async def action(ctx: ActionContext[InputModel]) -> OutputModel``. The host builds the
:class:`~loom_scim_connector.client.LoomScimClient` from the connection (so it decides
timeouts, retries and transport), validates an action's input before calling it, and
owns deletion tracking: after a sync returns normally, records of its model not saved
during that run are *candidates*, and each is marked deleted only when the sync's
``confirm`` function says the server answered 404 for it. A sync that raises or is
cancelled deletes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel

from .client import LoomScimClient
from .config import LoomConnection

InputT_co = TypeVar("InputT_co", bound=BaseModel, covariant=True)


class RunContext(Protocol):
    @property
    def connection(self) -> LoomConnection: ...

    @property
    def client(self) -> LoomScimClient: ...

    @property
    def logger(self) -> logging.Logger: ...


class SyncContext(RunContext, Protocol):
    @property
    def model(self) -> str:
        """The model this sync saves under: the manifest's ``output``, the only source."""

    async def batch_save(self, records: Sequence[BaseModel], model: str) -> None:
        """Upsert records (by ``id``) and mark them seen in this run.

        ``model`` must be :attr:`model`; the host refuses any other name, so a record can
        never be saved under a model that deletions are tracked for separately.
        """

    async def batch_delete(self, ids: Sequence[str], model: str) -> None:
        """Mark records deleted now, for a sync that learns of deletions explicitly."""

    def quarantine(self, record_id: str | None, reason: str) -> None:
        """A record the server sent that cannot be read (``UnreadableRecord``): it is
        skipped and reported with ``reason``, and never blocks the rest of the run. Its
        id (``None`` when it has no usable one) counts as seen: never a deletion."""

    async def get_checkpoint(self) -> dict[str, Any] | None: ...

    async def save_checkpoint(self, checkpoint: dict[str, Any]) -> None: ...


class ActionContext(RunContext, Protocol[InputT_co]):
    @property
    def input(self) -> InputT_co: ...


SyncFunction = Callable[[SyncContext], Awaitable[None]]
ConfirmFunction = Callable[[RunContext, str], Awaitable[BaseModel | None]]
"""Look one record up by id: the record as the server has it now, or ``None`` only when
the server confirmed it is gone (404). An answer that cannot be read raises
``UnreadableRecord`` (the host quarantines the id and keeps the record); any other failure
raises. The host calls it for each record a walk did not see, before it may mark that
record deleted."""
ActionFunction = Callable[[Any], Awaitable[BaseModel]]
