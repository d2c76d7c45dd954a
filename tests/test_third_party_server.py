"""The connector against the unmodified third-party scim2-server, started on loopback.

scim2-server is configured, never patched: Loom's ``loomMemberRole`` is added through
its ``--schema`` option, with the same schema documents the sandbox serves.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from loom_scim_connector import LoomConnection
from loom_scim_connector.host import LocalHost
from loom_scim_connector.sandbox.schema import loom_schema_documents

from .conftest import act, fast_factory

TOKEN = "third-party-token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def scim2_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    schema = tmp_path_factory.mktemp("scim2") / "schemas.json"
    schema.write_text(json.dumps(loom_schema_documents()))
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "scim2_server.testserver.cli",
        "--schema",
        str(schema),
        "--bearer-token",
        TOKEN,
        "--hostname",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # noqa: S603
    url = f"http://127.0.0.1:{port}/v2"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/ServiceProviderConfig", timeout=1)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"scim2-server did not start: {process.stderr}") from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
async def host(scim2_server: str, tmp_path: Path) -> AsyncIterator[LocalHost]:
    local = LocalHost(
        LoomConnection.create(scim2_server, TOKEN),
        store=tmp_path / "third.sqlite3",
        client_factory=fast_factory(2),
    )
    yield local
    local.close()


async def test_actions_and_syncs_against_scim2_server(host: LocalHost) -> None:
    users = [
        await act(
            host,
            "create-user",
            {
                "email": f"tp{i}@acme.example",
                "firstName": "T",
                "lastName": str(i),
                "role": "creator",
                "externalId": f"x{i}",
            },
        )
        for i in range(5)
    ]
    assert all(u["outcome"] == "created" and u["user"]["role"] == "creator" for u in users)
    again = await act(host, "create-user", {"email": "tp0@acme.example", "role": "viewer"})
    assert again["id"] == users[0]["id"] and again["outcome"] == "existed"
    assert again["user"]["role"] == "viewer"

    updated = await act(
        host, "update-user", {"id": users[1]["id"], "lastName": "Updated", "employeeNumber": "E1"}
    )
    assert (updated["lastName"], updated["employeeNumber"]) == ("Updated", "E1")
    assert (await act(host, "set-user-role", {"id": users[1]["id"], "role": "admin"}))[
        "role"
    ] == "admin"
    off = await act(host, "deactivate-user", {"id": users[2]["id"]})
    assert off["outcome"] == "deactivated" and off["user"]["active"] is False
    assert (await act(host, "delete-user", {"id": users[3]["id"]}))["outcome"] == "deleted"
    assert (await act(host, "deactivate-user", {"id": users[3]["id"]}))["outcome"] == "already_gone"

    group = await act(
        host,
        "create-group",
        {"displayName": "Loom Creators", "memberIds": [users[0]["id"], users[1]["id"]]},
    )
    removed = await act(
        host, "remove-group-members", {"id": group["id"], "memberIds": [users[0]["id"]]}
    )
    assert removed["memberIds"] == [users[1]["id"]]

    report = await host.run_sync("users")
    assert report.status == "success" and report.added == 4 and report.pages >= 2
    synced = {u["id"]: u for u in host.records("User")}
    assert synced[users[2]["id"]]["active"] is False
    assert synced[users[1]["id"]]["role"] == "admin"
    assert (await host.run_sync("groups")).added == 1

    await act(host, "delete-user", {"id": users[4]["id"]})
    second = await host.run_sync("users")
    assert (second.deleted, second.unchanged) == (1, 3)
