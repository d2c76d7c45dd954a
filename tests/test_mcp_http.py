"""``loom-scim mcp --http PORT``: Streamable HTTP on loopback, behind a bearer token of
its own, driven by the official SDK's client against the sandbox."""

from __future__ import annotations

from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

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


async def test_the_gate_matches_the_scheme_in_any_case_and_closes_websockets_unheard() -> None:
    from loom_scim_connector.mcp._http import BearerGate

    reached: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["type"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"inner"})

    token = "t" * 32
    gate = BearerGate(inner, token)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=gate), base_url="http://127.0.0.1"
    ) as client:
        for header, status in [
            (f"Bearer {token}", 200),
            (f"bearer {token}", 200),  # RFC 9110: the scheme is case-insensitive
            (f"BEARER {token}", 200),
            (f"Basic {token}", 401),
            (f"Bearer {token}x", 401),
            (token, 401),
            ("", 401),
        ]:
            answer = await client.get("/mcp", headers={"Authorization": header} if header else {})
            assert answer.status_code == status, header
            assert token not in answer.text
    assert reached == ["http"] * 3

    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await gate({"type": "websocket", "headers": [], "path": "/mcp"}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]
    assert reached == ["http"] * 3  # the app never saw the websocket
