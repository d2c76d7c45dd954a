"""`make mcp-demo`: an AI assistant's exchange with `loom-scim mcp`, scripted.

The question an IT admin asks: "who left but still has access?", then "offboard them".
A scripted client (the official MCP SDK's, as an assistant's host uses it) starts
`loom-scim mcp` over stdio against a local sandbox and prints each protocol step: the
tools it lists, a sync, the reconciliation against the identity provider's roster (a
file on the server's machine), then for each leaver the plan, the person's yes, and the
confirmed change with its evidence; last, the evidence chain verified.

    python examples/mcp_assistant.py
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult, Implementation

from loom_scim_connector.sandbox import Sandbox

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")
LOOM_SCIM = [sys.executable, "-m", "loom_scim_connector"]


def shown(data: Any, width: int = 150) -> str:
    text = json.dumps(data, ensure_ascii=False)
    return text if len(text) <= width else text[: width - 3] + "..."


def write_roster(sandbox: Sandbox, path: Path) -> list[str]:
    """The IdP's export: every member the IdP created, active, but the first two, who
    have left (terminated). Members who joined by domain capture are not in it at all:
    the IdP never knew them, so they are orphaned too."""
    listed = httpx.get(
        f"{sandbox.url}/Users", params={"count": 100},
        headers={"Authorization": f"Bearer {sandbox.token}"},
    ).json()["Resources"]  # fmt: skip
    managed = [u for u in listed if u.get("externalId") and u.get("active", True)]
    leavers = [u["userName"] for u in managed[:2]]
    lines = ["email,status"] + [
        f"{u['userName']},{'terminated' if u['userName'] in leavers else 'active'}" for u in managed
    ]
    path.write_text("\n".join(lines) + "\n")
    return leavers


class Assistant:
    def __init__(self, client: Client) -> None:
        self.client = client

    async def call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        said = {k: v[:14] + "..." if k == "confirm" else v for k, v in args.items()}
        print(f"{BOLD}-> tools/call{RESET} {name} {shown(said)}")
        result: CallToolResult = await self.client.call_tool(name, args)
        data = dict(result.structured_content or {})
        mark = "<- error" if result.is_error else "<- result"
        print(f"   {DIM}{mark}: {shown(data.get('error') or data.get('result') or data)}{RESET}")
        if result.is_error:
            raise SystemExit(f"{name} failed: {data['error']['message']}")
        return data


async def converse(sandbox: Sandbox, env: dict[str, str], store: Path) -> None:
    roster = store.with_name("okta_users.csv")
    leavers = write_roster(sandbox, roster)
    fence = ("--roster-dir", str(roster.parent))  # the only files the tools may read
    argv = [*LOOM_SCIM[1:], "-q", "mcp", "--store", str(store), *fence]
    server = StdioServerParameters(command=LOOM_SCIM[0], args=argv, env=env)
    me = Implementation(name="demo-assistant", version="1.0")
    async with Client(server, client_info=me) as client:
        ai = Assistant(client)
        print(f"\n{BOLD}== The assistant connects and lists the tools{RESET}")
        tools = (await client.list_tools()).tools
        writes = [t.name for t in tools if t.annotations and not t.annotations.read_only_hint]
        print(f"<- {len(tools)} tools; writes (planned, then confirmed): {', '.join(writes)}")

        print(f'\n{BOLD}== Admin: "Who left but still has access?"{RESET}')
        await ai.call("sync-users", {})
        found = await ai.call("reconcile-roster", {"roster": str(roster), "category": "orphaned"})
        orphans = found["result"]["findings"]
        for finding in orphans:
            print(f"   {finding['email']} ({finding['id']}): {finding['reason']}")
        assert set(leavers) <= {f["email"] for f in orphans}, orphans  # and domain capture

        print(f'\n{BOLD}== Admin: "Offboard them."{RESET}')
        for finding in orphans:
            args = {"id": finding["id"]}
            planned = await ai.call("deactivate-user", args)
            now = planned["plan"]["current"]
            print(
                f"   plan: deactivate {now['email']} (active={now['active']}, role "
                f"{now['role']}); token {planned['confirm'][:14]}..., until {planned['expiresAt']}"
            )
            print(f"   {BOLD}[the assistant shows the plan; the admin says yes]{RESET}")
            done = await ai.call("deactivate-user", {**args, "confirm": planned["confirm"]})
            print(f"   {done['result']['outcome']}; evidence {done['evidenceIds']}")

        print(f"\n{BOLD}== Check: nobody who left has access now{RESET}")
        await ai.call("sync-users", {})
        again = await ai.call("reconcile-roster", {"roster": str(roster), "category": "orphaned"})
        assert again["result"]["total"] == 0, again
        record = await ai.call("get-member", {"email": leavers[0]})
        latest = record["result"]["evidence"][0]
        print(f"   {latest['email']}: {latest['outcome']} by {latest['actor']} at {latest['at']}")


def verify_evidence(env: dict[str, str], store: Path) -> None:
    print(f"\n{BOLD}== The auditor verifies the evidence chain{RESET}")
    verify = [*LOOM_SCIM, "evidence", "verify", "--store", str(store)]
    checked = subprocess.run(verify, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    print(checked.stdout.strip() or checked.stderr.strip())
    if checked.returncode != 0:
        raise SystemExit(checked.returncode)


def main() -> None:
    with Sandbox(seed_users=10, seed=3) as sandbox, tempfile.TemporaryDirectory() as tmp:
        print(f"{DIM}sandbox at {sandbox.url}{RESET}")
        env = {
            **os.environ,
            "LOOM_SCIM_BRIDGE_URL": sandbox.url,
            "LOOM_SCIM_API_KEY": sandbox.token,
            "LOOM_SCIM_CONFIG": str(Path(tmp) / "none.toml"),  # only the environment's
        }
        store = Path(tmp) / "assistant.sqlite3"
        asyncio.run(converse(sandbox, env, store))
        verify_evidence(env, store)


if __name__ == "__main__":
    main()
