"""``loom-scim mcp`` attacked from outside, as a hostile client or a careless agent would:
confirmation tokens replayed, forged or outlived by a change in Loom, files read off
the server's machine, a client name that forges the evidence, malformed input. Each
test names the guarantee; the server is reached through the official SDK's client.
See tests/test_mcp.py for the guarantees used as intended.
"""

from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp_types import Implementation

from loom_scim_connector import LoomConnection
from loom_scim_connector.host.local import open_store
from loom_scim_connector.mcp import Options, build_server
from loom_scim_connector.mcp._budget import ChangeBudget
from loom_scim_connector.sandbox import Sandbox

from .conftest import cli
from .mcp_wire import CLIENT, data, error, http_server, server_env

SECRET_IN_FILE = "not-the-loom-key-SECRET-0123456789"


def _server(sandbox: Sandbox, tmp_path: Path, **options: Any) -> Any:
    connection = LoomConnection.create(sandbox.url, sandbox.token)
    return build_server(Options({"demo": connection}, store=tmp_path / "store.sqlite3", **options))


def _scim(sandbox: Sandbox, method: str, path: str, body: Any = None) -> dict[str, Any]:
    """A change made in Loom behind the MCP server's back (another admin, the IdP)."""
    response = httpx.request(
        method,
        f"{sandbox.url}{path}",
        json=body,
        headers={"Authorization": f"Bearer {sandbox.token}"},
    )
    response.raise_for_status()
    return dict(response.json()) if response.content else {}


def _active(sandbox: Sandbox, user_id: str) -> bool:
    return bool(_scim(sandbox, "GET", f"/Users/{user_id}").get("active"))


def _replace(sandbox: Sandbox, user_id: str, value: dict[str, Any]) -> None:
    patch = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": value}],
    }
    _scim(sandbox, "PATCH", f"/Users/{user_id}", patch)


# -- confirmation tokens ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "\u00b2.nonce.mac",  # a superscript two: str.isdigit() says yes, int() says no
        "9" * 5000 + ".nonce.mac",  # past Python's int-from-text limit
        "\u0661\u0662.nonce.mac",  # Arabic-Indic digits
        "..",
        "1." + "x" * 100_000 + ".mac",
    ],
)
async def test_a_malformed_token_is_bad_input_naming_confirm(
    sandbox: Sandbox, tmp_path: Path, token: str
) -> None:
    user_id = sandbox.seeded["all"][0]
    async with Client(_server(sandbox, tmp_path), client_info=CLIENT) as client:
        refused = error(
            await client.call_tool("deactivate-user", {"id": user_id, "confirm": token})
        )
    assert refused["class"] == "bad_input" and set(refused["fields"]) == {"confirm"}
    assert "nothing was changed" in refused["fields"]["confirm"]
    assert _active(sandbox, user_id)


async def test_a_token_from_another_server_process_confirms_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    user_id = sandbox.seeded["all"][0]
    async with Client(_server(sandbox, tmp_path), client_info=CLIENT) as client:
        token = data(await client.call_tool("deactivate-user", {"id": user_id}))["confirm"]
    restarted = _server(sandbox, tmp_path)  # the same store and connection, a new process
    async with Client(restarted, client_info=CLIENT) as client:
        refused = error(
            await client.call_tool("deactivate-user", {"id": user_id, "confirm": token})
        )
    assert "does not match" in refused["fields"]["confirm"] and _active(sandbox, user_id)


