"""Cassette-backed: the groups sync and every group action, replayed offline."""

from __future__ import annotations

import pytest

from loom_scim_connector import LoomScimClient

from .conftest import act
from .replay import Scenario

pytestmark = pytest.mark.vcr


async def two_user_ids(scene: Scenario) -> list[str]:
    async with LoomScimClient(scene.connection, retry=scene.policy()) as client:
        page = await client.list_page("Users", 1, 2)
    return [str(r["id"]) for r in page.resources]


async def test_groups_sync(scene: Scenario) -> None:
    host = scene.host()
    report = await host.run_sync("groups")
    assert report.status == "success"
    groups = host.records("Group")
    assert len(groups) == report.added
    assert all(isinstance(g["memberIds"], list) for g in groups)


async def test_group_lifecycle(scene: Scenario) -> None:
    host = scene.host()
    a, b = await two_user_ids(scene)
    group = await act(host, "create-group", {"displayName": "Cassette Crew", "memberIds": [a]})
    assert group["memberIds"] == [a]
    renamed = await act(host, "rename-group", {"id": group["id"], "displayName": "Cassette Crew 2"})
    assert renamed["displayName"] == "Cassette Crew 2"
    added = await act(host, "add-group-members", {"id": group["id"], "memberIds": [b]})
    assert sorted(added["memberIds"]) == sorted([a, b])
    removed = await act(host, "remove-group-members", {"id": group["id"], "memberIds": [a]})
    assert removed["memberIds"] == [b]
    assert (await act(host, "delete-group", {"id": group["id"]}))["outcome"] == "deleted"
    assert (await act(host, "delete-group", {"id": group["id"]}))["outcome"] == "already_gone"
