"""Every action against the sandbox: its happy path and its main failure."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from loom_scim_connector import (
    ActionError,
    AuthenticationError,
    InputError,
    LoomConnection,
    LoomScimClient,
    NotFoundError,
    RetryPolicy,
    no_wait,
)
from loom_scim_connector.host import LocalHost
from loom_scim_connector.sandbox import Sandbox

from .conftest import Script, act, sandbox_connection, scim


def users_named(sandbox: Sandbox, email: str) -> list[dict[str, Any]]:
    body = sandbox.call("GET", "/Users", query={"filter": f'userName eq "{email}"'})
    return list(body.get("Resources", []))


async def test_create_get_and_find_user(host: LocalHost) -> None:
    created = await act(
        host,
        "create-user",
        {
            "email": "new.hire@acme.example",
            "firstName": "New",
            "lastName": "Hire",
            "role": "creator",
            "externalId": "00uNEW",
            "employeeNumber": "E9",
            "photoUrl": "https://img.example/n.png",
        },
    )
    assert created["outcome"] == "created" and created["id"] == created["user"]["id"]
    assert created["user"]["role"] == "creator"
    assert (
        created["user"]["firstName"],
        created["user"]["employeeNumber"],
        created["user"]["photoUrl"],
    ) == ("New", "E9", "https://img.example/n.png")
    assert await act(host, "get-user", {"id": created["id"]}) == created["user"]
    found = await act(host, "find-user", {"email": "NEW.HIRE@acme.example"})
    assert found["found"] is True and found["user"]["id"] == created["id"]
    missing = await act(host, "find-user", {"email": "nobody@acme.example"})
    assert (missing["found"], missing["user"], missing["users"]) == (False, None, [])
    assert missing["complete"] is True and "userName eq" in missing["searched"]


async def test_get_user_not_found(host: LocalHost) -> None:
    with pytest.raises(NotFoundError):
        await host.run_action("get-user", {"id": "does-not-exist"})


async def test_create_user_after_409_returns_the_existing_user_updated(
    host: LocalHost, sandbox: Sandbox
) -> None:
    first = await act(host, "create-user", {"email": "dup@acme.example", "role": "viewer"})
    again = await act(
        host, "create-user", {"email": "dup@acme.example", "role": "admin", "firstName": "Dupe"}
    )
    assert (first["outcome"], again["outcome"]) == ("created", "existed")
    assert again["id"] == first["id"]
    assert (again["user"]["role"], again["user"]["firstName"]) == ("admin", "Dupe")
    assert again["user"]["active"] is True
    assert len(users_named(sandbox, "dup@acme.example")) == 1


async def offboarded(host: LocalHost, email: str) -> str:
    """A user created as a viewer named Before, then deactivated: its id."""
    first = await act(
        host, "create-user", {"email": email, "firstName": "Before", "role": "viewer"}
    )
    assert (await act(host, "deactivate-user", {"id": first["id"]}))["outcome"] == "deactivated"
    return str(first["id"])


class Recording(httpx.AsyncBaseTransport):
    """Passes every request on, and remembers its method and path."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        return await self.inner.handle_async_request(request)


def host_over(sandbox: Sandbox, tmp_path: Path, transport: httpx.AsyncBaseTransport) -> LocalHost:
    def factory(conn: LoomConnection) -> LoomScimClient:
        return LoomScimClient(conn, retry=RetryPolicy(sleep=no_wait), transport=transport)

    return LocalHost(sandbox_connection(sandbox), store=tmp_path / "t.db", client_factory=factory)


