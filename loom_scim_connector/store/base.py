"""The store interface: small, typed, and the same for SQLite and PostgreSQL.

What it guarantees (``tests/store_contract.py`` states each as a test):

* **Single flight.** :meth:`Store.begin_run` takes a lease on ``(connection, model)`` in
  the same transaction that creates the run; while a live lease exists, another
  ``begin_run`` raises :class:`SyncBusyError`. A lease not renewed by
  :meth:`Store.heartbeat` expires, so a killed process cannot hold it forever; the run
  it left ``running`` becomes ``abandoned``.
* **Monotonic sightings.** Each run has a generation that grows with every run. A save
  never lowers a record's generation nor overwrites data saved by a newer generation,
  so a late write from an older run cannot make a record look unseen.
* **Fencing.** Every write a run makes (:meth:`Store.save`, a checkpoint given its run,
  :meth:`Store.finish_run`) checks, in the transaction that writes, that the run still
  holds its lease, and otherwise raises :class:`LeaseLostError` having written nothing:
  a run that stalled past its lease (paused, swapped out) cannot write a stale batch
  after another run took over.
* **Deletions only at the end, only by the lease holder.** :meth:`Store.finish_run`
  marks records deleted, records held candidates, sets the run's status and releases
  the lease in one transaction. It deletes only records still unseen by the run, and
  records the generation that deleted each: a save by an older generation never
  clears it.
* **One workspace per store.** :meth:`Store.binding` is the fingerprint of the API key
  the connection's records were synced with (a salted HMAC, never the key); the host
  decides when a new key may :meth:`Store.bind` (``host/workspace.py``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic_core import to_json

from loom_scim_connector.errors import LoomScimError

Action = Literal["ADDED", "UPDATED", "UNCHANGED", "DELETED"]
RunStatus = Literal["running", "success", "failed", "cancelled", "held", "abandoned", "released"]
FINAL_STATUSES: frozenset[str] = frozenset(
    {"success", "failed", "cancelled", "held", "abandoned", "released"}
)


class StoreError(LoomScimError):
    """The store cannot be opened or used: a missing folder, a file that is not a store."""

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"store {where}: {reason}")


class WorkspaceMismatchError(StoreError):
    """The store holds another workspace's records than the API key reaches."""


class SyncBusyError(LoomScimError):
    """Another run holds the lease on this connection and model."""

    def __init__(self, sync: str, model: str, run_id: int, started_at: str, owner: str) -> None:
        self.sync, self.model, self.run_id = sync, model, run_id
        self.started_at, self.owner = started_at, owner
        super().__init__(
            f"another {sync} sync is running on this store (run {run_id}, started "
            f"{started_at} by {owner}); only one sync of {model} runs at a time: "
            "wait for it to finish, or pass --wait"
        )

    def __reduce__(self) -> Any:
        return (type(self), (self.sync, self.model, self.run_id, self.started_at, self.owner))


ABANDONED = "it stopped without finishing: its lease expired or its process is gone"


def refuse_if_held(
    holder: Sequence[Any] | None, now: float, sync: str, model: str, alive: Callable[[str], bool]
) -> None:
    """Raise :class:`SyncBusyError` when the lease row ``(run_id, expires_at, sync,
    started_at, owner)`` is still live: not expired, and its owner not known to be dead."""
    if holder is None or holder[1] <= now or not alive(holder[4] or ""):
        return
    raise SyncBusyError(holder[2] or sync, model, holder[0], holder[3] or "?", holder[4] or "?")


class LeaseLostError(LoomScimError):
    """The run's lease expired and another run took it: this run may delete nothing."""

    @classmethod
    def of(cls, run: Run) -> LeaseLostError:
        return cls(
            f"run {run.run_id} lost its lease on {run.model} to another run; "
            "nothing was deleted by it"
        )


class Encoded(dict[str, Any]):
    """A record with its one JSON text (``json``): what the store keeps and compares, and
    what the CLI prints. The host encodes each record once and both use these bytes."""

    __slots__ = ("json",)

    def __init__(self, record: Mapping[str, Any], text: str | None = None) -> None:
        super().__init__(record)
        self.json = text if text is not None else to_json(record).decode()


def _encoded(record: Mapping[str, Any], text: str) -> Encoded:
    """``record`` as :class:`Encoded`: itself when it already is (no copy)."""
    return record if isinstance(record, Encoded) else Encoded(record, text)


def text_of(record: Mapping[str, Any]) -> str:
    """A record's JSON text: the one it carries when it is :class:`Encoded`."""
    return record.json if isinstance(record, Encoded) else to_json(record).decode()


def classify(before: tuple[str, str | None] | None, data: str) -> Action:
    """What saving ``data`` (a record's JSON) does to a row that held ``before``
    (its JSON and its deleted_at, or nothing): a record deleted and seen again is ADDED.
    Texts that differ are compared as JSON, so a store written by an older version (keys
    sorted, other spacing) does not make every record look UPDATED."""
    if before is None or before[1] is not None:
        return "ADDED"
    if before[0] == data:
        return "UNCHANGED"
    try:
        same = json.loads(before[0]) == json.loads(data)
    except ValueError:  # a stored row that is not JSON: overwritten, as any change
        same = False
    return "UNCHANGED" if same else "UPDATED"


@dataclass(frozen=True)
class Run:
    """A run in progress. ``generation`` orders sightings: newer runs have larger ones."""

    run_id: int
    sync: str
    model: str
    generation: int
    started_at: str
    owner: str