async def test_a_token_is_refused_when_the_person_behind_the_id_changed(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Between plan and confirm, the account's email changes (the id now names someone
    else), or a deactivated account is reactivated: the plan no longer describes it."""
    renamed, reactivated = sandbox.seeded["all"][:2]
    _replace(sandbox, reactivated, {"active": False})
    async with Client(_server(sandbox, tmp_path), client_info=CLIENT) as client:
        off = data(await client.call_tool("deactivate-user", {"id": renamed}))
        gone = data(await client.call_tool("delete-user", {"id": reactivated}))
        assert gone["plan"]["current"]["active"] is False
        _replace(sandbox, renamed, {"userName": "someone.else@example.com"})
        _replace(sandbox, reactivated, {"active": True})
        for tool, user_id, token in [
            ("deactivate-user", renamed, off["confirm"]),
            ("delete-user", reactivated, gone["confirm"]),
        ]:
            refused = error(await client.call_tool(tool, {"id": user_id, "confirm": token}))
            assert "changed since it was planned" in refused["fields"]["confirm"]
    assert _active(sandbox, renamed) and _active(sandbox, reactivated)


async def test_a_create_is_refused_when_an_account_with_the_email_appeared(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    email = "new.hire@example.com"
    async with Client(_server(sandbox, tmp_path), client_info=CLIENT) as client:
        plan = data(await client.call_tool("create-user", {"email": email}))
        assert plan["plan"]["current"] == {"accountsWithThisEmail": []}
        _scim(
            sandbox,
            "POST",
            "/Users",
            {
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "New.Hire@Example.com",  # the same person by the identity rule
                "active": True,
            },
        )
        refused = error(
            await client.call_tool("create-user", {"email": email, "confirm": plan["confirm"]})
        )
    assert "changed since it was planned" in refused["fields"]["confirm"]


# -- files on the server's machine -----------------------------------------------------------


def _roster(path: Path, emails: list[str]) -> Path:
    path.write_text("email,status\n" + "".join(f"{e},active\n" for e in emails))
    return path


@pytest.mark.parametrize("where", ["environ", "dotenv", "symlink", "dotdot", "nul", "unset"])
async def test_a_roster_outside_the_roster_directory_is_never_read(
    sandbox: Sandbox, tmp_path: Path, where: str
) -> None:
    """The read tools take a path from the model: without a fence, /proc/self/environ
    or a .env file is read and its lines come back in the parse error."""
    rosters = tmp_path / "rosters"
    rosters.mkdir()
    outside = tmp_path / ".env"
    outside.write_text(f"email,status\nx@example.com,{SECRET_IN_FILE}\n")
    (rosters / "link.csv").symlink_to(outside)
    path = {
        "environ": "/proc/self/environ",
        "dotenv": str(outside),
        "symlink": str(rosters / "link.csv"),
        "dotdot": str(rosters / ".." / ".env"),
        "nul": str(rosters / "a\x00.csv"),
        "unset": str(_roster(rosters / "okta.csv", ["a@example.com"])),
    }[where]
    dirs = () if where == "unset" else (rosters,)
    os.environ["LOOM_SCIM_HOSTILE_PROBE"] = SECRET_IN_FILE  # for /proc/self/environ
    try:
        async with Client(_server(sandbox, tmp_path, roster_dirs=dirs), client_info=CLIENT) as c:
            for tool in ("reconcile-roster", "access-review"):
                refused = error(await c.call_tool(tool, {"roster": path}))
                assert refused["class"] == "bad_input" and set(refused["fields"]) == {"roster"}
                assert "SECRET" not in str(refused).upper()
            refused = error(
                await c.call_tool(
                    "reconcile-roster",
                    {"roster": str(_roster(rosters / "r.csv", [])), "roleMap": path},
                )
            )
            assert "roleMap" in refused["fields"]
    finally:
        del os.environ["LOOM_SCIM_HOSTILE_PROBE"]


async def test_a_roster_inside_the_roster_directory_is_read(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    rosters = tmp_path / "rosters"
    rosters.mkdir()
    _roster(rosters / "okta.csv", ["a@example.com"])
    async with Client(_server(sandbox, tmp_path, roster_dirs=(rosters,)), client_info=CLIENT) as c:
        data(await c.call_tool("sync-users", {}))
        for path in (str(rosters / "okta.csv"), "okta.csv"):  # relative: to the directory
            found = data(await c.call_tool("reconcile-roster", {"roster": path}))
            assert found["result"]["roster"].startswith("okta.csv")


def test_a_roster_directory_that_is_not_one_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", "http://127.0.0.1:9/scim/v2")
    monkeypatch.setenv("LOOM_SCIM_API_KEY", "the-loom-key-0123456789")
    code, _, err = cli("mcp", "--roster-dir", str(tmp_path / "nowhere"))
    assert code == 2 and "--roster-dir" in err and len(err.strip().splitlines()) == 1, err


# -- the evidence's actor --------------------------------------------------------------------


async def test_a_client_name_cannot_forge_or_garble_the_evidence(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The actor is the client's own name: it may say anything, but no control or
    format character (an ANSI escape, NUL, a right-to-left override, a line break) may
    reach the evidence a person reads, and it stays under ``mcp:``."""
    name = "cli:root\n\x1b[2K\x1b[1A\x00admin\u202egnp.exe\u200b\r\x07"
    user_id = sandbox.seeded["all"][0]
    store = tmp_path / "store.sqlite3"
    liar = Implementation(name=name, version="1")
    async with Client(_server(sandbox, tmp_path), client_info=liar) as client:
        plan = data(await client.call_tool("deactivate-user", {"id": user_id}))
        data(await client.call_tool("deactivate-user", {"id": user_id, "confirm": plan["confirm"]}))
    actors = {e.actor for e in open_store(str(store), sandbox.url).evidence(user_id=user_id)}
    assert len(actors) == 1
    actor = actors.pop()
    assert actor.startswith("mcp:cli:root ")
    assert not [c for c in actor if unicodedata.category(c).startswith("C")], repr(actor)
    code, said, _ = cli("evidence", "verify", "--store", str(store))
    assert code == 0, said


