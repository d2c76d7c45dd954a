"""What ``reconcile --apply`` would change, the checks that refuse it, and carrying it out.

The plan comes from a :class:`~.reconcile.Reconciliation`: deactivate each orphaned
active account (``delete-user`` only with ``delete``), and set the role of each drifted
one only with ``roles``. Unmanaged people are never acted on unless they are also
orphaned; duplicates are reported only. Each change goes through the existing actions,
which read the user back, and leaves evidence in the store (source ``reconcile``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.errors import (
    AuthenticationError,
    ConfigError,
    LoomScimError,
    PermissionDeniedError,
    WrongUrlError,
)
from loom_scim_connector.host import LocalHost
from loom_scim_connector.models.records import User
from loom_scim_connector.models.scim import UnreadableRecord, user_from_scim
from loom_scim_connector.store import Evidence, now_iso

from ._intent import resolve_in
from .offboard import Witness, offboard_id, session
from .reconcile import Reconciliation
from .roster import RosterEntry
from .roster_match import RosterCheck

Kind = Literal["deactivate-user", "delete-user", "set-user-role"]


class PlanRefusedError(ConfigError):
    """``--apply`` refused as a whole before any change: too many changes, or a roster
    that looks truncated. Exit 2; nothing was changed."""


@dataclass(frozen=True)
class Change:
    action: Kind
    id: str
    email: str
    reason: str
    role: str | None = None

    def describe(self) -> str:
        verb = {"deactivate-user": "deactivate", "delete-user": "DELETE"}.get(self.action)
        what = verb or f"set role {self.role} for"
        return f"{what} {self.email} ({self.id}): {self.reason}"


@dataclass(frozen=True)
class Applied:
    change: Change
    # deactivated, deleted, already_inactive, already_gone, role_set, skipped, failed
    outcome: str
    detail: str | None = None
    evidence_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"


def build_plan(result: Reconciliation, *, delete: bool, roles: bool) -> list[Change]:
    action: Kind = "delete-user" if delete else "deactivate-user"
    plan = [Change(action, f.id, f.email, f.reason) for f in result.orphaned if f.id]
    leaving = {c.id for c in plan}
    if roles:
        plan += [
            Change("set-user-role", f.id, f.email, f.reason, f.implied_role)
            for f in result.role_drift
            if f.id and f.implied_role and f.id not in leaving
        ]
    return plan


def refuse(plan: list[Change], result: Reconciliation, *, max_changes: int, force: bool) -> None:
    """Raise :class:`PlanRefusedError` when the apply must not start at all."""
    if len(plan) > max_changes:
        raise PlanRefusedError(
            "--max-changes",
            f"the plan has {len(plan)} changes, more than {max_changes}: nothing was "
            f"changed; review the plan (run without --apply), then pass --max-changes "
            f"{len(plan)} to allow it",
        )
    why = result.truncated()
    if why is not None and not force:
        raise PlanRefusedError(
            "--roster",
            f"looks truncated or wrong: {why}; nothing was changed; check the export, "
            "or pass --force if it is complete",
        )


async def apply_plan(
    host: LocalHost, plan: list[Change], *, actor: str, roster: Sequence[RosterEntry]
) -> list[Applied]:
    """Carry out the plan in order, one verified change and one piece of evidence each.

    An orphan is offboarded through the one path of every change to a person chosen by
    email (:func:`.offboard.offboard_id`): read again just before, and changed only if it
    still carries the email it was planned for and is still not in ``roster`` (the
    store the plan came from may be older than the account); else ``skipped``. A
    failure of the connection itself (401, 403, a wrong URL) stops the run (raises)."""
    done: list[Applied] = []
    check = RosterCheck(roster)

    def still_orphaned(raw: dict[str, Any]) -> str | None:
        try:
            record = user_from_scim(raw).model_dump(mode="json", by_alias=True)
        except UnreadableRecord as exc:  # never act on an account that cannot be read
            return f"it cannot be read ({exc.reason})"
        return check.not_orphaned(record)

    async with session(host) as (client, witness):
        await resolve_in(host, client, witness, actor)  # what an interrupted run left
        for change in plan:
            if change.action == "set-user-role":
                done.append(await _set_role(host, client, witness, change, actor))
                continue
            item = await offboard_id(
                host, client, witness, change.id, change.email,
                change.action == "delete-user", "reconcile", actor, False,
                recheck=still_orphaned,
            )  # fmt: skip
            done.append(Applied(change, item.outcome, item.detail, item.evidence_id))
    return done


async def _set_role(
    host: LocalHost, client: LoomScimClient, witness: Witness, change: Change, actor: str
) -> Applied:
    """``set-user-role`` (which reads the role back) on the session's client, with evidence."""
    payload = {"id": change.id, "role": change.role}
    try:
        user = await host.run_action("set-user-role", payload, client=client)
        outcome = "role_set"
        detail = f"read back role {user.role if isinstance(user, User) else change.role}"
    except (AuthenticationError, PermissionDeniedError, WrongUrlError):
        raise
    except LoomScimError as exc:
        outcome, detail = "failed", " ".join(str(exc).split())
    item = Evidence(
        at=now_iso(), actor=actor, source="reconcile", action="set-user-role",
        user_id=change.id, email=change.email, outcome=outcome, request=witness.take(),
        detail=detail,
    )  # fmt: skip
    return Applied(change, outcome, detail, host.store.record_evidence(item))
