"""Cassette-backed: the users sync and every user action, replayed offline.

Each test learns the ids it uses from recorded responses, never from the sandbox, so
replay needs no server. Re-record with `make record`.
"""

from __future__ import annotations

import pytest

from loom_scim_connector import LoomScimClient, NotFoundError

from .conftest import act
from .replay import Scenario

pytestmark = pytest.mark.vcr


async def first_user_id(scene: Scenario) -> str:
    async with LoomScimClient(scene.connection, retry=scene.policy()) as client:
        page = await client.list_page("Users", 1, 1)
    return str(page.resources[0]["id"])


async def test_users_sync_over_three_pages(scene: Scenario) -> None:
    host = scene.host(page_size=5)
    report = await host.run_sync("users")
    assert report.status == "success"
    assert report.pages >= 3, "record against a workspace with at least 11 users"
    assert report.added == len(host.records("User")) >= 11
    assert report.retries == 0


async def test_create_get_find_and_update_user(scene: Scenario) -> None:
    host = scene.host()
    email = scene.email("onboard")
    created = await act(
        host,
        "create-user",
        {
            "email": email,
            "firstName": "Casey",
            "lastName": "Sette",
            "role": "creator",
            "externalId": "00uCASSETTE",
        },
    )
    assert created["outcome"] == "created"
    user = created["user"]
    assert (user["email"], user["role"], user["active"]) == (email, "creator", True)
    assert await act(host, "get-user", {"id": created["id"]}) == user
    found = await act(host, "find-user", {"email": email})
    assert found["found"] and found["user"]["id"] == created["id"]
    updated = await act(
        host,
        "update-user",
        {"id": created["id"], "lastName": "Updated", "employeeNumber": "E-CASSETTE"},
    )
    assert (updated["lastName"], updated["employeeNumber"]) == ("Updated", "E-CASSETTE")
    await act(host, "delete-user", {"id": created["id"]})  # leave a real workspace as found


async def test_create_user_hits_409_and_recovers(scene: Scenario) -> None:
    host = scene.host()
    email = scene.email("twice")
    first = await act(host, "create-user", {"email": email, "role": "viewer"})
    second = await act(
        host, "create-user", {"email": email, "role": "creator", "firstName": "Twice"}
    )
    assert (second["id"], second["outcome"]) == (first["id"], "existed")
    assert (second["user"]["role"], second["user"]["firstName"]) == ("creator", "Twice")
    await act(host, "delete-user", {"id": first["id"]})


async def test_create_user_never_undoes_an_offboarding(scene: Scenario) -> None:
    host = scene.host()
    email = scene.email("offboarded")
    first = await act(
        host, "create-user", {"email": email, "firstName": "Before", "role": "viewer"}
    )
    off = await act(host, "deactivate-user", {"id": first["id"]})
    if off["outcome"] == "deleted":  # a workspace that deprovisions by deleting
        pytest.skip("the workspace deletes deprovisioned users: nothing left to reactivate")
    asked = {"email": email, "firstName": "After", "role": "admin"}
    again = await act(host, "create-user", asked)
    assert (again["id"], again["outcome"]) == (first["id"], "exists_deactivated")
    untouched = again["user"]
    assert (untouched["active"], untouched["firstName"], untouched["role"]) == (
        False,
        "Before",
        "viewer",
    )
    back = await act(host, "create-user", {**asked, "reactivate": True})
    assert (back["id"], back["outcome"]) == (first["id"], "reactivated")
    assert (back["user"]["active"], back["user"]["firstName"], back["user"]["role"]) == (
        True,
        "After",
        "admin",
    )
    await act(host, "delete-user", {"id": first["id"]})


async def test_set_user_role(scene: Scenario) -> None:
    host = scene.host()
    user = await act(host, "create-user", {"email": scene.email("role"), "role": "viewer"})
    assert (await act(host, "set-user-role", {"id": user["id"], "role": "admin"}))[
        "role"
    ] == "admin"
    await act(host, "delete-user", {"id": user["id"]})


async def test_deactivate_and_reactivate_user(scene: Scenario) -> None:
    host = scene.host()
    user = await act(host, "create-user", {"email": scene.email("leaver")})
    off = await act(host, "deactivate-user", {"id": user["id"]})
    assert off["outcome"] in ("deactivated", "deleted")
    if off["outcome"] == "deactivated":
        assert off["user"]["active"] is False
        assert (await act(host, "reactivate-user", {"id": user["id"]}))["active"] is True
        await act(host, "delete-user", {"id": user["id"]})


async def test_deactivate_a_user_already_gone(scene: Scenario) -> None:
    host = scene.host()
    out = await act(host, "deactivate-user", {"id": "0000000000000000deadbeef"})
    assert out == {"id": "0000000000000000deadbeef", "outcome": "already_gone", "user": None}


async def test_delete_user_twice(scene: Scenario) -> None:
    host = scene.host()
    user = await act(host, "create-user", {"email": scene.email("deleted")})
    assert (await act(host, "delete-user", {"id": user["id"]}))["outcome"] == "deleted"
    assert (await act(host, "delete-user", {"id": user["id"]}))["outcome"] == "already_gone"
    with pytest.raises(NotFoundError):
        await host.run_action("get-user", {"id": user["id"]})


async def test_get_user_of_the_workspace(scene: Scenario) -> None:
    host = scene.host()
    uid = await first_user_id(scene)
    assert (await act(host, "get-user", {"id": uid}))["id"] == uid