# -- over HTTP: who may call at all ----------------------------------------------------------


def test_http_refuses_every_request_without_the_token_and_echoes_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    token = "mcp-token-HOSTILE-0123456789abcdef"
    env = server_env(sandbox.url, sandbox.token, LOOM_SCIM_MCP_TOKEN=token)
    hello = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "x", "version": "1"},
        },
    }
    accept = {"Accept": "application/json, text/event-stream"}
    with http_server(env, "--store", str(tmp_path / "s.sqlite3"), errlog=tmp_path / "err") as url:
        good = {**accept, "Authorization": f"Bearer {token}"}
        for headers, query, status in [
            (accept, "", 401),
            ({**accept, "Authorization": f"Bearer {token[:-1]}"}, "", 401),
            ({**accept, "Authorization": token}, "", 401),
            (accept, f"?token={token}&access_token={token}", 401),
            ({**good, "Host": "attacker.example"}, "", 421),  # DNS rebinding
            ({**good, "Origin": "http://attacker.example"}, "", 403),
        ]:
            response = httpx.post(url + query, json=hello, headers=headers)
            assert response.status_code == status
            echoed = response.text + str(response.headers)
            assert token not in echoed and sandbox.token not in echoed
        assert httpx.post(url, json=hello, headers=good).status_code == 200
    assert token not in (tmp_path / "err").read_text()


# -- a server that sends what it should not --------------------------------------------------


async def test_a_token_for_an_unreadable_account_is_refused_once_the_account_changed(
    tmp_path: Path,
) -> None:
    """An account Loom sends that cannot be read as a record (here ``active`` is text)
    is planned as 'unreadable' and why: the reason stays the same when its email
    changes, so the plan must bind the record itself, or the token confirms a change
    to whoever the id names by then."""
    from .hostile_server import Hostile, serve, user

    key = "hostile-loom-key-0123456789"
    state = Hostile(tenants={key: [user("u1", "alice@example.com", active="maybe")]})
    with serve(state) as url:
        server = build_server(
            Options({"demo": LoomConnection.create(url, key)}, store=tmp_path / "s.sqlite3")
        )
        async with Client(server, client_info=CLIENT) as client:
            plan = data(await client.call_tool("deactivate-user", {"id": "u1"}))
            assert "unreadable" in plan["plan"]["current"]
            account = state.tenants[key][0]
            account.update(userName="mallory@example.com")
            account["emails"] = [{"value": "mallory@example.com", "primary": True}]
            refused = error(
                await client.call_tool("deactivate-user", {"id": "u1", "confirm": plan["confirm"]})
            )
    assert "changed since it was planned" in refused["fields"]["confirm"]
    assert not [line for line in state.log if line.startswith("PATCH")]


