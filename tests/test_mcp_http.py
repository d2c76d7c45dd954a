"""``loom-scim mcp --http PORT``: Streamable HTTP on loopback, behind a bearer token of
its own, driven by the official SDK's client against the sandbox."""

from __future__ import annotations

from pathlib import Path

import httpx

from loom_scim_connector.host.local import open_store
from loom_scim_connector.sandbox import Sandbox

from .mcp_wire import data, error, http, http_server, server_env
from .test_mcp import expected_tools, user_in

TOKEN = "mcp-token-" + "Qw3rTy9" * 4


async def test_http_serves_the_tools_only_to_its_token_and_confirms_writes(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    store = tmp_path / "store.sqlite3"
    env = server_env(sandbox.url, sandbox.token, LOOM_SCIM_MCP_TOKEN=TOKEN)
    with http_server(env, "--store", str(store), errlog=tmp_path / "err") as url:
        hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        async with httpx.AsyncClient() as plain:
            for headers in (
                {},
                {"Authorization": "Bearer wrong"},
                {"Authorization": f"Bearer {sandbox.token}"},  # the Loom key is not the token
                {"Authorization": f"Bearer {TOKEN}x"},
            ):
                refused = await plain.post(url, json=hello, headers=headers)
                assert refused.status_code == 401 and "tools" not in refused.text
                assert refused.headers["www-authenticate"].startswith("Bearer")

        async with http(url, TOKEN) as (client, _):
            assert {t.name for t in (await client.list_tools()).tools} == expected_tools()
            synced = data(await client.call_tool("sync-users", {}))
            assert synced["workspace"] == sandbox.url and synced["result"]["saved"] == 12
            member = data(await client.call_tool("find-members", {"active": True, "limit": 1}))
            user_id = member["result"]["members"][0]["id"]
            plan = data(await client.call_tool("deactivate-user", {"id": user_id}))
            assert user_in(sandbox, user_id)["active"] is True
            done = data(
                await client.call_tool(
                    "deactivate-user", {"id": user_id, "confirm": plan["confirm"]}
                )
            )
            assert done["result"]["outcome"] == "deactivated"
            record = data(await client.call_tool("get-member", {"id": user_id}))
            assert [e["outcome"] for e in record["result"]["evidence"]] == [
                "deactivated",
                "unknown",
            ]
            bad = error(await client.call_tool("find-members", {"limit": 0}))
            assert set(bad["fields"]) == {"limit"}
    assert user_in(sandbox, user_id)["active"] is False
    actors = {e.actor for e in open_store(str(store), sandbox.url).evidence()}
    assert actors == {"mcp:pytest-assistant"}
