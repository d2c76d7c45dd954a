"""A store belongs to one workspace: the check each run makes before it reads or writes.

SCIM has no tenant id, and many services tell workspaces apart by the bearer token
alone, so two workspaces can sit behind one URL (the store's connection key). A sync of
workspace B into A's store would look A's users up with B's key, get a 404 for each and
delete them all. What a store can know is the key its records were synced with: a
salted fingerprint (:class:`~loom_scim_connector.store.Binding`, HMAC-SHA256 under a
random salt), never the key. Before a run:

* the key matches the binding: go on, no request;
* no binding and nothing live to lose (a new store): bind to this key;
* otherwise (a new key: a rotation, or another workspace; or a store made before
  bindings) the key must prove it sees this store's workspace: up to :data:`PROBES`
  records the store holds live (the most recently seen first, per model) are looked up
  with it. A record counts as found only when the server returns it under the same id
  AND with the same identity (:data:`IDENTITY`: email, externalId, displayName or
  creation time equal to the stored one), since a server that numbers each tenant's
  users 1, 2, 3 answers another tenant's ids too. More than half of those looked up
  found so: the store is bound to the new key (recorded: ``rebound_at``, ``rebinds``)
  and the run says so. Fewer (another workspace may share an id and an email, its
  admin's):
  :class:`~loom_scim_connector.store.WorkspaceMismatchError` (exit 2), before anything
  is listed, saved or deleted.

A lookup that fails otherwise (401, 5xx, a gateway's 404) fails the run as any request
does. Keys expire yearly and a regenerated key stops the old one at once, so rotation
needs no flag: the proof is the new key reading a user the store already holds.
"""

from __future__ import annotations

import logging
from typing import Any

from loom_scim_connector.client import LoomScimClient
from loom_scim_connector.config import LoomConnection
from loom_scim_connector.identity import email_key
from loom_scim_connector.manifest import Manifest, ResolvedSync
from loom_scim_connector.models.scim import UnreadableRecord
from loom_scim_connector.store import Binding, Store, WorkspaceMismatchError, now_iso

from .context import RunContextImpl

PROBES = 5  # stored live records looked up per model before a new key takes a store
# Fields that say who a record is, beside its id (any one equal suffices: a rename
# changes one of them, and the next record sampled may still prove the workspace).
IDENTITY = ("email", "externalId", "displayName", "createdAt")
NEW_STORE = (
    "for another workspace, give it a store of its own: --store NEW_FILE "
    "(in a fleet, a connection of its own)"
)


async def ensure_workspace(
    store: Store,
    manifest: Manifest,
    connection: LoomConnection,
    client: LoomScimClient,
    logger: logging.Logger,
) -> str | None:
    """Check (and record) that ``store`` holds the workspace this key reaches; return a
    warning when a new key took the store over, else ``None``."""
    key = connection.api_key.get_secret_value()
    for _ in range(3):  # another run may rebind between our read and our write
        bound = store.binding()
        if bound is not None and bound.matches(key):
            return None
        proof = await _prove(store, manifest, RunContextImpl(connection, client, logger))
        if getattr(store, "read_only", False):  # a review or dry run of a read-only copy
            return (
                None
                if bound is None
                else f"a new API key: it reads this store's workspace ({proof}); the store "
                "is read-only, so it still names the old key"
            )
        in_force = store.bind(
            Binding.of(key, now_iso()), replaces=None if bound is None else bound.key_mac
        )
        if in_force.matches(key):
            if bound is None:
                return None
            return (
                f"a new API key: it reads this store's workspace ({proof}), so the store "
                "now follows it"
            )
    raise WorkspaceMismatchError(_where(store), "its binding keeps changing; try again")


async def _prove(store: Store, manifest: Manifest, ctx: RunContextImpl) -> str:
    """Look stored live records up with the key; say what was found, or raise.

    More than half of the records looked up must be found with their identity: a
    rotated key of the same workspace finds nearly all (bar those who left or were
    renamed since the last sync), while another workspace that happens to share an id
    and an email with this one (each numbering its users 1, 2, 3; one admin in both)
    matches one at most, which used to be enough to take the store and delete the rest.
    """
    tried: list[str] = []
    matched: list[str] = []
    for sync in _lookups(manifest):
        assert sync.confirm is not None
        model = sync.spec.output
        for record in store.records(model, ids=store.live_sample(model, PROBES)):
            rid = str(record["id"])
            tried.append(rid)
            try:
                found = await sync.confirm(ctx, rid)
            except UnreadableRecord:
                continue  # answered, but unreadable: proves nothing either way
            if found is not None and _same(record, found.model_dump(mode="json", by_alias=True)):
                matched.append(f"{model} {rid}")
    if not tried:
        return "nothing live to lose"
    if 2 * len(matched) > len(tried):
        return f"{len(matched)} of {len(tried)} records it holds found, {matched[0]} first"
    shown = ", ".join(tried[:3]) + (", ..." if len(tried) > 3 else "")
    raise WorkspaceMismatchError(
        _where(store),
        "holds another workspace: this API key is not the one it was synced with, and "
        f"only {len(matched)} of {len(tried)} records it holds ({shown}) exist for this "
        "key as stored (more than half must), so nothing was synced or deleted; "
        f"{NEW_STORE}",
    )


def _same(stored: dict[str, Any], found: dict[str, Any]) -> bool:
    """The same record: the same id, and one identity field equal (emails by case)."""
    if str(found.get("id")) != str(stored.get("id")):
        return False
    for name in IDENTITY:
        mine, theirs = stored.get(name), found.get(name)
        if mine is None or theirs is None:
            continue
        if email_key(str(mine)) == email_key(str(theirs)):
            return True
    return False


def _lookups(manifest: Manifest) -> list[ResolvedSync]:
    """One sync per model that can look a record up by id."""
    seen: dict[str, ResolvedSync] = {}
    for sync in manifest.syncs.values():
        if sync.confirm is not None:
            seen.setdefault(sync.spec.output, sync)
    return list(seen.values())


def _where(store: Store) -> str:
    return str(getattr(store, "where", "") or "(this store)")
