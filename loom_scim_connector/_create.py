"""Creating a resource exactly once from the caller's view: the client's ``create``.

After a failure that may have been applied (a timeout after sending, a 5xx), the
client's retry loop looks the resource up before sending again (``recover``); what it
finds comes back as :class:`Recovered`. On 409 the existing resource is adopted.
:class:`~loom_scim_connector.client.LoomScimClient` delegates ``create`` here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from ._constants import SCAN_LIMIT, Resource
from ._exchange import Recover, Recovered, json_object
from .errors import ConflictError


@dataclass(frozen=True)
class CreateResult:
    """What ``create`` did: ``created`` now, ``existed`` (the server said 409 and the
    resource was found), or ``recovered`` (an earlier attempt had landed after all)."""

    resource: dict[str, Any]
    outcome: Literal["created", "existed", "recovered"]


class Creator(Protocol):
    """What a create needs of the client: a collection's path, the one request, a lookup."""

    def path_of(self, resource: Resource, resource_id: str | None = None) -> str: ...

    async def request(
        self, method: Literal["POST"], path: str, *, json: Any, recover: Recover
    ) -> Any: ...

    async def find_one(
        self, resource: Resource, attribute: str, value: str, *, scan: int = 0
    ) -> dict[str, Any] | None: ...


async def create(
    client: Creator,
    resource: Resource,
    body: Mapping[str, Any],
    *,
    key: tuple[str, str],
    find: Recover | None = None,
) -> CreateResult:
    """POST a resource exactly once from the caller's view.

    ``key`` is the resource's natural key (``("displayName", name)``): after a failure
    that may have been applied (a timeout after sending, a 5xx), the next attempt first
    looks the resource up by it; on 409 the existing resource is returned. ``find``,
    when given, is that lookup instead (a person is found by email in more places
    than one attribute); it returns the one existing resource, or ``None``.
    """
    path = client.path_of(resource)
    attribute, value = key

    async def lookup() -> Any:
        return await client.find_one(resource, attribute, value, scan=SCAN_LIMIT)

    recover = find or lookup
    try:
        answer = await client.request("POST", path, json=dict(body), recover=recover)
    except ConflictError:
        existing = await recover()
        if existing is None:
            raise
        return CreateResult(json_object("POST", path, existing), "existed")
    if isinstance(answer, Recovered):
        return CreateResult(json_object("POST", path, answer.body), "recovered")
    return CreateResult(json_object("POST", path, answer), "created")
