"""The connector against django-scim2, a second third-party SCIM server nobody here wrote.

django-scim2 (PyPI ``django-scim2``) is used unmodified, configured in a throwaway
Django project (``tests/djangoscim``): its own user and group models, a fixed bearer
token, SQLite in a temporary folder. ``serve.py`` runs it on 127.0.0.1 (any free port)
in a subprocess, so Django's settings never enter the pytest process; it is seeded
with 250 users (every third with an externalId, every tenth inactive) and 3 groups.

Every check of the server's state reads it back twice over: through django-scim2's own
SCIM endpoints, and through ``/control/state``, which dumps the database rows with
Django's ORM (not through django-scim2's serialization).

What django-scim2 0.23 does not support, the connector must say, classified:
``loomMemberRole`` and the enterprise extension (ignored on POST, 501 on PATCH),
PATCH of ``externalId`` or ``photos`` (501), PATCH of a group's ``displayName`` (501),
PATCH ``remove`` with a ``members[value eq "..."]`` filter (501), ``members`` in a
group POST (silently dropped), and any filter but ``userName`` (an empty list, not 400).
"""

from __future__ import annotations

import io
import os
import select
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from loom_scim_connector import LoomConnection
from loom_scim_connector.cli import EXIT_AUTH, EXIT_NOT_SUPPORTED, EXIT_OK, run
from loom_scim_connector.errors import ActionError, ApiError, NotSupportedError
from loom_scim_connector.host import LocalHost

from .conftest import act, errors_of, fast_factory

TOKEN = "django-scim2-test-token"
REPO = Path(__file__).resolve().parent.parent
SEEDED = 250
START_TIMEOUT = 60.0