async def test_create_user_leaves_a_deactivated_user_untouched(
    host: LocalHost, sandbox: Sandbox, tmp_path: Path
) -> None:
    uid = await offboarded(host, "gone@acme.example")
    recording = Recording()
    watched = host_over(sandbox, tmp_path, recording)
    again = await act(
        watched,
        "create-user",
        {"email": "gone@acme.example", "firstName": "After", "role": "admin"},
    )
    watched.close()
    assert (again["id"], again["outcome"]) == (uid, "exists_deactivated")
    assert again["user"]["active"] is False
    methods = [method for method, _ in recording.seen]
    assert "PATCH" not in methods and methods.count("POST") == 1, recording.seen
    (stored,) = users_named(sandbox, "gone@acme.example")
    assert stored["active"] is False
    assert (stored["name"]["givenName"], stored["loomMemberRole"]) == ("Before", "viewer")


async def test_create_user_reactivates_only_when_asked(host: LocalHost, sandbox: Sandbox) -> None:
    uid = await offboarded(host, "back@acme.example")
    again = await act(
        host,
        "create-user",
        {"email": "back@acme.example", "firstName": "After", "role": "admin", "reactivate": True},
    )
    assert (again["id"], again["outcome"]) == (uid, "reactivated")
    assert (again["user"]["active"], again["user"]["firstName"], again["user"]["role"]) == (
        True,
        "After",
        "admin",
    )
    (stored,) = users_named(sandbox, "back@acme.example")
    assert stored["active"] is True
    # reactivate on an active user changes nothing more: it simply existed.
    third = await act(host, "create-user", {"email": "back@acme.example", "reactivate": True})
    assert (third["outcome"], third["user"]["active"]) == ("existed", True)


async def test_create_user_refuses_a_non_boolean_reactivate(host: LocalHost) -> None:
    with pytest.raises(InputError, match="reactivate"):
        await host.run_action("create-user", {"email": "x@acme.example", "reactivate": "yes"})


