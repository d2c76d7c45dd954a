"""The servers Loom customers really have: every action and both syncs against each
sandbox profile (rfc, atlassian, workos), and issue 19's cases 8-11 through them."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from loom_scim_connector import LoomConnection, LoomScimClient, RetryPolicy
from loom_scim_connector.audit.offboard import offboard_user
from loom_scim_connector.cli import run
from loom_scim_connector.errors import ActionError
from loom_scim_connector.host import LocalHost
from loom_scim_connector.models.scim import ENTERPRISE_USER, PATCH_OP
from loom_scim_connector.sandbox import Sandbox, SandboxSettings
from loom_scim_connector.sandbox.profiles import PROFILES
from loom_scim_connector.sandbox.schema import ROLE_EXTENSION

from .conftest import Sleeps, act, fast_factory, sandbox_connection


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _host(sandbox: Sandbox, tmp_path: Path) -> LocalHost:
    return LocalHost(
        sandbox_connection(sandbox), store=tmp_path / "s.sqlite3", client_factory=fast_factory(5)
    )


def _users(sandbox: Sandbox) -> list[dict[str, Any]]:
    return list(sandbox.call("GET", "/Users", query={"count": "100"})["Resources"])


def _active(sandbox: Sandbox) -> dict[str, Any]:
    return next(u for u in _users(sandbox) if u.get("active") is True and u.get("externalId"))


@pytest.fixture(params=PROFILES)
def profiled(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    with Sandbox(seed_users=12, seed=7, profile=request.param) as sandbox:
        yield sandbox


async def test_every_action_and_both_syncs_run_against_each_profile(
    profiled: Sandbox, tmp_path: Path
) -> None:
    host = _host(profiled, tmp_path)
    try:
        assert (await host.run_sync("users")).status == "success"
        assert (await host.run_sync("groups")).status == "success"
        created = await act(
            host, "create-user", {"email": "new.person@acme.example", "role": "viewer"}
        )
        uid = created["id"]
        assert (created["outcome"], created["user"]["role"]) == ("created", "viewer")
        again = await act(host, "create-user", {"email": "new.person@acme.example"})
        assert again["outcome"] == "existed" and again["id"] == uid
        assert (await act(host, "get-user", {"id": uid}))["email"] == "new.person@acme.example"
        updated = await act(host, "update-user", {"id": uid, "firstName": "Nova"})
        assert updated["firstName"] == "Nova"
        assert (await act(host, "set-user-role", {"id": uid, "role": "admin"}))["role"] == "admin"
        found = await act(host, "find-user", {"email": "new.person@acme.example"})
        assert found["found"] and found["user"]["role"] == "admin"
        other = _active(profiled)["id"]
        group = await act(host, "create-group", {"displayName": "Team", "memberIds": [uid]})
        gid = group["id"]
        added = await act(host, "add-group-members", {"id": gid, "memberIds": [uid, other]})
        assert sorted(added["memberIds"]) == sorted([uid, other])
        removed = await act(host, "remove-group-members", {"id": gid, "memberIds": [uid]})
        assert removed["memberIds"] == [other]
        renamed = await act(host, "rename-group", {"id": gid, "displayName": "Team B"})
        assert renamed["displayName"] == "Team B"
        assert (await act(host, "delete-group", {"id": gid}))["outcome"] == "deleted"
        off = await act(host, "deactivate-user", {"id": uid})
        assert (off["outcome"], off["user"]["active"]) == ("deactivated", False)
        on = await act(host, "reactivate-user", {"id": uid})
        assert on["active"] is True
        gone = await act(host, "delete-user", {"id": uid})
        assert gone["outcome"] == (
            "tombstoned" if profiled.settings.delete == "tombstone" else "deleted"
        )
        assert (await host.run_sync("users")).status == "success"
        assert (await host.run_sync("groups")).status == "success"
        saved = {r["id"]: r for r in host.store.records("User")}
        assert (uid not in saved) or saved[uid]["active"] is False
        assert saved[other]["active"] is True
    finally:
        host.close()


# -- case 8: a DELETE that leaves an inactive tombstone (WorkOS) -------------------------


def test_delete_user_on_a_tombstoning_server_says_deleted_and_the_resync_shows_it_inactive(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with Sandbox(seed_users=6, seed=3, profile="workos") as sandbox:
        monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", sandbox.url)
        monkeypatch.setenv("LOOM_SCIM_API_KEY", sandbox.token)
        monkeypatch.chdir(tmp_path)
        uid = _active(sandbox)["id"]
        code, out, err = cli("action", "delete-user", "--input", f'{{"id": "{uid}"}}')
        assert code == 0, err
        assert '"outcome": "tombstoned"' in out
        assert sandbox.call("GET", f"/Users/{uid}")["active"] is False
        code, _, err = cli("sync", "users", "--store", "s.sqlite3")
        assert code == 0, err
        code, out, err = cli("sync", "users", "--store", "s.sqlite3")
        assert code == 0, err


async def test_offboard_delete_on_a_tombstoning_server_is_evidence_of_a_delete(
    tmp_path: Path,
) -> None:
    with Sandbox(seed_users=6, seed=3, profile="workos") as sandbox:
        host = _host(sandbox, tmp_path)
        try:
            user = _active(sandbox)
            done = await offboard_user(
                host,
                user_id=user["id"],
                email=user["userName"],
                delete=True,
                source="offboard",
                actor="a",
            )
            assert (done.action, done.outcome) == ("delete-user", "tombstoned")
            assert "inactive tombstone" in (done.detail or "")
            await host.run_sync("users")
            saved = {r["id"]: r for r in host.store.records("User")}
            assert saved[user["id"]]["active"] is False
        finally:
            host.close()


async def test_a_delete_after_which_the_user_still_reads_active_is_a_failure(
    connection: LoomConnection, tmp_path: Path
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.method == "DELETE":
            return httpx.Response(204)
        body = {"id": "u1", "userName": "u1@acme.example", "active": True}
        return httpx.Response(200, json=body, headers={"Content-Type": "application/scim+json"})

    def factory(conn: LoomConnection) -> LoomScimClient:
        return LoomScimClient(conn, transport=httpx.MockTransport(answer))

    host = LocalHost(connection, store=tmp_path / "s.sqlite3", client_factory=factory)
    try:
        with pytest.raises(
            ActionError, match="still exists after DELETE and reads back as active=True"
        ):
            await host.run_action("delete-user", {"id": "u1"})
    finally:
        host.close()


# -- case 9: the role where the server keeps it ------------------------------------------


@pytest.mark.parametrize(
    ("location", "urn"), [("custom", ROLE_EXTENSION), ("enterprise", ENTERPRISE_USER)]
)
async def test_set_user_role_writes_and_verifies_where_the_server_keeps_the_role(
    tmp_path: Path, location: str, urn: str
) -> None:
    settings = SandboxSettings.for_profile("workos", role_location=location)
    with Sandbox(seed_users=6, seed=3, settings=settings) as sandbox:
        host = _host(sandbox, tmp_path)
        try:
            user = _active(sandbox)
            before = user[urn]["loomMemberRole"]
            wanted = "viewer" if before != "viewer" else "admin"
            out = await act(host, "set-user-role", {"id": user["id"], "role": wanted})
            assert out["role"] == wanted
            raw = sandbox.call("GET", f"/Users/{user['id']}")
            assert raw[urn]["loomMemberRole"] == wanted  # where Loom reads it
            await host.run_sync("users")
            saved = {r["id"]: r for r in host.store.records("User")}
            assert saved[user["id"]]["role"] == wanted
            created = await act(host, "create-user", {"email": "r@acme.example", "role": "admin"})
            raw = sandbox.call("GET", f"/Users/{created['id']}")
            assert raw[urn]["loomMemberRole"] == "admin"
        finally:
            host.close()


async def test_a_sync_reads_the_role_the_server_keeps_not_a_stray_top_level_copy(
    tmp_path: Path,
) -> None:
    with Sandbox(seed_users=6, seed=3, profile="workos") as sandbox:
        host = _host(sandbox, tmp_path)
        try:
            user = _active(sandbox)
            kept = user[ROLE_EXTENSION]["loomMemberRole"]
            stray = "viewer" if kept != "viewer" else "admin"
            ops = [{"op": "replace", "path": "loomMemberRole", "value": stray}]
            sandbox.call(
                "PATCH", f"/Users/{user['id']}", {"schemas": [PATCH_OP], "Operations": ops}
            )
            await host.run_sync("users")
            saved = {r["id"]: r for r in host.store.records("User")}
            assert saved[user["id"]]["role"] == kept
        finally:
            host.close()


# -- case 10: Atlassian's X-RateLimit-Reset -----------------------------------------------


async def test_a_sync_waits_out_atlassians_rate_limit_window(tmp_path: Path) -> None:
    sleeps = Sleeps()
    with Sandbox(seed_users=12, seed=3, profile="atlassian") as sandbox:
        sandbox.settings.retry_after_seconds = 30  # longer than the old 7.5 s of backoff
        sandbox.settings.fail_next = [429, 429, 429]

        def factory(conn: LoomConnection) -> LoomScimClient:
            policy = RetryPolicy(sleep=sleeps, rand=lambda: 0.0)
            return LoomScimClient(conn, retry=policy, page_size=5)

        host = LocalHost(
            sandbox_connection(sandbox), store=tmp_path / "s.sqlite3", client_factory=factory
        )
        try:
            report = await host.run_sync("users")
        finally:
            host.close()
    assert report.status == "success"
    assert sleeps.waits and all(w > 25 for w in sleeps.waits)  # until the reset, not 0.5 s


# -- case 11: PATCH add of a member already there ----------------------------------------


async def test_add_group_members_adds_only_the_missing_on_a_server_that_appends(
    tmp_path: Path,
) -> None:
    settings = SandboxSettings(append_duplicate_members=True)
    with Sandbox(seed_users=6, seed=3, settings=settings) as sandbox:
        host = _host(sandbox, tmp_path)
        try:
            a, b = (u["id"] for u in _users(sandbox)[:2])
            gid = (await act(host, "create-group", {"displayName": "T", "memberIds": [a]}))["id"]
            out = await act(host, "add-group-members", {"id": gid, "memberIds": [a, b]})
            assert sorted(out["memberIds"]) == sorted([a, b])
            stored = [m["value"] for m in sandbox.call("GET", f"/Groups/{gid}")["members"]]
            assert sorted(stored) == sorted([a, b])
            out = await act(host, "remove-group-members", {"id": gid, "memberIds": [a, "nobody"]})
            assert out["memberIds"] == [b]
        finally:
            host.close()


# -- the profiles themselves -------------------------------------------------------------


def test_the_profiles_behave_as_documented() -> None:
    with Sandbox(seed_users=3, seed=1, profile="atlassian") as atlassian:
        http = httpx.Client(
            base_url=atlassian.url, headers={"Authorization": f"Bearer {atlassian.token}"}
        )
        assert http.get("/Users", params={"filter": 'emails.value eq "x"'}).status_code == 400
        assert http.get("/Users", params={"filter": 'userName eq "x"'}).status_code == 200
        assert http.get("/Users", params={"count": "500"}).json()["itemsPerPage"] <= 100
        denied = httpx.get(atlassian.url + "/Users").json()
        assert set(denied) == {"error", "traceId"}
        atlassian.settings.fail_next = [429]
        limited = http.get("/Users")
        assert "X-RateLimit-Reset" in limited.headers and "Retry-After" not in limited.headers
    with Sandbox(seed_users=3, seed=1, profile="workos") as workos:
        http = httpx.Client(
            base_url=workos.url, headers={"Authorization": f"Bearer {workos.token}"}
        )
        user = http.get("/Users").json()["Resources"][0]
        bad = {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "active", "value": "false"}],
        }
        assert http.patch(f"/Users/{user['id']}", json=bad).status_code == 400
        dup = {"userName": user["userName"].upper(), "schemas": [user["schemas"][0]]}
        assert http.post("/Users", json=dup).status_code == 409
        group = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "G",
            "members": [{"value": user["id"]}, {"value": "nobody"}],
        }
        made = http.post("/Groups", json=group).json()
        assert [m["value"] for m in made["members"]] == [user["id"]]
        ids = [s["id"] for s in http.get("/Schemas").json()["Resources"]]
        assert ROLE_EXTENSION in ids