@pytest.mark.parametrize("form", ["raw", "json", "percent", "base64"])
async def test_a_server_that_echoes_the_authorization_header_leaks_nothing(
    tmp_path: Path, form: str
) -> None:
    import base64
    import json
    from urllib.parse import quote

    from .hostile_server import Hostile, serve, user

    key = "hostile/Loom+key=0123456789"
    echo = {
        "raw": f"Bearer {key}",
        "json": json.dumps(f"Bearer {key}", ensure_ascii=True)[1:-1].replace("/", "\\/"),
        "percent": quote(f"Bearer {key}", safe=""),
        "base64": base64.b64encode(f"Authorization: Bearer {key}".encode()).decode(),
    }[form]
    state = Hostile(tenants={key: [user("u1", "alice@example.com", title=echo)]})

    def hook(method: str, path: str, query: Any, token: str, body: Any) -> Any:
        if method == "PATCH":
            return 400, {"status": "400", "detail": f"bad request with {echo}", "echo": echo}
        return None

    state.hook = hook
    with serve(state) as url:
        server = build_server(
            Options({"demo": LoomConnection.create(url, key)}, store=tmp_path / "s.sqlite3")
        )
        async with Client(server, client_info=CLIENT) as client:
            said = [
                await client.call_tool("get-user", {"id": "u1"}),
                await client.call_tool("get-member", {"id": "u1"}),
                await client.call_tool("sync-users", {}),
            ]
            plan = data(await client.call_tool("update-user", {"id": "u1", "firstName": "A"}))
            said.append(
                await client.call_tool(
                    "update-user", {"id": "u1", "firstName": "A", "confirm": plan["confirm"]}
                )
            )
    for result in said:
        text = result.model_dump_json(by_alias=True)
        for needle in (key, quote(key, safe=""), echo if form != "raw" else key):
            assert needle not in text, (form, text[:300])


# -- how much one call may change ------------------------------------------------------------


