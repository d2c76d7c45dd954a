"""Writes an agent cannot do by accident: a plan first, the change only once confirmed.

The plan says who (the account as Loom has it now, read just before), what (the action,
its input, how many changes) and where (the connection and its workspace). It is the
same function of the same reads on both calls, so a token issued for one plan confirms
nothing else (:mod:`._token`). Acting goes through the host's action, like the CLI's,
and every change is recorded as evidence by the actor ``mcp:<client name>``: a
deactivation or deletion is announced first (an intent, settled by its outcome, as
``offboard`` does), any other write recorded once its outcome is known.
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel

from loom_scim_connector._constants import Resource
from loom_scim_connector.audit._witness import NO_REQUEST
from loom_scim_connector.audit.offboard import Witness, record_intent
from loom_scim_connector.audit.plan import PlanRefusedError
from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.errors import LoomScimError
from loom_scim_connector.host import LocalHost
from loom_scim_connector.manifest import ResolvedAction
from loom_scim_connector.models.scim import UnreadableRecord, group_from_scim, user_from_scim
from loom_scim_connector.store import Evidence, now_iso

from ._token import canonical

SOURCE = "mcp"
# Changes the evidence resolver can settle from a read of the account, if a run stops
# between sending one and knowing its outcome: announced before they are sent.
ANNOUNCED = frozenset({"deactivate-user", "delete-user"})
IN_FLIGHT = "a request may have been in flight, its answer not seen"


def _resource(action: ResolvedAction) -> Resource | None:
    path = action.spec.endpoint.path
    if path.startswith("/users"):
        return "Users"
    return "Groups" if path.startswith("/groups") else None


def changes_in(validated: BaseModel) -> int:
    """How many changes a call makes: one, or one per item of a list it names (members)."""
    lists = [len(v) for v in validated.model_dump().values() if isinstance(v, list | tuple)]
    return max(1, sum(lists))


async def _current(
    host: LocalHost, client: LoomScimClient, action: ResolvedAction, data: dict[str, Any]
) -> dict[str, Any] | None:
    """The target as Loom has it now: by id, or (a user to create) by email."""
    resource = _resource(action)
    if resource is None:
        return None
    if "id" in data:
        raw = await client.get_or_none(resource, str(data["id"]))
        if raw is None:
            return {"exists": False, "id": data["id"]}
        read = user_from_scim if resource == "Users" else group_from_scim
        try:
            record = read(raw).model_dump(mode="json", by_alias=True)
        except UnreadableRecord as exc:
            # The reason alone survives a change of the person behind the id: bind the
            # record itself, and show the person who it names as best it can be read.
            digest = hashlib.sha256(canonical(raw).encode()).hexdigest()
            named: dict[str, Any] = {k: raw[k] for k in ("userName", "displayName") if k in raw}
            unreadable = {"exists": True, "id": data["id"], "unreadable": str(exc)}
            # Its members still lose their access if it is deleted: counted as listed.
            members = [v for k, v in raw.items() if str(k).lower() == "members"]
            if members and isinstance(members[0], list):
                unreadable["memberCount"] = len(members[0])
            return {**unreadable, **named, "recordSha256": digest}
        return {"exists": True, **record}
    if resource == "Users" and "email" in data:
        found = await host.run_action("find-user", {"email": data["email"]}, client=client)
        accounts = found.model_dump(mode="json", by_alias=True).get("users", [])
        return {"accountsWithThisEmail": accounts}
    return None


async def plan_of(
    host: LocalHost,
    client: LoomScimClient,
    action: ResolvedAction,
    validated: BaseModel,
    connection: str,
    max_changes: int,
) -> dict[str, Any]:
    data = validated.model_dump(mode="json", by_alias=True, exclude_unset=True)
    current = await _current(host, client, action, data)
    count = changes_in(validated)
    if action.spec.endpoint.method == "DELETE" and current:
        # A group's deletion: each member's access (read, or counted in an unreadable record).
        count = max(count, len(current.get("memberIds") or ()), current.get("memberCount", 0))
    if count > max_changes:
        raise PlanRefusedError(
            "--max-changes",
            f"the call makes {count} changes, more than {max_changes}: nothing was changed; "
            "split it, or restart the server with a larger --max-changes",
        )
    return {
        "tool": action.name,
        "what": action.spec.description,
        "request": f"{action.spec.endpoint.method} {action.spec.endpoint.path}",
        "input": data,
        "changes": count,
        "connection": connection,
        "workspace": host.connection.base_url,
        "current": current,
    }


def _who(plan: dict[str, Any]) -> tuple[str | None, str]:
    current = plan.get("current") or {}
    data = plan["input"]
    ident = data.get("id")
    email = current.get("email") or data.get("email") or current.get("displayName") or ""
    return (str(ident) if ident is not None else None), str(email)


async def act(
    host: LocalHost,
    client: LoomScimClient,
    witness: Witness,
    action: ResolvedAction,
    raw: dict[str, Any],
    plan: dict[str, Any],
    actor: str,
) -> tuple[BaseModel, list[int]]:
    """Carry out the confirmed plan; the output and the evidence ids recorded."""
    user_id, email = _who(plan)
    ids: list[int] = []
    witness.take()  # the plan's reads are the plan's, not the change's
    if action.name in ANNOUNCED and user_id is not None:
        ids.append(record_intent(host, witness, actor, SOURCE, action.name, user_id, email))

    def keep(outcome: str, detail: str, in_flight: bool = False) -> None:
        request = witness.take()
        if in_flight:  # the witness sees answers only: one may still have been on its way
            request = f"{'' if request == NO_REQUEST else request + '; '}{IN_FLIGHT}"
        item = Evidence(
            at=now_iso(),
            actor=actor,
            source=SOURCE,
            action=action.name,
            user_id=user_id,
            email=email,
            outcome=outcome,
            request=request,
            detail=detail,
            intent_id=ids[0] if ids else None,
        )
        ids.append(host.store.record_evidence(item))

    try:
        output = await host.run_action(action.name, raw, client=client)
    except LoomScimError as exc:
        keep("failed", " ".join(str(exc).split()))
        raise
    except BaseException as exc:  # cancelled by the client, or worse: it may have been sent
        if not ids:  # an announced intent stays pending for the resolver instead
            why = f"{action.name} cut short ({type(exc).__name__}): read Loom to know"
            keep("unknown", why, in_flight=True)
        raise
    outcome = str(getattr(output, "outcome", "done"))
    keep(outcome, f"{action.name} confirmed by {actor}; read back by the action")
    return output, ids
