"""Five deliberate mutations of the package that once passed every test; each test here
fails when its mutation is applied (each was checked against a mutated copy).

1. deactivate-user counting only ``active: true`` as "still active".
2. Only PATCH "may have applied" after a 5xx, so a POST that landed is sent again.
3. A loopback check by prefix, letting plain http reach ``localhost.attacker.example``.
4. The member id in ``members[value eq "..."]`` not quoted and escaped.
5. A user deleted, then restored with the same id, coming back UPDATED or UNCHANGED.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from loom_scim_connector import ConfigError, LoomConnection, LoomScimClient, RetryPolicy, no_wait
from loom_scim_connector.errors import ActionError
from loom_scim_connector.host import LocalHost
from loom_scim_connector.store import Action

from .conftest import BASE, SECRET, act, scim
from .simserver import SimServer

Handler = Callable[[httpx.Request], httpx.Response]


def mock_host(handler: Handler, store: Path, **kwargs: Any) -> LocalHost:
    def factory(conn: LoomConnection) -> LoomScimClient:
        return LoomScimClient(
            conn, retry=RetryPolicy(sleep=no_wait), transport=httpx.MockTransport(handler)
        )

    return LocalHost(
        LoomConnection.create(BASE, SECRET), store=store, client_factory=factory, **kwargs
    )


# -- 1. deactivate-user: only active == false is deactivated --------------------------


@pytest.mark.parametrize(
    "read_back",
    [
        pytest.param({"id": "u1", "userName": "a@acme.example"}, id="no-active-attribute"),
        pytest.param({"id": "u1", "userName": "a@acme.example", "active": None}, id="null"),
    ],
)
async def test_deactivate_user_is_not_done_unless_it_reads_back_inactive(
    tmp_path: Path, read_back: dict[str, Any]
) -> None:
    """A user read back without ``active`` (or ``active: null``) is not shown deactivated:
    the account may still have access, so the action fails instead of saying it is done."""
    methods: list[str] = []

    def server(request: httpx.Request) -> httpx.Response:
        methods.append(request.method)
        if request.method == "PATCH":
            return httpx.Response(204)
        return scim(200, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], **read_back})

    host = mock_host(server, tmp_path / "s.sqlite3")
    try:
        with pytest.raises(ActionError, match=r"u1 still reads back as active=None"):
            await act(host, "deactivate-user", {"id": "u1"})
    finally:
        host.close()
    assert methods == ["PATCH", "GET"]


# -- 2. a POST answered 5xx may have landed: look it up before posting again -------------


async def test_a_post_answered_5xx_is_looked_up_before_it_is_sent_again(tmp_path: Path) -> None:
    """The server creates the user, then answers 502 (a gateway timing out, say). The
    retry must not be a second POST: it looks the user up, finds it, and says so."""
    users: dict[str, dict[str, Any]] = {}
    log: list[tuple[str, str, str | None]] = []

    def server(request: httpx.Request) -> httpx.Response:
        log.append((request.method, request.url.path, request.url.params.get("filter")))
        if request.method == "POST":
            body = json.loads(request.content)
            if any(u["userName"] == body["userName"] for u in users.values()):
                return scim(409, {"status": "409", "scimType": "uniqueness"})
            user = {**body, "id": f"id{len(users) + 1}"}
            users[user["id"]] = user
            return scim(502, {"status": "502", "detail": "upstream timed out"})
        if request.url.path.endswith("/Users"):  # a filtered list: userName eq "..."
            wanted = request.url.params["filter"].split('"')[1]
            found = [u for u in users.values() if u["userName"] == wanted]
            return scim(
                200,
                {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": len(found),
                    "Resources": found,
                },
            )
        uid = request.url.path.rsplit("/", 1)[1]
        return scim(200, users[uid]) if uid in users else scim(404, {"status": "404"})

    host = mock_host(server, tmp_path / "s.sqlite3")
    try:
        result = await act(host, "create-user", {"email": "landed@acme.example"})
    finally:
        host.close()
    assert (result["id"], result["outcome"]) == ("id1", "recovered")
    assert [method for method, _, _ in log].count("POST") == 1
    assert log[:2] == [
        ("POST", "/scim/v2/Users", None),
        ("GET", "/scim/v2/Users", 'userName eq "landed@acme.example"'),
    ]


# -- 3. plain http only for real loopback hosts -------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://localhost.attacker.example/scim/v2",
        "http://127.0.0.1.nip.io/scim/v2",
        "http://localhostx/scim/v2",
        "http://127.0.0.10.example.com/scim/v2",
    ],
)
def test_plain_http_is_refused_for_a_host_that_only_starts_like_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="must use https"):
        LoomConnection.create(url, SECRET)
    # The same host over https is fine: it is the plain http that is refused.
    assert LoomConnection.create(url.replace("http://", "https://"), SECRET).base_url


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/scim/v2", "http://localhost/scim/v2", "http://[::1]:9/scim"]
)
def test_plain_http_is_allowed_on_real_loopback(url: str) -> None:
    assert LoomConnection.create(url, SECRET).base_url == url


# -- 4. a member id in a PATCH path is quoted and escaped ----------------------------------


async def test_remove_group_members_escapes_quotes_and_backslashes(tmp_path: Path) -> None:
    patches: list[dict[str, Any]] = []
    members = ['a"b', "c\\d", 'e\\"]f', "plain"]

    def server(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            patches.append(json.loads(request.content))
            return httpx.Response(204)
        listed = ["kept"] if patches else [*members, "kept"]  # only present ones are removed
        return scim(
            200,
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "id": "g1",
                "displayName": "G",
                "members": [{"value": m} for m in listed],
            },
        )

    host = mock_host(server, tmp_path / "s.sqlite3")
    try:
        group = await act(host, "remove-group-members", {"id": "g1", "memberIds": members})
    finally:
        host.close()
    assert group["memberIds"] == ["kept"]
    (patch,) = patches
    assert [op["path"] for op in patch["Operations"]] == [
        r'members[value eq "a\"b"]',
        r'members[value eq "c\\d"]',
        r'members[value eq "e\\\"]f"]',
        'members[value eq "plain"]',
    ]
    assert all(op == {"op": "remove", "path": op["path"]} for op in patch["Operations"])


# -- 5. deleted, then restored with the same id: ADDED ---------------------------------


@pytest.mark.parametrize("changed", [False, True], ids=["same-data", "changed-data"])
async def test_a_user_restored_with_the_same_id_comes_back_added(
    tmp_path: Path, changed: bool
) -> None:
    sim = SimServer.with_users(4)
    seen: list[tuple[Action, str]] = []

    def factory(conn: LoomConnection) -> LoomScimClient:
        return LoomScimClient(
            conn, retry=RetryPolicy(sleep=no_wait), transport=httpx.MockTransport(sim)
        )

    host = LocalHost(
        LoomConnection.create(BASE, SECRET),
        store=tmp_path / "s.sqlite3",
        client_factory=factory,
        on_record=lambda _model, action, record: seen.append((action, str(record["id"]))),
    )
    try:
        uid = sorted(sim.user_ids())[1]
        saved = dict(sim.users[uid])
        sim.start_run()
        assert (await host.run_sync("users")).added == 4
        sim.delete(uid)
        sim.start_run()
        gone = await host.run_sync("users")
        assert gone.deleted == 1 and ("DELETED", uid) in seen
        restored = {**saved, "active": False} if changed else saved
        sim.users[uid] = restored
        sim.listing.append(uid)
        seen.clear()
        sim.start_run()
        back = await host.run_sync("users")
    finally:
        host.close()
    assert (back.added, back.updated, back.unchanged, back.deleted) == (1, 0, 3, 0)
    assert ("ADDED", uid) in seen
    assert all(action == "UNCHANGED" for action, rid in seen if rid != uid)