async def test_deleting_a_group_counts_each_member_it_takes_access_from(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """--max-changes 2 refuses removing three members from a group; deleting the group
    takes the same three people's access (in Loom a group is a role) in one call."""
    ids = sandbox.seeded["all"][:3]
    async with Client(_server(sandbox, tmp_path, max_changes=3), client_info=CLIENT) as client:
        made = {"displayName": "Leads", "memberIds": ids}
        plan = data(await client.call_tool("create-group", made))
        done = data(await client.call_tool("create-group", {**made, "confirm": plan["confirm"]}))
        group_id = done["result"]["id"]
    async with Client(_server(sandbox, tmp_path, max_changes=2), client_info=CLIENT) as client:
        removal = {"id": group_id, "memberIds": ids}
        refused = error(await client.call_tool("remove-group-members", removal))
        assert "3 changes, more than 2" in refused["message"]
        refused = error(await client.call_tool("delete-group", {"id": group_id}))
        assert refused["class"] == "bad_input"
        assert "3 changes, more than 2: nothing was changed" in refused["message"]
    assert sorted(_scim(sandbox, "GET", f"/Groups/{group_id}").get("members", []), key=str)


async def test_many_small_calls_stop_at_the_servers_total(sandbox: Sandbox, tmp_path: Path) -> None:
    """--max-changes bounds a call; an agent redeeming its own tokens could still
    deactivate the whole workspace one confirmed call at a time. --max-total-changes 2:
    the third deactivation gets no token and changes nothing."""
    ids = [user_id for user_id in sandbox.seeded["all"] if _active(sandbox, user_id)][:3]
    server = _server(sandbox, tmp_path, budget=ChangeBudget(2))
    async with Client(server, client_info=CLIENT) as client:
        for user_id in ids[:2]:
            token = data(await client.call_tool("deactivate-user", {"id": user_id}))["confirm"]
            await client.call_tool("deactivate-user", {"id": user_id, "confirm": token})
        refused = error(await client.call_tool("deactivate-user", {"id": ids[2]}))
    assert refused["class"] == "bad_input"
    assert "this server may make 0 more (2 of 2 made since it started)" in refused["message"]
    assert [_active(sandbox, user_id) for user_id in ids] == [False, False, True]


async def test_a_token_issued_within_the_total_is_refused_once_it_is_spent(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Two plans issued while one change was left: the first confirmed acts, the second
    is refused at its confirm, before anything is sent."""
    first, second = [u for u in sandbox.seeded["all"] if _active(sandbox, u)][:2]
    server = _server(sandbox, tmp_path, budget=ChangeBudget(1))
    async with Client(server, client_info=CLIENT) as client:
        one = data(await client.call_tool("deactivate-user", {"id": first}))["confirm"]
        two = data(await client.call_tool("deactivate-user", {"id": second}))["confirm"]
        await client.call_tool("deactivate-user", {"id": first, "confirm": one})
        refused = error(await client.call_tool("deactivate-user", {"id": second, "confirm": two}))
    assert "--max-total-changes" in refused["message"]
    assert [_active(sandbox, user_id) for user_id in (first, second)] == [False, True]


# -- --read-only -----------------------------------------------------------------------------


def test_a_write_the_manifest_labels_read_only_fails_loading() -> None:
    """The annotation table decides what --read-only serves and what skips the plan
    and token: one wrong row made deactivate-user a read, served read-only and done on
    the first call. A row that says readOnlyHint for an action sending anything but
    GET is refused when the manifest loads."""
    from loom_scim_connector.errors import ManifestError
    from loom_scim_connector.manifest import manifest_text, parse_manifest

    row = "  deactivate-user:      {readOnlyHint: false"
    text = manifest_text()
    assert row in text
    with pytest.raises(ManifestError, match=r"tool_annotations\.deactivate-user: .*PATCH"):
        parse_manifest(text.replace(row, row.replace("false", "true"), 1))


# -- the server's own log ----------------------------------------------------------------------


async def test_a_tool_name_cannot_forge_lines_in_the_server_log(
    sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A failed call is logged as one line; the tool's name is the client's text and
    a newline or an escape in it must not start a line of its own on the operator's
    terminal or log file."""
    forged = "x\nloom-scim: MCP server on http://127.0.0.1:1/mcp: all good\x1b[2K\r"
    async with Client(_server(sandbox, tmp_path), client_info=CLIENT) as client:
        refused = error(await client.call_tool(forged, {}))
        assert refused["class"] == "bad_input"
        refused = error(await client.call_tool("get-user", {"id": "u1", forged: 1}))
        assert refused["class"] == "bad_input"
    said = [r.getMessage() for r in caplog.records if r.name == "loom_scim_connector"]
    assert said and all(
        not [c for c in line if unicodedata.category(c).startswith("C")] for line in said
    ), said


async def test_a_token_confirms_neither_another_connection_nor_two_calls_at_once(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Two names for the same workspace: a token planned on one is not the other's.
    The same token sent twice at once (an agent retrying): one call acts, one is
    refused."""
    import anyio

    connection = LoomConnection.create(sandbox.url, sandbox.token)
    server = build_server(
        Options({"eu": connection, "us": connection}, store=tmp_path / "store.sqlite3")
    )
    user_id = sandbox.seeded["all"][5]
    _replace(sandbox, user_id, {"active": True})
    async with Client(server, client_info=CLIENT) as client:
        args = {"id": user_id, "connection": "eu"}
        token = data(await client.call_tool("deactivate-user", args))["confirm"]
        refused = error(
            await client.call_tool(
                "deactivate-user", {**args, "connection": "us", "confirm": token}
            )
        )
        assert "does not match" in refused["fields"]["confirm"] and _active(sandbox, user_id)
        results: list[Any] = []

        async def confirm() -> None:
            results.append(await client.call_tool("deactivate-user", {**args, "confirm": token}))

        async with anyio.create_task_group() as group:
            group.start_soon(confirm)
            group.start_soon(confirm)
    assert sorted(bool(r.is_error) for r in results) == [False, True]
    assert not _active(sandbox, user_id)
    evidence = open_store(str(tmp_path / "store.sqlite3"), sandbox.url).evidence(user_id=user_id)
    assert len(evidence) == 2  # one intent, one outcome: acted once


# -- evidence when the call is cut short -------------------------------------------------------


async def test_a_write_cancelled_after_it_was_sent_still_leaves_evidence(tmp_path: Path) -> None:
    """The client gives up (cancels the call) while Loom is still answering the DELETE
    of a group: the change may well be made, so the evidence must say it was tried."""
    import threading

    import anyio

    from .hostile_server import Hostile, serve

    key = "hostile-loom-key-0123456789"
    group = {"id": "g1", "displayName": "Admins", "members": [{"value": "u1"}]}
    state = Hostile(tenants={key: []})
    release = threading.Event()

    def hook(method: str, path: str, query: Any, token: str, body: Any) -> Any:
        if path == "/Groups/g1" and method == "GET":
            return 200, group
        if path == "/Groups/g1" and method == "DELETE":
            release.wait(10)  # Loom is slow to answer; the change is made all the same
            return 204, None
        return None

    state.hook = hook
    store = tmp_path / "s.sqlite3"
    with serve(state) as url:
        server = build_server(Options({"demo": LoomConnection.create(url, key)}, store=store))
        async with Client(server, client_info=CLIENT) as client:
            plan = data(await client.call_tool("delete-group", {"id": "g1"}))
            with anyio.move_on_after(1):
                await client.call_tool("delete-group", {"id": "g1", "confirm": plan["confirm"]})
            release.set()
            await anyio.sleep(0.5)
    assert any(line.startswith("DELETE") for line in state.log)
    evidence = open_store(str(store), url).evidence()
    said = [(e.action, e.actor, e.outcome) for e in evidence]
    assert said == [("delete-group", "mcp:pytest-assistant", "unknown")]
    assert "in flight" in evidence[0].request
    code, out, _ = cli("evidence", "verify", "--store", str(store))
    assert code == 0, out


# -- a person asked through elicitation ----------------------------------------------------------


async def test_an_account_changed_while_the_person_was_asked_is_not_changed(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """An older client is asked during the call (elicitation/create), and a person may
    take minutes to answer: the account the plan showed them can change meanwhile. The
    yes answers that plan; the token path plans again on confirm, so must this one."""
    from mcp_types import ElicitResult

    user_id = sandbox.seeded["all"][6]
    _replace(sandbox, user_id, {"active": True})

    async def person(context: Any, params: Any) -> ElicitResult:
        _replace(sandbox, user_id, {"userName": "someone.else@example.com"})
        _replace(sandbox, user_id, {"emails": [{"value": "someone.else@example.com"}]})
        return ElicitResult(action="accept", content={"confirm": True})

    server = _server(sandbox, tmp_path)
    async with Client(
        server, client_info=CLIENT, elicitation_callback=person, mode="legacy"
    ) as client:
        refused = error(await client.call_tool("deactivate-user", {"id": user_id}))
    assert refused["class"] == "bad_input" and "changed" in refused["fields"]["confirm"]
    assert _active(sandbox, user_id)