@dataclass(frozen=True)
class RunInfo:
    run_id: int
    sync: str
    model: str
    status: str
    started_at: str
    finished_at: str | None
    error: str | None
    owner: str
    held: int


@dataclass(frozen=True)
class Evidence:
    """One verified change to a person's access, kept append-only for an access review.

    Never holds a secret: ``request`` names methods, paths and statuses only, and
    ``detail`` is a message the client already redacted.
    """

    at: str  # ISO 8601 UTC, when the change was verified
    actor: str  # who: a name given with --actor, else audit/_witness.default_actor's
    source: str  # "offboard" | "reconcile"
    action: str  # "deactivate-user", "delete-user", "set-user-role"
    user_id: str | None
    email: str
    # deactivated, deleted, tombstoned, already_inactive, already_gone, role_set, not_found,
    # skipped, failed; "unknown" for an intent (a change about to be sent), settled by a
    # later record whose intent_id is the intent's evidence_id
    outcome: str
    request: str  # e.g. "PATCH /Users/{id} -> 200; GET /Users/{id} -> 200"
    detail: str | None = None
    intent_id: int | None = None  # the intent this record is the outcome of
    evidence_id: int | None = None


def key_fingerprint(salt: str, api_key: str) -> str:
    """HMAC-SHA256 of the key under the binding's random salt: it tells a key from
    another without the store ever holding anything the key can be recovered from."""
    return hmac.new(bytes.fromhex(salt), api_key.encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Binding:
    """Which API key a connection's records were synced with (its fingerprint only)."""

    salt: str
    key_mac: str
    bound_at: str
    rebound_at: str | None = None
    rebinds: int = 0

    @classmethod
    def of(cls, api_key: str, at: str) -> Binding:
        salt = secrets.token_hex(16)
        return cls(salt, key_fingerprint(salt, api_key), at)

    def matches(self, api_key: str) -> bool:
        return hmac.compare_digest(key_fingerprint(self.salt, api_key), self.key_mac)


@dataclass(frozen=True)
class HeldRun:
    """A run that ended ``held``: the candidates it did not delete, for a person to review."""

    run_id: int
    sync: str
    model: str
    status: str
    ids: list[str]


class Store(Protocol):
    """Records, runs, checkpoints, leases and held candidates of one connection."""

    def begin_run(self, sync: str, model: str, *, lease: float) -> Run:
        """Create a run holding the lease on ``model``, or raise :class:`SyncBusyError`."""
        ...

    def heartbeat(self, run: Run, *, lease: float) -> None:
        """Extend the run's lease; :class:`LeaseLostError` when another run took it."""
        ...

    def save(
        self, run: Run, records: Sequence[Mapping[str, Any]]
    ) -> list[tuple[Action, dict[str, Any]]]:
        """Upsert records seen by ``run``, fenced by its lease; say what happened to each."""
        ...

    def live_count(self, model: str) -> int: ...

    def candidates(self, run: Run) -> list[str]:
        """Ids of live records of the run's model that the run has not seen."""
        ...

    def seen_sample(self, run: Run, limit: int = 3) -> list[str]:
        """Up to ``limit`` ids the run has seen (controls for confirmation lookups)."""
        ...

    def finish_run(
        self,
        run: Run,
        status: RunStatus,
        *,
        error: str | None = None,
        deleted: Sequence[str] = (),
        held: Sequence[str] = (),
        releases: int | None = None,
    ) -> list[dict[str, Any]]:
        """End the run in one transaction; return the records it marked deleted."""
        ...

    def held_run(self, run_id: int) -> HeldRun | None: ...

    def records(
        self, model: str, *, include_deleted: bool = False, ids: Sequence[str] | None = None
    ) -> list[dict[str, Any]]: ...

    def runs(self, *, limit: int = 20) -> list[RunInfo]: ...

    def get_checkpoint(self, sync: str) -> dict[str, Any] | None: ...

    def record_evidence(self, item: Evidence) -> int:
        """Append one piece of evidence (its ``evidence_id`` is ignored); return its id."""
        ...

    def evidence(
        self, *, email: str | None = None, user_id: str | None = None, limit: int | None = None
    ) -> list[Evidence]:
        """Evidence of this connection, newest first; ``email`` matches by the one
        identity rule (:func:`loom_scim_connector.identity.same_email`)."""
        ...

    def evidence_chain(self, *, every_connection: bool = False) -> list[dict[str, Any]]:
        """This connection's evidence (every connection's, when asked), oldest first, as
        chained records: each field of :data:`._chain.CHAINED`, ``prev_hash``, ``hash``."""
        ...

    def save_checkpoint(
        self, sync: str, data: Mapping[str, Any], *, run: Run | None = None
    ) -> None:
        """Save a sync's checkpoint; given ``run``, fenced by its lease."""
        ...

    def live_sample(self, model: str, limit: int = 5) -> list[str]:
        """Up to ``limit`` live ids of ``model``, the most recently seen first."""
        ...

    def binding(self) -> Binding | None:
        """The key this connection's records are bound to, if bound yet."""
        ...

    def bind(self, new: Binding, *, replaces: str | None) -> Binding:
        """Bind to ``new`` when the binding in force is still ``replaces`` (a key_mac,
        or ``None`` for none yet), in one transaction; return the binding in force."""
        ...

    def close(self) -> None: ...
