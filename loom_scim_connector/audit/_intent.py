"""A change announced before it is sent, so an interruption cannot lose who made it.

Just before the request that changes a person (``PATCH active=false``, ``DELETE``), an
*intent* is appended to the evidence: outcome ``unknown``, naming the actor, the action,
the account and the email. The record of what happened follows it, its ``intent_id``
the intent's ``evidence_id``. An intent no record refers to is *unresolved*: the run
stopped (Ctrl-C, a crash, a lost connection) between sending the change and knowing its
outcome. The next ``offboard`` or ``reconcile --apply`` (or ``loom-scim evidence
resolve``) reads each such account and appends the outcome it finds, credited to the
intent's actor and time: the change was theirs, whoever finds out later that it landed.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.errors import (
    AuthenticationError,
    ConfigError,
    LoomScimError,
    PermissionDeniedError,
    WrongUrlError,
)
from loom_scim_connector.host import LocalHost
from loom_scim_connector.models.scim import UnreadableRecord, user_from_scim
from loom_scim_connector.store import Evidence, Store, now_iso

from ._witness import Witness, session

log = logging.getLogger("loom_scim_connector")
UNKNOWN = "unknown"
_FATAL = (AuthenticationError, PermissionDeniedError, WrongUrlError, ConfigError)
_SENDS = {"deactivate-user": "PATCH active=false", "delete-user": "DELETE"}


def record_intent(
    host: LocalHost,
    witness: Witness,
    actor: str,
    source: str,
    action: str,
    user_id: str,
    email: str,
) -> int:
    """Append the intent of ``action`` on ``user_id``, before its request; its id."""
    sends = _SENDS.get(action, action)
    return host.store.record_evidence(
        Evidence(
            at=now_iso(),
            actor=actor,
            source=source,
            action=action,
            user_id=user_id,
            email=email,
            outcome=UNKNOWN,
            request=witness.so_far(),
            detail=f"about to send {sends}: the record whose intent_id is this one says "
            "what happened; with none, the run stopped before knowing, and the next "
            "offboard (or loom-scim evidence resolve) reads the account and records it",
        )
    )


def unresolved(store: Store) -> list[Evidence]:
    """The connection's intents that no record settles, oldest first."""
    everything = store.evidence()
    settled = {item.intent_id for item in everything if item.intent_id is not None}
    return [
        item
        for item in reversed(everything)
        if item.outcome == UNKNOWN and item.evidence_id not in settled
    ]


async def resolve_pending(host: LocalHost, resolver: str) -> list[Evidence]:
    """Resolve every unresolved intent of the connection (a session only when any)."""
    if not unresolved(host.store):
        return []
    async with session(host) as (client, witness):
        return await resolve_in(host, client, witness, resolver)


async def resolve_in(
    host: LocalHost, client: LoomScimClient, witness: Witness, resolver: str
) -> list[Evidence]:
    """Read the account of each unresolved intent and append what it shows. An account
    that cannot be read now stays unresolved (a later run tries again)."""
    done: list[Evidence] = []
    for intent in unresolved(host.store):
        try:
            outcome, shows = await _read(client, intent)
        except _FATAL:
            raise
        except LoomScimError as exc:
            witness.take()
            why = " ".join(str(exc).split())
            done.append(replace(intent, detail=f"still unknown: the account cannot be read: {why}"))
            log.warning(
                "evidence %s (%s of %s by %s at %s): outcome still unknown, the account "
                "cannot be read: %s",
                intent.evidence_id, intent.action, intent.email, intent.actor, intent.at, why,
            )  # fmt: skip
            continue
        item = Evidence(
            at=intent.at,
            actor=intent.actor,
            source=intent.source,
            action=intent.action,
            user_id=intent.user_id,
            email=intent.email,
            outcome=outcome,
            request=witness.take(),
            detail=f"{shows}; the change was sent by {intent.actor} at {intent.at} "
            f"(evidence {intent.evidence_id}) and that run stopped before knowing its "
            f"outcome; read back by {resolver} at {now_iso()}",
            intent_id=intent.evidence_id,
        )
        done.append(replace(item, evidence_id=host.store.record_evidence(item)))
        log.info(
            "evidence %s resolved (%s of %s, user %s, by %s at %s, interrupted): %s, %s",
            intent.evidence_id, intent.action, intent.email, intent.user_id, intent.actor,
            intent.at, outcome, shows,
        )  # fmt: skip
    return done


async def _read(client: LoomScimClient, intent: Evidence) -> tuple[str, str]:
    """What the account shows now: ``(outcome, what was read)``."""
    raw = await client.get_or_none("Users", str(intent.user_id))
    if raw is None:
        return "deleted", "read back 404: the user is gone"
    try:
        active = user_from_scim(raw).active
    except UnreadableRecord:
        active = None
    shown = "unknown" if active is None else str(active).lower()
    if intent.action == "deactivate-user" and active is False:
        return "deactivated", "read back active=false"
    if intent.action == "delete-user":
        return "not_applied", (
            f"read back: the user is still there (active={shown}; a server that keeps "
            "tombstones shows a deleted user inactive): offboard --delete again to settle it"
        )
    return "not_applied", f"read back active={shown}: the change did not take effect"
