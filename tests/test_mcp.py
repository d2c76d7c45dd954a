"""``loom-scim mcp`` driven by the official MCP SDK's client, against the sandbox: over
stdio with a real subprocess, and in process where a test needs to reach inside (a
clock, a second workspace, a manifest with one more action). See also
tests/test_mcp_http.py (Streamable HTTP) and tests/test_mcp_secrets.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from loom_scim_connector import LoomConnection
from loom_scim_connector.errors import ManifestError
from loom_scim_connector.host.local import open_store
from loom_scim_connector.manifest import load_manifest, manifest_text, parse_manifest
from loom_scim_connector.mcp import Options, build_server
from loom_scim_connector.mcp._token import Confirmations
from loom_scim_connector.sandbox import Sandbox

from .conftest import cli
from .mcp_wire import CLIENT, data, error, server_env, stdio

READS = {"find-members", "get-member", "key-expiry", "reconcile-roster", "access-review"}


def expected_tools() -> set[str]:
    manifest = load_manifest()
    return {*manifest.actions, *(f"sync-{name}" for name in manifest.syncs), *READS}


def user_in(sandbox: Sandbox, user_id: str) -> dict[str, Any]:
    """The user as the sandbox holds it (read over SCIM, beside the MCP server)."""
    import httpx

    response = httpx.get(
        f"{sandbox.url}/Users/{user_id}", headers={"Authorization": f"Bearer {sandbox.token}"}
    )
    response.raise_for_status()
    found: dict[str, Any] = response.json()
    return found


def write_roster(path: Path, emails: list[str], leaver: str) -> None:
    """Everyone as active, but ``leaver`` as terminated."""
    lines = ["email,status"]
    lines += [f"{email},{'terminated' if email == leaver else 'active'}" for email in emails]
    path.write_text("\n".join(lines) + "\n")


# -- over stdio, a subprocess ---------------------------------------------------------------


async def test_an_assistant_over_stdio_lists_the_manifest_reads_syncs_and_offboards(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    store = tmp_path / "store.sqlite3"
    env = server_env(sandbox.url, sandbox.token)
    manifest = load_manifest()
    fenced = ("--store", str(store), "--roster-dir", str(tmp_path))
    async with stdio(env, *fenced, errlog=tmp_path / "err") as (client, _):
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(listed) == expected_tools()
        for name, action in manifest.actions.items():
            tool = listed[name]
            schema = dict(tool.input_schema)
            props = dict(schema["properties"])
            assert props.pop("connection")["enum"] == ["env"]
            writes = not manifest.spec.tool_annotations[name].readOnlyHint
            assert (props.pop("confirm", None) is not None) == writes
            assert {**schema, "properties": props} == manifest.spec.models[
                action.spec.input
            ].json_schema
            out = tool.output_schema or {}
            title = manifest.spec.models[action.spec.output].json_schema["title"]
            assert out["$defs"][title]["properties"].keys() == (
                manifest.spec.models[action.spec.output].json_schema["properties"].keys()
            )
        for name, tool in listed.items():
            row = manifest.spec.tool_annotations[name]
            hints = tool.annotations
            assert hints is not None
            assert (hints.read_only_hint, hints.destructive_hint) == (
                row.readOnlyHint,
                row.destructiveHint,
            )
            assert (hints.idempotent_hint, hints.open_world_hint) == (
                row.idempotentHint,
                row.openWorldHint,
            )

        synced = data(await client.call_tool("sync-users", {}))
        assert synced["connection"] == "env" and synced["workspace"] == sandbox.url
        assert synced["result"]["status"] == "success" and synced["result"]["saved"] == 12
        assert "members" not in synced["result"]  # a summary, never the records

        seen: list[str] = []
        emails: list[str] = []
        cursor: int | None = 0
        while cursor is not None:
            page = data(await client.call_tool("find-members", {"limit": 5, "cursor": cursor}))
            assert len(page["result"]["members"]) <= 5 and page["result"]["total"] == 12
            seen += [m["id"] for m in page["result"]["members"]]
            emails += [m["email"] for m in page["result"]["members"]]
            cursor = page["result"]["nextCursor"]
        assert len(set(seen)) == 12
        managed = data(await client.call_tool("find-members", {"managed": False, "limit": 100}))
        assert all(not m.get("externalId") for m in managed["result"]["members"])

        leaver = next(
            m for m in data(await client.call_tool("find-members", {"active": True}))
            ["result"]["members"] if m.get("externalId")
        )  # fmt: skip
        by_email = data(await client.call_tool("get-member", {"email": leaver["email"]}))
        assert [m["id"] for m in by_email["result"]["members"]] == [leaver["id"]]
        assert data(await client.call_tool("key-expiry", {}))["result"]["status"] == "unknown"
        roster = tmp_path / "okta.csv"
        write_roster(roster, emails, leaver["email"])
        found = data(await client.call_tool("reconcile-roster", {"roster": str(roster)}))
        orphaned = [f for f in found["result"]["findings"] if f["category"] == "orphaned"]
        assert [f["id"] for f in orphaned] == [leaver["id"]]
        review = data(await client.call_tool("access-review", {"roster": str(roster)}))
        assert review["result"]["members"] == 12

        # A write: the plan first, with the account as Loom has it now; nothing changes.
        planned = data(await client.call_tool("deactivate-user", {"id": leaver["id"]}))
        assert planned["status"] == "planned" and planned["result"] is None
        assert planned["plan"]["current"]["email"] == leaver["email"]
        assert planned["plan"]["current"]["active"] is True
        assert user_in(sandbox, leaver["id"])["active"] is True
        done = data(
            await client.call_tool(
                "deactivate-user", {"id": leaver["id"], "confirm": planned["confirm"]}
            )
        )
        assert done["status"] == "done" and done["result"]["outcome"] == "deactivated"
        assert user_in(sandbox, leaver["id"])["active"] is False

        bad = error(await client.call_tool("create-user", {"email": 5}))
        assert bad["class"] == "bad_input" and bad["exitCode"] == 2
        assert set(bad["fields"]) == {"email"}
        assert bad["message"].startswith("invalid input for create-user: email:")

    # The evidence: an intent and its outcome, by the assistant, verifiable as any other.
    evidence = open_store(str(store), sandbox.url).evidence(user_id=leaver["id"])
    assert [(e.outcome, e.actor, e.source) for e in evidence] == [
        ("deactivated", "mcp:pytest-assistant", "mcp"),
        ("unknown", "mcp:pytest-assistant", "mcp"),
    ]
    assert evidence[0].intent_id == evidence[1].evidence_id
    assert evidence[0].evidence_id in done["evidenceIds"]
    assert "PATCH /Users/" in evidence[0].request
    code, said, _ = cli("evidence", "verify", "--store", str(store))
    assert code == 0, said


async def test_a_stale_reused_altered_or_misapplied_token_is_refused_and_changes_nothing(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    env = server_env(sandbox.url, sandbox.token)
    args = ("--store", str(tmp_path / "store.sqlite3"))
    async with stdio(env, *args, errlog=tmp_path / "err") as (client, _):
        members = data(await client.call_tool("find-user", {"email": "x@nowhere.example"}))
        assert members["result"]["found"] is False
        synced = data(await client.call_tool("sync-users", {}))["result"]
        assert synced["saved"] == 12
        page = data(await client.call_tool("find-members", {"active": True, "limit": 3}))
        first, second, third = (m["id"] for m in page["result"]["members"])

        plan = data(await client.call_tool("deactivate-user", {"id": first}))
        token = plan["confirm"]
        altered = token[:-1] + ("0" if token[-1] != "0" else "1")
        for call, why in [
            ({"id": first, "confirm": altered}, "does not match this call's plan"),
            ({"id": second, "confirm": token}, "does not match this call's plan"),
            ({"id": first, "confirm": "not-a-token"}, "is not a confirmation token"),
        ]:
            refused = error(await client.call_tool("deactivate-user", call))
            assert refused["class"] == "bad_input" and why in refused["fields"]["confirm"]
            assert "nothing was changed" in refused["message"]
        assert user_in(sandbox, first)["active"] is True
        assert user_in(sandbox, second)["active"] is True
        # a token for deactivate-user confirms no other write of the same input
        refused = error(await client.call_tool("delete-user", {"id": first, "confirm": token}))
        assert "does not match" in refused["fields"]["confirm"]

        # The account changes between plan and confirm: the token is stale.
        stale = data(await client.call_tool("set-user-role", {"id": third, "role": "viewer"}))
        other = data(await client.call_tool("update-user", {"id": third, "firstName": "Zed"}))
        data(await client.call_tool("update-user", {"id": third, "firstName": "Zed",
                                                    "confirm": other["confirm"]}))  # fmt: skip
        refused = error(
            await client.call_tool(
                "set-user-role", {"id": third, "role": "viewer", "confirm": stale["confirm"]}
            )
        )
        assert "changed since it was planned" in refused["fields"]["confirm"]
        now = data(await client.call_tool("get-user", {"id": third}))["result"]
        assert now["role"] == stale["plan"]["current"]["role"] != "viewer"

        done = data(await client.call_tool("deactivate-user", {"id": first, "confirm": token}))
        assert done["status"] == "done"
        again = error(await client.call_tool("deactivate-user", {"id": first, "confirm": token}))
        assert "already used" in again["fields"]["confirm"]
    store = open_store(str(tmp_path / "store.sqlite3"), sandbox.url)
    assert {e.user_id for e in store.evidence()} == {first, third}  # nothing refused recorded


async def test_read_only_serves_no_write_and_refuses_one_by_name(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    store = tmp_path / "store.sqlite3"
    env = server_env(sandbox.url, sandbox.token)
    async with stdio(env, "--store", str(store), errlog=tmp_path / "err") as (client, _):
        data(await client.call_tool("sync-users", {}))
    async with stdio(env, "--store", str(store), "--read-only", errlog=tmp_path / "err") as (
        client,
        _,
    ):
        tools = (await client.list_tools()).tools
        assert tools and all(t.annotations and t.annotations.read_only_hint for t in tools)
        assert {t.name for t in tools} == {
            name for name, row in load_manifest().spec.tool_annotations.items() if row.readOnlyHint
        }
        member = data(await client.call_tool("find-members", {"limit": 1}))["result"]["members"][0]
        refused = error(await client.call_tool("deactivate-user", {"id": member["id"]}))
        assert refused["class"] == "bad_input" and "read-only" in refused["message"]
        assert user_in(sandbox, member["id"])["active"] is member["active"]


# -- in process: the same server object, reached through the SDK's client ------------------


def _server(tmp_path: Path, connections: dict[str, LoomConnection], **options: Any) -> Any:
    return build_server(Options(connections, store=tmp_path / "store.sqlite3", **options))


async def test_an_expired_token_is_refused(sandbox: Sandbox, tmp_path: Path) -> None:
    now = [1_000_000.0]
    server = _server(
        tmp_path,
        {"demo": LoomConnection.create(sandbox.url, sandbox.token)},
        confirmations=Confirmations(ttl=300, clock=lambda: now[0]),
    )
    user_id = sandbox.seeded["all"][0]
    async with Client(server, client_info=CLIENT) as client:
        plan = data(await client.call_tool("deactivate-user", {"id": user_id}))
        now[0] += 301
        late = {"id": user_id, "confirm": plan["confirm"]}
        refused = error(await client.call_tool("deactivate-user", late))
        assert "has expired" in refused["fields"]["confirm"]
    assert user_in(sandbox, user_id)["active"] is not False


@pytest.mark.parametrize("answer", ["accept", "decline"])
@pytest.mark.parametrize("mode", ["auto", "legacy"])  # 2026-07-28 (input required), or older
async def test_a_client_that_can_ask_the_person_gets_an_elicitation(
    sandbox: Sandbox, tmp_path: Path, answer: str, mode: str
) -> None:
    from mcp_types import ElicitResult

    asked: list[str] = []

    async def person(context: Any, params: Any) -> ElicitResult:
        asked.append(params.message)
        return ElicitResult(
            action=answer, content={"confirm": True} if answer == "accept" else None
        )

    server = _server(tmp_path, {"demo": LoomConnection.create(sandbox.url, sandbox.token)})
    user_id = sandbox.seeded["all"][1]
    async with Client(server, client_info=CLIENT, elicitation_callback=person, mode=mode) as client:
        result = data(await client.call_tool("deactivate-user", {"id": user_id}))
    assert len(asked) == 1 and "deactivate-user on demo" in asked[0]
    if answer == "accept":
        assert result["status"] == "done" and user_in(sandbox, user_id)["active"] is False
    else:
        assert result["status"] == "declined" and user_in(sandbox, user_id)["active"] is True


async def test_several_connections_each_call_names_one_and_the_answer_says_which(
    tmp_path: Path,
) -> None:
    with Sandbox(seed_users=3, seed=1) as one, Sandbox(seed_users=5, seed=2) as two:
        server = _server(
            tmp_path,
            {
                "eu": LoomConnection.create(one.url, one.token),
                "us": LoomConnection.create(two.url, two.token),
            },
        )
        async with Client(server, client_info=CLIENT) as client:
            tool = next(t for t in (await client.list_tools()).tools if t.name == "sync-users")
            assert tool.input_schema["required"] == ["connection"]
            missing = error(await client.call_tool("sync-users", {}))
            assert set(missing["fields"]) == {"connection"}
            unknown = error(await client.call_tool("sync-users", {"connection": "apac"}))
            assert "is not served" in unknown["fields"]["connection"]
            us = data(await client.call_tool("sync-users", {"connection": "us"}))
            eu = data(await client.call_tool("sync-users", {"connection": "eu"}))
            assert (us["workspace"], us["result"]["saved"]) == (two.url, 5)
            assert (eu["workspace"], eu["result"]["saved"]) == (one.url, 3)
            page = data(await client.call_tool("find-members", {"connection": "eu"}))
            assert page["result"]["total"] == 3


async def test_a_call_over_max_changes_is_refused_whole(sandbox: Sandbox, tmp_path: Path) -> None:
    server = _server(
        tmp_path, {"demo": LoomConnection.create(sandbox.url, sandbox.token)}, max_changes=2
    )
    ids = sandbox.seeded["all"][:3]
    async with Client(server, client_info=CLIENT) as client:
        made = data(await client.call_tool("create-group", {"displayName": "Leads"}))
        group = made["plan"]
        assert made["status"] == "planned" and group["changes"] == 1
        refused = error(await client.call_tool("add-group-members", {"id": "g1", "memberIds": ids}))
        assert refused["class"] == "bad_input"
        assert "3 changes, more than 2: nothing was changed" in refused["message"]


def _with_action(text: str) -> str:
    """The manifest with one more action, ``lookup-user``, and its annotation row."""
    action = (
        "  lookup-user:\n"
        "    description: Look one user up (an action added to the manifest only).\n"
        "    input: UserIdInput\n"
        "    output: User\n"
        "    endpoint: {method: GET, path: /users/lookup}\n"
        "    entrypoint: loom_scim_connector.actions.users:get_user\n"
    )
    row = (
        "  lookup-user: {readOnlyHint: true, destructiveHint: false, idempotentHint: true, "
        "openWorldHint: true}\n"
    )
    text = text.replace("\ntool_annotations:\n", "\ntool_annotations:\n" + row, 1)
    return text.replace("\nactions:\n", "\nactions:\n" + action, 1)


async def test_an_action_added_to_the_manifest_is_a_tool_with_no_mcp_code(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    manifest = parse_manifest(_with_action(manifest_text()))
    server = _server(
        tmp_path, {"demo": LoomConnection.create(sandbox.url, sandbox.token)}, manifest=manifest
    )
    user_id = sandbox.seeded["all"][2]
    async with Client(server, client_info=CLIENT) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert "lookup-user" in tools and tools["lookup-user"].annotations is not None
        assert tools["lookup-user"].input_schema["required"] == ["id"]
        found = data(await client.call_tool("lookup-user", {"id": user_id}))
        assert found["result"]["id"] == user_id


def test_an_action_without_its_annotation_row_fails_loading_naming_it() -> None:
    text = _with_action(manifest_text()).replace("  lookup-user: {readOnlyHint", "  x: {r", 1)
    with pytest.raises(ManifestError, match=r"tool_annotations"):
        parse_manifest(text)
    text = manifest_text().replace("  delete-group:         {", "  delete-groups:        {", 1)
    with pytest.raises(ManifestError, match=r"tool_annotations\.delete-group: is missing"):
        parse_manifest(text)


# -- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "env", "said"),
    [
        (["--http", "8765", "--host", "0.0.0.0"], {}, "--host: 0.0.0.0 is not loopback"),  # noqa: S104
        (["--http", "8765"], {}, "needs a bearer token of its own"),
        (["--http", "8765"], {"LOOM_SCIM_MCP_TOKEN": "short"}, "at least 16 characters"),
        (
            ["--http", "8765"],
            {"LOOM_SCIM_MCP_TOKEN": "the-loom-key-0123456789"},
            "must not be a Loom API key",
        ),
    ],
)
def test_http_is_refused_off_loopback_without_a_token_or_with_the_loom_key(
    argv: list[str], env: dict[str, str], said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOOM_SCIM_BRIDGE_URL", "http://127.0.0.1:9/scim/v2")
    monkeypatch.setenv("LOOM_SCIM_API_KEY", "the-loom-key-0123456789")
    monkeypatch.delenv("LOOM_SCIM_MCP_TOKEN", raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, _, err = cli("mcp", *argv)
    assert code == 2 and said in err and len(err.strip().splitlines()) == 1, err
    assert "the-loom-key-0123456789" not in err


async def test_an_answer_confirms_only_the_plan_it_was_asked_about(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """2026-07-28: the question carries the plan's token as its requestState; a retry
    that answers yes for another account, or with no state, changes nothing."""
    from mcp_types import ElicitResult, InputRequiredResult

    server = _server(tmp_path, {"demo": LoomConnection.create(sandbox.url, sandbox.token)})
    asked_about, other = sandbox.seeded["all"][3], sandbox.seeded["all"][4]

    async def person(context: Any, params: Any) -> ElicitResult:
        return ElicitResult(action="accept", content={"confirm": True})

    yes = {"loom-scim/confirm": ElicitResult(action="accept", content={"confirm": True})}
    async with Client(server, client_info=CLIENT, elicitation_callback=person) as client:
        question = await client.session.call_tool(
            "deactivate-user", {"id": asked_about}, allow_input_required=True
        )
        assert isinstance(question, InputRequiredResult) and question.request_state
        for args, state in [({"id": other}, question.request_state), ({"id": asked_about}, None)]:
            retried = await client.session.call_tool(
                "deactivate-user",
                args,
                input_responses=yes,  # type: ignore[arg-type]
                request_state=state,
                allow_input_required=True,
            )
            refused = error(retried)  # type: ignore[arg-type]
            assert "nothing was changed" in refused["fields"]["confirm"]
    assert user_in(sandbox, other)["active"] is True
    assert user_in(sandbox, asked_about)["active"] is True


def test_a_held_syncs_release_command_names_the_servers_store_without_its_password() -> None:
    from loom_scim_connector.host import SyncReport
    from loom_scim_connector.mcp._sync import summary_of

    report = SyncReport(sync="users", model="User", run_id=7, status="held", held=["u1", "u2"])
    store = "postgresql://loom:s3cret-pw@db.example.com/ops"
    note = summary_of(report, store).note
    assert note is not None
    # Without --store, the command would release a run of another store (the default file).
    assert "loom-scim sync users --store postgresql://loom:***@db.example.com/ops" in note
    assert "--release-held 7" in note
    assert "s3cret-pw" not in note
