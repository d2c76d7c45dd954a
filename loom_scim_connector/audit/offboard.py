"""Offboarding you can prove: deactivate (or delete) a person, verify it by reading them
back, and keep the evidence (who, when, outcome, which requests) in the store.

Changes go through the existing actions (``find-user``, ``deactivate-user``,
``delete-user``) on a client the host makes; the one extra request is the read before
the change, which tells an already deactivated or deleted person apart (idempotence).
Every HTTP exchange of a person's offboarding is witnessed by an httpx response hook,
so ``Evidence.request`` lists exactly what was sent and what the server answered:
methods, paths and statuses, never a header or a key.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel

from loom_scim_connector.actions._find import addresses, carries, nothing_found
from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.errors import (
    AuthenticationError,
    ConfigError,
    LoomScimError,
    PermissionDeniedError,
    WrongUrlError,
)
from loom_scim_connector.host import LocalHost
from loom_scim_connector.identity import same_email
from loom_scim_connector.models.outputs import FindUserResult
from loom_scim_connector.models.scim import UnreadableRecord, user_from_scim
from loom_scim_connector.store import Evidence, now_iso

from ._intent import record_intent, resolve_pending, unresolved
from ._witness import Witness, default_actor, session

__all__ = [
    "SETTLED",
    "Witness",
    "default_actor",
    "offboard_emails",
    "offboard_user",
    "record_intent",
    "resolve_pending",
    "session",
    "unresolved",
]

Source = Literal["offboard", "reconcile"]
# Outcomes that leave the person without access (exit 0 when everyone ends in one).
SETTLED = frozenset({"deactivated", "deleted", "tombstoned", "already_inactive", "already_gone"})
# Failures that concern the connection, not a person: they stop the whole run at once.
_FATAL = (AuthenticationError, PermissionDeniedError, WrongUrlError, ConfigError)


async def _run(host: LocalHost, client: LoomScimClient, name: str, payload: Any) -> BaseModel:
    return await host.run_action(name, payload, client=client)


async def offboard_user(
    host: LocalHost,
    *,
    user_id: str,
    email: str,
    delete: bool,
    source: Source,
    actor: str,
    dry_run: bool = False,
) -> Evidence:
    """Offboard one Loom user by id, verify, and record the evidence in ``host.store``
    (returned with its ``evidence_id``). A dry run reads only and records nothing: its
    outcome is ``would_deactivate`` or ``would_delete`` when a change is due.

    A failure to offboard this person is an outcome (``failed``, the reason in
    ``detail``); a failure of the connection itself (401, 403, a wrong URL) raises."""
    async with session(host) as (client, witness):
        return await offboard_id(
            host, client, witness, user_id, email, delete, source, actor, dry_run
        )


Recheck = Callable[[dict[str, Any]], "str | None"]
"""Given an account as re-read just before acting: why it must not be changed, or None."""


async def offboard_id(
    host: LocalHost,
    client: LoomScimClient,
    witness: Witness,
    user_id: str,
    email: str,
    delete: bool,
    source: Source,
    actor: str,
    dry_run: bool,
    *,
    recheck: Recheck | None = None,
) -> Evidence:
    """Offboard ``user_id``, chosen because it carries ``email``, on the session's client.

    The one path of every change to a person chosen by email (``offboard``, ``reconcile
    --apply``): the account is read again just before acting, and changed only if it
    still carries ``email`` and ``recheck`` (reconcile: still not in the roster) finds
    nothing against it; otherwise it is ``skipped``, and the evidence says why."""
    action = "delete-user" if delete else "deactivate-user"
    intent: list[int] = []

    def announce() -> None:  # just before the change is sent: who, what, on whom
        intent.append(record_intent(host, witness, actor, source, action, user_id, email))

    try:
        outcome, detail = await _settle(
            host, client, user_id, email, delete, dry_run, recheck, announce
        )
    except _FATAL as exc:
        if intent:  # the change was refused: say so, then stop the run
            item = _witnessed(witness, actor, source, action, user_id, email, "failed", str(exc))
            _keep(host, replace(item, intent_id=intent[0]))
        raise
    except LoomScimError as exc:
        outcome, detail = "failed", " ".join(str(exc).split())
    item = _witnessed(witness, actor, source, action, user_id, email, outcome, detail)
    item = replace(item, intent_id=intent[0] if intent else None)
    return item if dry_run else _keep(host, item)


async def _settle(
    host: LocalHost,
    client: LoomScimClient,
    user_id: str,
    email: str,
    delete: bool,
    dry_run: bool,
    recheck: Recheck | None,
    announce: Callable[[], None],
) -> tuple[str, str]:
    """Read the user, then change what needs changing: ``(outcome, what was verified)``."""
    raw = await client.get_or_none("Users", user_id)
    if raw is None:
        return "already_gone", "the server answers 404 for this id: no such user"
    if not carries(raw, email):
        now = ", ".join(addresses(raw)) or "no readable email"
        return "skipped", (
            f"read again before acting, this account no longer carries this email (it "
            f"reads as {now}): not changed; offboard that person by their current email "
            "if they have left"
        )
    why = recheck(raw) if recheck is not None else None
    if why is not None:
        return "skipped", f"read again before acting, {why}: not changed"
    try:
        active = user_from_scim(raw).active
    except UnreadableRecord:
        active = None  # the action reads the user again and says what is wrong
    if active is False and not delete:
        return "already_inactive", "read back active=false before any change; nothing sent"
    if dry_run:
        shown = "unknown" if active is None else str(active).lower()
        if delete:
            return "would_delete", f"read back active={shown}; would send DELETE"
        return "would_deactivate", f"read back active={shown}; would send PATCH active=false"
    announce()
    result = await _run(
        host, client, "delete-user" if delete else "deactivate-user", {"id": user_id}
    )
    outcome = str(getattr(result, "outcome", "failed"))
    if outcome == "deactivated":
        return outcome, "read back active=false"
    if outcome == "deleted" and not delete:
        return outcome, "read back 404: the workspace's deprovisioning setting deletes users"
    if outcome == "deleted":
        return outcome, "read back 404 after DELETE: the user is gone"
    if outcome == "tombstoned":
        return outcome, (
            "deleted; the server keeps an inactive tombstone (read back active=false after DELETE)"
        )
    return outcome, "the server answered 404 for the change: the user was already gone"


def _witnessed(
    witness: Witness,
    actor: str,
    source: Source,
    action: str,
    user_id: str | None,
    email: str,
    outcome: str,
    detail: str,
) -> Evidence:
    """Evidence of what was just done, with the exchanges the witness saw since."""
    return Evidence(
        at=now_iso(),
        actor=actor,
        source=source,
        action=action,
        user_id=user_id,
        email=email,
        outcome=outcome,
        request=witness.take(),
        detail=detail,
    )


def _keep(host: LocalHost, item: Evidence) -> Evidence:
    return replace(item, evidence_id=host.store.record_evidence(item))


async def offboard_emails(
    host: LocalHost,
    emails: Sequence[str],
    *,
    delete: bool,
    actor: str,
    dry_run: bool = False,
    source: Source = "offboard",
    on_each: Callable[[Evidence], None] | None = None,
) -> list[Evidence]:
    """Offboard people by email, in order: one piece of evidence for each account
    (``on_each`` is told of each as it is settled: a progress line).

    Every account that carries the email is offboarded: those the server finds
    (``find-user``, whatever its filters do), then those the store knows by that email
    and the server did not return (their email may have changed: each is read again
    and changed only if it still carries it). An email no account carries is
    ``not_found``, one the search could not settle (the listing read only up to its
    bound) ``incomplete``: each with evidence all the same.
    """
    done: list[Evidence] = []
    action = "delete-user" if delete else "deactivate-user"
    async with session(host) as (client, witness):
        for email in emails:
            try:
                found = await _run(host, client, "find-user", {"email": email})
            except _FATAL:
                raise
            except LoomScimError as exc:
                outcome, detail = "failed", "lookup by email failed: " + " ".join(str(exc).split())
            else:
                assert isinstance(found, FindUserResult)
                ids = [user.id for user in found.users]
                ids += _known_ids(host, email, ids)
                for user_id in ids:
                    item = await offboard_id(
                        host, client, witness, user_id, email, delete, source, actor, dry_run
                    )
                    done.append(item)
                    if on_each is not None:
                        on_each(item)
                if ids:
                    continue
                outcome = "not_found" if found.complete else "incomplete"
                detail = nothing_found(found.searched, found.complete, found.look_alikes)
                detail += "; the store knows no account of this email"
            item = _witnessed(witness, actor, source, action, None, email, outcome, detail)
            done.append(item if dry_run else _keep(host, item))
            if on_each is not None:
                on_each(done[-1])
    return done


def _known_ids(host: LocalHost, email: str, found: Sequence[str]) -> list[str]:
    """The ids the store knows for ``email`` that the server did not return: its live
    records; when the server returned none and no live record has it, its deleted ones
    (then the account reads as gone, or as still there)."""
    matches = [
        record
        for record in host.store.records("User", include_deleted=True)
        if same_email(record.get("email"), email) and str(record["id"]) not in found
    ]
    live = [str(r["id"]) for r in matches if "_deletedAt" not in r]
    if live or found:
        return live
    return [str(r["id"]) for r in matches]