class LoseFirstPostResponse(httpx.AsyncBaseTransport):
    """Sends the first POST to the server, then pretends the response timed out."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.lost = 0
        self.posts = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST":
            self.posts += 1
            if self.lost == 0:
                self.lost += 1
                await response.aread()
                raise httpx.ReadTimeout("response lost", request=request)
        return response


async def test_create_user_retried_after_a_lost_response_creates_one_user(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    transport = LoseFirstPostResponse()

    def factory(conn: LoomConnection) -> LoomScimClient:
        return LoomScimClient(conn, retry=RetryPolicy(sleep=no_wait), transport=transport)

    host = LocalHost(sandbox_connection(sandbox), store=tmp_path / "s.db", client_factory=factory)
    user = await act(host, "create-user", {"email": "once@acme.example", "role": "creator"})
    host.close()
    assert transport.lost == 1 and transport.posts == 1, "the retry looked up instead of POSTing"
    assert user["outcome"] == "recovered" and user["user"]["role"] == "creator"
    assert [u["id"] for u in users_named(sandbox, "once@acme.example")] == [user["id"]]


class OffboardedBehindTheLostResponse(LoseFirstPostResponse):
    """The first POST lands, someone deactivates that user, then the response is lost."""

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__()
        self.sandbox = sandbox

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and self.lost == 0:
            response = await self.inner.handle_async_request(request)
            await response.aread()
            self.posts += 1
            self.lost += 1
            uid = response.json()["id"]
            deactivate = {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "path": "active", "value": False}],
            }
            self.sandbox.call("PATCH", f"/Users/{uid}", deactivate)
            raise httpx.ReadTimeout("response lost", request=request)
        return await super().handle_async_request(request)


async def test_a_recovered_user_that_reads_deactivated_is_left_as_is(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    transport = OffboardedBehindTheLostResponse(sandbox)
    host = host_over(sandbox, tmp_path, transport)
    out = await act(host, "create-user", {"email": "lost@acme.example", "role": "creator"})
    host.close()
    assert transport.posts == 1
    assert (out["outcome"], out["user"]["active"]) == ("exists_deactivated", False)
    (stored,) = users_named(sandbox, "lost@acme.example")
    assert stored["active"] is False


async def test_update_user(host: LocalHost, sandbox: Sandbox) -> None:
    uid = sandbox.seeded["all"][1]
    updated = await act(
        host,
        "update-user",
        {
            "id": uid,
            "email": "moved@acme.example",
            "lastName": "Moved",
            "employeeNumber": "E77",
            "externalId": "00uMOVED",
            "photoUrl": "https://img.example/m.png",
        },
    )
    assert (updated["email"], updated["lastName"], updated["employeeNumber"]) == (
        "moved@acme.example",
        "Moved",
        "E77",
    )
    assert (updated["externalId"], updated["photoUrl"]) == ("00uMOVED", "https://img.example/m.png")


async def test_set_user_role_reads_it_back(host: LocalHost, sandbox: Sandbox) -> None:
    uid = sandbox.seeded["viewer"][0]
    assert (await act(host, "set-user-role", {"id": uid, "role": "admin"}))["role"] == "admin"


async def test_a_role_the_server_ignores_fails_set_user_role(
    host: LocalHost, sandbox: Sandbox
) -> None:
    uid = sandbox.seeded["viewer"][0]
    sandbox.settings.role_mapped = False
    with pytest.raises(ActionError, match="did not apply role 'creator'") as caught:
        await host.run_action("set-user-role", {"id": uid, "role": "creator"})
    assert "map loomMemberRole" in str(caught.value)


async def test_create_user_with_an_ignored_role_fails_loudly(
    host: LocalHost, sandbox: Sandbox
) -> None:
    sandbox.settings.role_mapped = False
    with pytest.raises(ActionError, match="did not apply role"):
        await host.run_action("create-user", {"email": "r@acme.example", "role": "admin"})


async def test_deactivate_user_and_verify(host: LocalHost, sandbox: Sandbox) -> None:
    uid = sandbox.seeded["all"][0]
    out = await act(host, "deactivate-user", {"id": uid})
    assert out["outcome"] == "deactivated" and out["user"]["active"] is False
    back = await act(host, "reactivate-user", {"id": uid})
    assert back["active"] is True


async def test_deactivate_in_a_delete_workspace(host: LocalHost, sandbox: Sandbox) -> None:
    sandbox.settings.deprovisioning = "delete"
    uid = sandbox.seeded["all"][2]
    assert (await act(host, "deactivate-user", {"id": uid}))["outcome"] == "deleted"


async def test_deactivate_a_user_already_gone(host: LocalHost) -> None:
    out = await act(host, "deactivate-user", {"id": "gone-already"})
    assert out == {"id": "gone-already", "outcome": "already_gone", "user": None}


async def test_delete_user_then_again(host: LocalHost, sandbox: Sandbox) -> None:
    uid = sandbox.seeded["all"][3]
    assert (await act(host, "delete-user", {"id": uid}))["outcome"] == "deleted"
    assert (await act(host, "delete-user", {"id": uid}))["outcome"] == "already_gone"


async def test_group_lifecycle(host: LocalHost, sandbox: Sandbox) -> None:
    a, b, c = sandbox.seeded["all"][:3]
    group = await act(host, "create-group", {"displayName": "Loom Pilots", "memberIds": [a]})
    gid = group["id"]
    assert group["memberIds"] == [a]
    renamed = await act(host, "rename-group", {"id": gid, "displayName": "Loom Pilots 2"})
    assert renamed["displayName"] == "Loom Pilots 2"
    added = await act(host, "add-group-members", {"id": gid, "memberIds": [b, c]})
    assert sorted(added["memberIds"]) == sorted([a, b, c])
    removed = await act(host, "remove-group-members", {"id": gid, "memberIds": [a]})
    assert sorted(removed["memberIds"]) == sorted([b, c])
    assert (await act(host, "delete-group", {"id": gid}))["outcome"] == "deleted"
    assert (await act(host, "delete-group", {"id": gid}))["outcome"] == "already_gone"


async def test_removing_members_keeps_members_added_meanwhile(
    host: LocalHost, sandbox: Sandbox
) -> None:
    a, b, c = sandbox.seeded["all"][:3]
    gid = (await act(host, "create-group", {"displayName": "Team", "memberIds": [a, b]}))["id"]
    # Someone else adds c between our read and our change.
    sandbox.call(
        "PATCH",
        f"/Groups/{gid}",
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "add", "path": "members", "value": [{"value": c}]}],
        },
    )
    out = await act(host, "remove-group-members", {"id": gid, "memberIds": [a]})
    assert sorted(out["memberIds"]) == sorted([b, c])


async def test_create_group_after_409_reuses_it_and_adds_missing_members(
    connection: LoomConnection, tmp_path: Path
) -> None:
    existing = {"id": "g1", "displayName": "Loom Crew", "members": [{"value": "a"}]}
    script = Script(
        [
            scim(409, {"status": "409", "scimType": "uniqueness"}),
            scim(200, {"Resources": [existing], "totalResults": 1}),
            scim(200, existing),  # read back: "b" is missing
            scim(204),
            scim(200, {**existing, "members": [{"value": "a"}, {"value": "b"}]}),
        ]
    )

    def factory(conn: LoomConnection) -> LoomScimClient:
        return LoomScimClient(
            conn, retry=RetryPolicy(sleep=no_wait), transport=httpx.MockTransport(script)
        )

    host = LocalHost(connection, store=tmp_path / "s.db", client_factory=factory)
    group = await act(host, "create-group", {"displayName": "Loom Crew", "memberIds": ["a", "b"]})
    host.close()
    assert group == {
        "id": "g1",
        "displayName": "Loom Crew",
        "externalId": None,
        "memberIds": ["a", "b"],
    }
    patch = json.loads(script.requests[3].content)
    assert patch["Operations"] == [{"op": "add", "path": "members", "value": [{"value": "b"}]}]
    assert script.requests[1].url.params["filter"] == 'displayName eq "Loom Crew"'


async def test_rename_a_missing_group(host: LocalHost) -> None:
    with pytest.raises(NotFoundError):
        await host.run_action("rename-group", {"id": "nope", "displayName": "x"})


async def test_bad_input_is_refused_before_any_request(host: LocalHost, sandbox: Sandbox) -> None:
    before = sandbox.app.requests_served
    with pytest.raises(InputError) as caught:
        await host.run_action("create-user", {"email": "not-an-email", "role": "owner"})
    assert set(caught.value.problems) == {"email", "role"}
    assert sandbox.app.requests_served == before


async def test_expired_key_is_an_authentication_error(sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox.tokens.expires_at = datetime.now(UTC) - timedelta(days=1)
    host = LocalHost(sandbox_connection(sandbox), store=tmp_path / "s.db")
    with pytest.raises(AuthenticationError, match="expired"):
        await host.run_action("get-user", {"id": sandbox.seeded["all"][0]})
    host.close()


async def test_rotated_key_stops_at_once(sandbox: Sandbox, tmp_path: Path) -> None:
    old = sandbox_connection(sandbox)
    sandbox.rotate_token()
    host = LocalHost(old, store=tmp_path / "s.db")
    with pytest.raises(AuthenticationError, match="rotated"):
        await host.run_sync("users")
    host.close()
    fresh = LocalHost(sandbox_connection(sandbox), store=tmp_path / "s.db")
    assert (await fresh.run_sync("users")).status == "success"
    fresh.close()


@pytest.mark.parametrize(
    ("name", "payload"),
    [
        ("update-user", {"id": "missing", "lastName": "X"}),
        ("set-user-role", {"id": "missing", "role": "viewer"}),
        ("reactivate-user", {"id": "missing"}),
        ("add-group-members", {"id": "missing", "memberIds": ["u1"]}),
        ("remove-group-members", {"id": "missing", "memberIds": ["u1"]}),
    ],
)
async def test_actions_on_a_missing_resource_fail_as_not_found(
    host: LocalHost, name: str, payload: dict[str, Any]
) -> None:
    with pytest.raises(NotFoundError):
        await host.run_action(name, payload)