@dataclass
class DjangoScim:
    """The running server: its SCIM base URL and its test-only control endpoints."""

    root: str
    token: str = TOKEN

    @property
    def url(self) -> str:
        return f"{self.root}/scim/v2"

    def _http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.root, headers={"Authorization": f"Bearer {self.token}"}, timeout=10
        )

    def scim(self, method: str, path: str, body: Any = None) -> httpx.Response:
        """A raw SCIM request (``path`` under /scim/v2), not through the connector."""
        with self._http() as http:
            return http.request(
                method,
                f"/scim/v2{path}",
                json=body,
                headers={"Content-Type": "application/scim+json"} if body is not None else None,
            )

    def scim_user(self, uid: str) -> dict[str, Any] | None:
        response = self.scim("GET", f"/Users/{uid}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def scim_group(self, gid: str) -> dict[str, Any] | None:
        response = self.scim("GET", f"/Groups/{gid}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return dict(response.json())

    def state(self) -> dict[str, Any]:
        with self._http() as http:
            response = http.get("/control/state")
        response.raise_for_status()
        return dict(response.json())

    def users(self) -> dict[str, dict[str, Any]]:
        """The user rows (ORM), by SCIM id."""
        return {str(u["id"]): u for u in self.state()["users"]}

    def groups(self) -> dict[str, dict[str, Any]]:
        """The group rows (ORM), by SCIM id, members as SCIM ids."""
        rows = self.state()["groups"]
        return {str(g["id"]): {**g, "members": [str(m) for m in g["members"]]} for g in rows}

    def reset(self) -> None:
        with self._http() as http:
            http.post("/control/reset").raise_for_status()

    def restore_user(self, row: dict[str, Any]) -> None:
        with self._http() as http:
            http.post("/control/users", json=row).raise_for_status()


def _read_line(process: subprocess.Popen[bytes], deadline: float) -> str:
    assert process.stdout is not None
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            return process.stdout.readline().decode()
        if process.poll() is not None:
            break
    return ""


@pytest.fixture(scope="module")
def django_scim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DjangoScim]:
    folder = tmp_path_factory.mktemp("django-scim2")
    log = (folder / "server.log").open("wb")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    command = [
        sys.executable,
        "-m",
        "tests.djangoscim.serve",
        "--db",
        str(folder / "db.sqlite3"),
        "--token",
        TOKEN,
    ]
    process = subprocess.Popen(  # noqa: S603
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=log
    )
    try:
        line = _read_line(process, time.monotonic() + START_TIMEOUT)
        if not line.startswith("LISTENING "):
            log.flush()
            problem = (folder / "server.log").read_text()[-3000:]
            raise RuntimeError(f"django-scim2 server did not start: {line!r}\n{problem}")
        yield DjangoScim(f"http://127.0.0.1:{int(line.split()[1])}")
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture
def server(django_scim: DjangoScim) -> DjangoScim:
    """The server, back to its seed (250 users, 3 groups) for each test."""
    django_scim.reset()
    return django_scim


@pytest.fixture
async def host(server: DjangoScim, tmp_path: Path) -> AsyncIterator[LocalHost]:
    local = LocalHost(
        LoomConnection.create(server.url, server.token),
        store=tmp_path / "django.sqlite3",
        client_factory=fast_factory(100),
    )
    yield local
    local.close()


def not_supported(exc: BaseException) -> bool:
    """The connector's classified "this server does not support it" (exit code 7)."""
    return isinstance(exc, NotSupportedError)


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


def cli(server: DjangoScim, monkeypatch: pytest.MonkeyPatch, *argv: str) -> Result:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", server.url)
    monkeypatch.setenv("LOOM_SCIM_API_KEY", server.token)
    monkeypatch.delenv("LOOM_SCIM_API_KEY_EXPIRES_AT", raising=False)
    out, err = io.StringIO(), io.StringIO()
    code = run(list(argv), out=out, err=err, stdin=io.StringIO(""))
    return Result(code, out.getvalue(), errors_of(err.getvalue()))


# -- check -------------------------------------------------------------------------------


def test_check(server: DjangoScim, monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli(server, monkeypatch, "check")
    assert result.code == EXIT_OK, result.err
    assert result.out.startswith(f"OK: {server.url}")
    assert f"users: {SEEDED}" in result.out


def test_check_with_a_wrong_key(server: DjangoScim, monkeypatch: pytest.MonkeyPatch) -> None:
    server_with_bad_key = DjangoScim(server.root, token="not-the-token")
    result = cli(server_with_bad_key, monkeypatch, "check")
    assert result.code == EXIT_AUTH
    assert "FAILED" in result.out and "Regenerate" in result.out
    assert "not-the-token" not in result.out + result.err


# -- syncs -------------------------------------------------------------------------------


async def test_users_sync_reads_every_user_and_tracks_a_deletion(
    server: DjangoScim, tmp_path: Path
) -> None:
    seen: list[tuple[str, str]] = []
    local = LocalHost(
        LoomConnection.create(server.url, server.token),
        store=tmp_path / "users.sqlite3",
        client_factory=fast_factory(100),
        on_record=lambda _model, action, record: seen.append((action, str(record["id"]))),
    )
    try:
        first = await local.run_sync("users")
        assert (first.status, first.added, first.deleted) == ("success", SEEDED, 0)
        assert first.pages >= 3
        rows = server.users()
        synced = {u["id"]: u for u in local.records("User")}
        assert set(synced) == set(rows)
        for uid, row in rows.items():
            record = synced[uid]
            assert record["email"] == row["email"]
            assert (record["firstName"], record["lastName"]) == (
                row["first_name"],
                row["last_name"],
            )
            assert record["active"] is row["is_active"]
            assert record["externalId"] == row["external_id"]
        assert sum(1 for u in synced.values() if u["externalId"]) == SEEDED // 3
        assert sum(1 for u in synced.values() if u["active"] is False) == SEEDED // 10

        # Deleted on the server, behind the connector's back: DELETED after a lookup.
        gone = rows["42"]
        assert server.scim("DELETE", "/Users/42").status_code == 204
        seen.clear()
        second = await local.run_sync("users")
        assert (second.status, second.deleted, second.candidates) == ("success", 1, 1)
        assert (second.added, second.updated, second.unchanged) == (0, 0, SEEDED - 1)
        assert ("DELETED", "42") in seen
        stored = {u["id"]: u for u in local.records("User", include_deleted=True)}
        assert "_deletedAt" in stored["42"]
        assert "42" not in {u["id"] for u in local.records("User")}

        # Restored with the same id: it comes back ADDED, not UPDATED or UNCHANGED.
        server.restore_user(gone)
        assert server.scim_user("42") is not None
        seen.clear()
        third = await local.run_sync("users")
        assert (third.added, third.updated, third.deleted) == (1, 0, 0)
        assert ("ADDED", "42") in seen
        assert "42" in {u["id"] for u in local.records("User")}
    finally:
        local.close()


@pytest.mark.parametrize("page_size", ["100", "7"])
def test_the_cli_sync_reads_every_user_and_says_success_only_then(
    server: DjangoScim, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, page_size: str
) -> None:
    """Complete or not success, against a server nobody here wrote: django-scim2 pages by
    startIndex and counts truly, so the walk reads all 250 and ends in success (the
    stricter end of a walk must not call a real server's listing incomplete)."""
    store = str(tmp_path / "cli.sqlite3")
    result = cli(server, monkeypatch, "sync", "users", "--store", store, "--page-size", page_size)
    assert result.code == EXIT_OK, result.err
    assert len(result.out.splitlines()) == SEEDED
    assert "incomplete" not in result.err


async def test_groups_sync_reads_every_group_with_members(
    server: DjangoScim, host: LocalHost
) -> None:
    report = await host.run_sync("groups")
    assert (report.status, report.added) == ("success", 3)
    rows = server.groups()
    synced = {g["id"]: g for g in host.records("Group")}
    assert set(synced) == set(rows)
    for gid, row in rows.items():
        assert synced[gid]["displayName"] == row["name"]
        assert synced[gid]["externalId"] == row["external_id"]
        assert sorted(synced[gid]["memberIds"]) == sorted(row["members"])
    assert sorted(len(g["memberIds"]) for g in synced.values()) == [3, 10, 20]

    assert server.scim("DELETE", f"/Groups/{next(iter(rows))}").status_code == 204
    again = await host.run_sync("groups")
    assert (again.deleted, again.unchanged) == (1, 2)


# -- user actions ------------------------------------------------------------------------


async def test_create_user_then_again(server: DjangoScim, host: LocalHost) -> None:
    created = await act(
        host,
        "create-user",
        {
            "email": "new.hire@acme.example",
            "firstName": "New",
            "lastName": "Hire",
            "externalId": "00uNEWHIRE",
        },
    )
    assert created["outcome"] == "created"
    row = server.users()[created["id"]]
    assert row == {
        **row,
        "username": "new.hire@acme.example",
        "email": "new.hire@acme.example",
        "first_name": "New",
        "last_name": "Hire",
        "is_active": True,
        "external_id": "00uNEWHIRE",
    }
    assert len(server.users()) == SEEDED + 1

    # A 409 (username is unique), found by the userName filter: brought to the new names.
    again = await act(host, "create-user", {"email": "new.hire@acme.example", "firstName": "Neu"})
    assert (again["id"], again["outcome"]) == (created["id"], "existed")
    assert server.users()[created["id"]]["first_name"] == "Neu"
    assert len(server.users()) == SEEDED + 1


async def test_create_user_never_reactivates_by_accident(
    server: DjangoScim, host: LocalHost
) -> None:
    # user10 is seeded inactive.
    left = await act(host, "create-user", {"email": "user10@acme.example", "firstName": "X"})
    assert (left["id"], left["outcome"]) == ("10", "exists_deactivated")
    assert server.users()["10"]["is_active"] is False
    assert server.users()["10"]["first_name"] == "First10"
    back = await act(host, "create-user", {"email": "user10@acme.example", "reactivate": True})
    assert back["outcome"] == "reactivated"
    assert server.users()["10"]["is_active"] is True


async def test_create_user_with_a_role_says_the_user_was_created(
    server: DjangoScim, host: LocalHost
) -> None:
    """django-scim2 ignores loomMemberRole on POST: the user exists, the role is not set."""
    with pytest.raises(ActionError) as caught:
        await act(host, "create-user", {"email": "role@acme.example", "role": "creator"})
    created = [u for u in server.users().values() if u["username"] == "role@acme.example"]
    assert len(created) == 1
    message = str(caught.value)
    assert created[0]["id"] is not None and f"user {created[0]['id']}" in message
    assert "creator" in message


async def test_create_user_with_an_employee_number_says_it_was_not_kept(
    server: DjangoScim, host: LocalHost
) -> None:
    """The enterprise extension is ignored on POST: said, with the created user's id."""
    with pytest.raises(ActionError) as caught:
        await act(host, "create-user", {"email": "emp@acme.example", "employeeNumber": "E7"})
    (row,) = [u for u in server.users().values() if u["username"] == "emp@acme.example"]
    message = str(caught.value)
    assert f"(id {row['id']})" in message and "employeeNumber" in message


async def test_get_and_find_user(server: DjangoScim, host: LocalHost) -> None:
    row = server.users()["3"]
    user = await act(host, "get-user", {"id": "3"})
    assert (user["id"], user["email"], user["externalId"]) == ("3", row["email"], "00u0000003")
    found = await act(host, "find-user", {"email": "user7@acme.example"})
    assert found["found"] is True and found["user"]["id"] == "7"
    missing = await act(host, "find-user", {"email": "nobody@acme.example"})
    assert (missing["found"], missing["user"], missing["users"]) == (False, None, [])
    assert missing["complete"] is True and "userName eq" in missing["searched"]


async def test_update_user_names_and_email(server: DjangoScim, host: LocalHost) -> None:
    updated = await act(
        host,
        "update-user",
        {"id": "5", "email": "renamed5@acme.example", "firstName": "Ada", "lastName": "Byron"},
    )
    assert (updated["email"], updated["firstName"], updated["lastName"]) == (
        "renamed5@acme.example",
        "Ada",
        "Byron",
    )
    row = server.users()["5"]
    assert (row["username"], row["email"], row["first_name"], row["last_name"]) == (
        "renamed5@acme.example",
        "renamed5@acme.example",
        "Ada",
        "Byron",
    )
    scim = server.scim_user("5")
    assert scim is not None and scim["userName"] == "renamed5@acme.example"


@pytest.mark.parametrize(
    ("field", "value"),
    [("externalId", "00uCHANGED"), ("employeeNumber", "E5"), ("photoUrl", "https://x.example/p")],
)
async def test_update_user_attribute_the_server_does_not_support(
    server: DjangoScim, host: LocalHost, field: str, value: str
) -> None:
    before = server.users()["6"]
    with pytest.raises(ApiError) as caught:
        await act(host, "update-user", {"id": "6", "firstName": "Changed", field: value})
    assert not_supported(caught.value), repr(caught.value)
    assert caught.value.attempts == 1
    # The PATCH runs in one transaction: the supported firstName was not applied either.
    assert server.users()["6"] == before


def test_update_user_not_supported_exit_code(
    server: DjangoScim, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = cli(
        server,
        monkeypatch,
        "action",
        "update-user",
        "--input",
        '{"id": "6", "externalId": "00uCHANGED"}',
    )
    assert result.code == EXIT_NOT_SUPPORTED, result.err
    assert "externalId" in result.err and "not supported" in result.err
    assert result.err.count("\n") == 1  # one line


async def test_set_user_role_says_it_cannot_tell_where_the_role_lives(
    server: DjangoScim, host: LocalHost
) -> None:
    """django-scim2 declares no loomMemberRole and its users carry none: nothing is sent."""
    before = server.users()["8"]
    with pytest.raises(ActionError) as caught:
        await act(host, "set-user-role", {"id": "8", "role": "admin"})
    assert "cannot tell where this server keeps loomMemberRole" in str(caught.value)
    assert server.users()["8"] == before


async def test_deactivate_reactivate_and_delete_user(server: DjangoScim, host: LocalHost) -> None:
    off = await act(host, "deactivate-user", {"id": "11"})
    assert (off["outcome"], off["user"]["active"]) == ("deactivated", False)
    assert server.users()["11"]["is_active"] is False
    scim = server.scim_user("11")
    assert scim is not None and scim["active"] is False

    on = await act(host, "reactivate-user", {"id": "11"})
    assert on["active"] is True
    assert server.users()["11"]["is_active"] is True

    assert await act(host, "delete-user", {"id": "11"}) == {
        "id": "11",
        "outcome": "deleted",
        "user": None,
    }
    assert "11" not in server.users()
    assert server.scim_user("11") is None
    assert (await act(host, "delete-user", {"id": "11"}))["outcome"] == "already_gone"
    assert (await act(host, "deactivate-user", {"id": "11"}))["outcome"] == "already_gone"
    assert len(server.users()) == SEEDED - 1


# -- group actions -----------------------------------------------------------------------


async def test_create_group_repairs_the_members_the_server_dropped(
    server: DjangoScim, host: LocalHost
) -> None:
    """django-scim2 ignores ``members`` in a group POST; the connector adds them."""
    group = await act(
        host, "create-group", {"displayName": "Loom Editors", "memberIds": ["20", "21", "22"]}
    )
    assert sorted(group["memberIds"]) == ["20", "21", "22"]
    row = server.groups()[group["id"]]
    assert (row["name"], row["members"]) == ("Loom Editors", ["20", "21", "22"])
    scim = server.scim_group(group["id"])
    assert scim is not None
    assert sorted(m["value"] for m in scim["members"]) == ["20", "21", "22"]


async def test_create_group_that_exists_is_found_without_a_filter(
    server: DjangoScim, host: LocalHost
) -> None:
    """A 409 (the name is unique); django-scim2 answers the displayName filter with an
    empty list, so the connector scans the collection, then adds the missing member."""
    admins = next(g for g in server.groups().values() if g["name"] == "Loom Admins")
    group = await act(host, "create-group", {"displayName": "Loom Admins", "memberIds": ["99"]})
    assert group["id"] == str(admins["id"])
    assert server.groups()[group["id"]]["members"] == ["1", "2", "3", "99"]
    assert len(server.groups()) == 3


async def test_create_group_whose_members_cannot_be_added_names_them(
    server: DjangoScim, host: LocalHost
) -> None:
    with pytest.raises(ActionError) as caught:
        await act(host, "create-group", {"displayName": "Ghosts", "memberIds": ["7", "99999"]})
    (row,) = [g for g in server.groups().values() if g["name"] == "Ghosts"]
    message = str(caught.value)
    assert f"id {row['id']}" in message and "99999" in message
    assert row["members"] == []  # django-scim2 adds all of a PATCH's members, or none


async def test_add_group_members(server: DjangoScim, host: LocalHost) -> None:
    group = await act(host, "add-group-members", {"id": "2", "memberIds": ["200", "201"]})
    expected = sorted([*(str(i) for i in range(4, 14)), "200", "201"])
    assert sorted(group["memberIds"]) == expected
    assert sorted(server.groups()["2"]["members"]) == expected


async def test_remove_group_members_is_not_supported(server: DjangoScim, host: LocalHost) -> None:
    before = server.groups()["1"]
    with pytest.raises(ApiError) as caught:
        await act(host, "remove-group-members", {"id": "1", "memberIds": ["2"]})
    assert not_supported(caught.value), repr(caught.value)
    assert 'members[value eq "2"]' in str(caught.value)
    assert server.groups()["1"] == before


async def test_rename_group_is_not_supported(server: DjangoScim, host: LocalHost) -> None:
    before = server.groups()["3"]
    with pytest.raises(ApiError) as caught:
        await act(host, "rename-group", {"id": "3", "displayName": "Loom Watchers"})
    assert not_supported(caught.value), repr(caught.value)
    assert "displayName" in str(caught.value)
    assert server.groups()["3"] == before


async def test_delete_group(server: DjangoScim, host: LocalHost) -> None:
    assert await act(host, "delete-group", {"id": "3"}) == {"id": "3", "outcome": "deleted"}
    assert "3" not in server.groups()
    assert server.scim_group("3") is None
    assert len(server.users()) == SEEDED  # its members are untouched
    assert (await act(host, "delete-group", {"id": "3"}))["outcome"] == "already_gone"


def test_what_django_scim2_does_not_support_seen_without_the_connector(
    server: DjangoScim,
) -> None:
    """The server's gaps, with raw requests: what the tests above expect the connector
    to repair (dropped members, an empty list for a filter) or to report as such."""
    group_schema = "urn:ietf:params:scim:schemas:core:2.0:Group"
    posted = server.scim(
        "POST",
        "/Groups",
        {"schemas": [group_schema], "displayName": "Raw", "members": [{"value": "5"}]},
    )
    assert posted.status_code == 201 and posted.json()["members"] == []
    for query in ('displayName eq "Loom Admins"', 'externalId eq "grp0"'):
        listed = server.scim("GET", f"/Groups?startIndex=1&count=10&filter={query}")
        assert (listed.status_code, listed.json()["totalResults"]) == (200, 0)
    listed = server.scim("GET", '/Users?startIndex=1&count=10&filter=emails.value eq "x"')
    assert (listed.status_code, listed.json()["Resources"]) == (200, [])
    user_schema = "urn:ietf:params:scim:schemas:core:2.0:User"
    created = server.scim(
        "POST",
        "/Users",
        {"schemas": [user_schema], "userName": "raw@acme.example", "loomMemberRole": "admin"},
    )
    assert created.status_code == 201 and "loomMemberRole" not in created.json()
    patch_schema = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    for resource, path in (
        ("/Users/2", "externalId"),
        ("/Users/2", "loomMemberRole"),
        ("/Users/2", "photos"),
        ("/Groups/1", "displayName"),
        ("/Groups/1", 'members[value eq "1"]'),
    ):
        op = {"op": "remove" if path.startswith("members") else "replace", "path": path}
        if op["op"] == "replace":
            op["value"] = "x"
        answer = server.scim("PATCH", resource, {"schemas": [patch_schema], "Operations": [op]})
        assert answer.status_code == 501, (path, answer.status_code, answer.text)


def test_django_stays_out_of_the_pytest_process(server: DjangoScim) -> None:
    """The server runs in its own process: Django is never set up in here. (Its package
    may be imported: Celery, for the fleet, imports parts of it when it is installed.)"""
    assert "DJANGO_SETTINGS_MODULE" not in os.environ
    assert "django_scim" not in sys.modules and "tests.djangoscim.settings" not in sys.modules
    conf = sys.modules.get("django.conf")
    assert conf is None or not conf.settings.configured


# -- the SCIM state read two ways agrees -----------------------------------------------


def test_the_two_views_of_the_server_agree(server: DjangoScim) -> None:
    """The ORM dump and django-scim2's own endpoints say the same (guards the helpers)."""
    response = server.scim("GET", "/Users?startIndex=1&count=1000")
    listed = {r["id"]: r for r in response.json()["Resources"]}
    assert set(listed) == set(server.users())
    assert listed["30"]["active"] is False and listed["30"]["externalId"] == "00u0000030"
    groups = server.scim("GET", "/Groups?startIndex=1&count=10").json()["Resources"]
    assert {g["id"]: sorted(m["value"] for m in g["members"]) for g in groups} == {
        gid: sorted(g["members"]) for gid, g in server.groups().items()
    }
