"""No secret reaches the model: every message on the wire of ``loom-scim mcp`` (stdio
and Streamable HTTP), and its log, scanned for the Loom key and the MCP token, while a
SCIM server echoes the key (JSON-escaped, deep in a long error detail) in its errors,
and even in a record (a user whose given name is the key)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from .loopback import Handler, Loopback
from .mcp_wire import Tapped, error, http, http_server, server_env, stdio
from .test_mcp_http import TOKEN
from .test_secrets import ECHOED, _echo_server, leaks


def _echoing(handler: Handler) -> Handler:
    """The echo server, whose user u1 also carries the key in a field the model reads."""

    def serve(request: httpx.Request) -> httpx.Response:
        response = handler(request)
        if request.method == "GET" and request.url.path.endswith("/Users/u1"):
            body = json.loads(response.read()) | {"name": {"givenName": ECHOED}}
            return httpx.Response(200, json=body, headers={"Content-Type": "application/json"})
        return response

    return serve


async def _calls(client: Client) -> list[dict[str, Any]]:
    """A session that meets the echo in every way a call can: a sync, a planned and a
    confirmed write, reads, bad input, an unknown tool."""
    answers = []
    for name, args in [
        ("sync-users", {}),
        ("find-user", {"email": "leaver@example.com"}),
        ("get-user", {"id": "u1"}),  # a record echoing the key: redacted too
        ("key-expiry", {}),
        ("create-user", {"email": "not an email"}),
        ("no-such-tool", {}),
    ]:
        result = await client.call_tool(name, args)
        answers.append(result.model_dump(mode="json"))
    plan = await client.call_tool("deactivate-user", {"id": "u1"})
    assert not plan.is_error and plan.structured_content is not None
    token = plan.structured_content["confirm"]
    failed = await client.call_tool("deactivate-user", {"id": "u1", "confirm": token})
    assert error(failed)["class"] == "failure"
    answers.append(failed.model_dump(mode="json"))
    return answers


def _assert_clean(tap: Tapped, log: Path) -> None:
    wire = "\n".join(tap.seen)
    assert len(tap.seen) > 10
    assert "[REDACTED]" in wire  # the echo reached the server, and was redacted
    assert leaks(ECHOED, wire) == []
    assert TOKEN not in wire and leaks(TOKEN, wire) == []
    text = log.read_text()
    assert leaks(ECHOED, text) == [] and TOKEN not in text


@pytest.mark.parametrize("transport", ["stdio", "http"])
async def test_no_message_on_the_wire_carries_the_loom_key_or_the_mcp_token(
    transport: str, tmp_path: Path
) -> None:
    log = tmp_path / "server.log"
    args = ("--store", str(tmp_path / "store.sqlite3"), "--debug")
    with Loopback(_echoing(_echo_server(400))) as server:
        env = server_env(server.url, ECHOED, LOOM_SCIM_MCP_TOKEN=TOKEN)
        if transport == "stdio":
            async with stdio(env, *args, errlog=log) as (client, tap):
                await _calls(client)
        else:
            with http_server(env, *args, errlog=log) as url:
                async with http(url, TOKEN) as (client, tap):
                    await _calls(client)
    _assert_clean(tap, log)
