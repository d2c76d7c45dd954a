"""What the host hands a sync or an action (the protocols of :mod:`..contract`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import from_json

from loom_scim_connector._messages import plain
from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.config import LoomConnection
from loom_scim_connector.errors import InputError
from loom_scim_connector.store import Action, Encoded, Run, Store

from .report import Quarantined, Stage, SyncReport

OnRecord = Callable[[str, Action, dict[str, Any]], None]


def encode(records: Sequence[BaseModel]) -> list[Encoded]:
    """Each record as JSON once (pydantic-core, in Rust), for the store and the output.

    The dict is read back from that JSON (pydantic-core's parser, in Rust), so it is
    the record as every reader of the text sees it: the same as ``model_dump(mode="json")``
    at about half the cost of a second dump through pydantic's Python wrappers."""
    encoded = []
    for record in records:
        text = record.__pydantic_serializer__.to_json(record, by_alias=True)
        encoded.append(Encoded(from_json(text, cache_strings="keys"), text.decode()))
    return encoded


class ContractError(TypeError):
    """A sync broke the host contract (a bug in the sync, not a problem with the server)."""


@dataclass
class RunContextImpl:
    connection: LoomConnection
    client: LoomScimClient
    logger: logging.Logger


@dataclass
class SyncContextImpl(RunContextImpl):
    store: Store
    run: Run
    output_model: type[BaseModel]
    report: SyncReport
    on_record: OnRecord | None = None
    # During the guard's second walk: the ids whose UNCHANGED is still news (the first
    # walk's candidates); the first walk already reported every other record it saved.
    # ADDED and UPDATED are always reported: a change is news whichever walk saves it.
    unchanged_reported_only: set[str] | None = None
    claimed_gone: set[str] = field(default_factory=set)
    quarantined_ids: set[str] = field(default_factory=set)

    @property
    def model(self) -> str:
        return self.run.model

    async def batch_save(self, records: Sequence[BaseModel], model: str) -> None:
        if model != self.model:
            raise ContractError(
                f"sync {self.run.sync} saved under model {model!r}; the manifest says "
                f"{self.model!r} (use ctx.model)"
            )
        for record in records:
            if not isinstance(record, self.output_model):
                raise ContractError(
                    f"sync {self.run.sync} saved a {type(record).__name__}, "
                    f"not a {self.output_model.__name__}"
                )
        # On the event loop: saving on a worker thread (asyncio.to_thread, the stores
        # locked for one thread at a time) was measured at about 7% more CPU for the
        # 100k sync and no shorter wall time on the 2-core machine (branch store, fc80962).
        self.record_saved(self.store.save(self.run, encode(records)))

    def record_saved(self, saved: list[tuple[Action, dict[str, Any]]]) -> None:
        only = self.unchanged_reported_only
        for action, record in saved:
            if action == "UNCHANGED" and only is not None and str(record.get("id")) not in only:
                continue
            if action == "ADDED":
                self.report.added += 1
            elif action == "UPDATED":
                self.report.updated += 1
            else:
                self.report.unchanged += 1
            if self.on_record is not None:
                self.on_record(self.model, action, record)

    def emit_deleted(self, records: list[dict[str, Any]]) -> None:
        self.report.deleted += len(records)
        if self.on_record is not None:
            for record in records:
                self.on_record(self.model, "DELETED", record)

    async def batch_delete(self, ids: Sequence[str], model: str) -> None:
        """The sync says these are gone: the host still confirms each with the server
        at the end of the run, and deletes only what the server confirms."""
        if model != self.model:
            raise ContractError(f"sync {self.run.sync} deleted under model {model!r}")
        self.claimed_gone.update(str(i) for i in ids)

    def quarantine(self, record_id: str | None, reason: str, stage: Stage = "listed") -> None:
        """Skip an unreadable record and report it; its id counts as seen this run (see
        ``SyncRun._candidates``), so it is never a deletion candidate."""
        if record_id is not None:
            if record_id in self.quarantined_ids:
                return
            self.quarantined_ids.add(record_id)
        elif self.unchanged_reported_only is not None:
            return  # the guard's second walk: the first one reported it
        self.report.quarantined.append(Quarantined(record_id, reason, stage))
        self.logger.debug("quarantined %s: %s", record_id or "(no usable id)", reason)

    async def get_checkpoint(self) -> dict[str, Any] | None:
        return self.store.get_checkpoint(self.run.sync)

    async def save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        self.store.save_checkpoint(self.run.sync, checkpoint, run=self.run)


@dataclass
class ActionContextImpl(RunContextImpl):
    input: BaseModel


def validate_input(name: str, model: type[BaseModel], raw: object) -> BaseModel:
    """Validate an action's raw input; an :class:`InputError` names every bad field."""
    if not isinstance(raw, Mapping):
        raise InputError(name, {"(input)": "must be a JSON object"})
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        known = [field.alias or key for key, field in model.model_fields.items()]
        problems = dict(plain(error, known) for error in exc.errors(include_input=False))
        raise InputError(name, problems) from None
