"""``--max-changes`` and ``--max-total-changes`` against a group whose record cannot be
read: a group's deletion counts one change per member (each member's access), read from
the group as Loom has it. A server whose group record is not readable as a group (here
its displayName is missing) still lists its members and still deletes it: the plan must
not count such a deletion as one change. Reached with the SDK's client; the SCIM server
is a raw-socket stand-in on loopback (:mod:`tests.drip_server`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from mcp import Client

from loom_scim_connector import LoomConnection
from loom_scim_connector.mcp import Options, build_server
from loom_scim_connector.mcp._budget import ChangeBudget
from loom_scim_connector.sandbox import Sandbox

from .drip_server import ERROR, DripState, serve
from .mcp_wire import CLIENT, data, error, http, http_server, server_env
from .test_mcp import user_in
from .test_mcp_http import TOKEN

KEY = "tok-budget-0123456789abcdef"
MEMBERS = [f"u{n}" for n in range(6)]


class Groups(DripState):
    """One group, g1, with six members and no displayName; DELETE removes it."""

    group: dict[str, Any] | None = None

    def answer(self, method: str, target: str, body: Any) -> tuple[int, Any]:
        path = unquote(urlsplit(target).path.removeprefix("/scim/v2"))
        if path != "/Groups/g1":
            return super().answer(method, target, body)
        with self.lock:
            self.log.append(f"{method} {path}")
            if self.group is None:
                return 404, {"schemas": [ERROR], "status": "404", "detail": "not found"}
            if method == "DELETE":
                self.group = None
                return 200, {}
            return 200, self.group


@pytest.fixture
def groups() -> Iterator[tuple[Groups, str]]:
    state = Groups()
    state.group = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "members": [{"value": member} for member in MEMBERS],
    }
    with serve(state) as url:
        yield state, url


async def test_an_unreadable_groups_deletion_still_counts_its_members(
    groups: tuple[Groups, str], tmp_path: Path
) -> None:
    state, url = groups
    options = Options(
        {"demo": LoomConnection.create(url, KEY)},
        store=tmp_path / "store.sqlite3",
        max_changes=3,
        budget=ChangeBudget(3),
    )
    async with Client(build_server(options), client_info=CLIENT) as client:
        answer = await client.call_tool("delete-group", {"id": "g1"})
        if not answer.is_error:  # planned: confirm it, as an agent redeeming its own would
            token = data(answer)["confirm"]
            answer = await client.call_tool("delete-group", {"id": "g1", "confirm": token})
        refused = error(answer)
    assert "6 changes, more than 3" in refused["message"], refused
    assert "DELETE /Groups/g1" not in state.log
    assert options.budget.spent == 0


async def test_confirms_racing_from_several_http_sessions_stay_within_the_total(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """Five sessions of one ``loom-scim mcp --http`` each hold a token for a different
    deactivation, issued while the total (2) was not spent; all confirm at once, and
    the elicitation-less token path of each races the others: two act, three are
    refused before anything is sent."""
    ids = [u for u in sandbox.seeded["all"] if user_in(sandbox, u)["active"] is True][:5]
    env = server_env(sandbox.url, sandbox.token, LOOM_SCIM_MCP_TOKEN=TOKEN)
    store = tmp_path / "store.sqlite3"
    args = ("--store", str(store), "--max-total-changes", "2")
    with http_server(env, *args, errlog=tmp_path / "err") as url:
        async with contextlib.AsyncExitStack() as stack:
            sessions = [(await stack.enter_async_context(http(url, TOKEN)))[0] for _ in ids]
            tokens = [
                data(await client.call_tool("deactivate-user", {"id": user_id}))["confirm"]
                for client, user_id in zip(sessions, ids, strict=True)
            ]
            answers = await asyncio.gather(
                *(
                    client.call_tool("deactivate-user", {"id": user_id, "confirm": token})
                    for client, user_id, token in zip(sessions, ids, tokens, strict=True)
                )
            )
    refused = [error(a)["message"] for a in answers if a.is_error]
    assert len(refused) == 3 and all("--max-total-changes" in m for m in refused), refused
    assert [user_in(sandbox, u)["active"] for u in ids].count(False) == 2


async def test_people_accepting_at_once_in_several_sessions_stay_within_the_total(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    """The elicitation path (an older client, asked during the call): five sessions each
    plan a deactivation within the total (2), then wait on their person; the people all
    accept at once. The plan's check passed for every one of them while nothing was
    spent: only the check when each starts to act keeps the total."""
    from mcp_types import ElicitResult

    ids = [u for u in sandbox.seeded["all"] if user_in(sandbox, u)["active"] is True][:5]
    options = Options(
        {"demo": LoomConnection.create(sandbox.url, sandbox.token)},
        store=tmp_path / "store.sqlite3",
        budget=ChangeBudget(2),
    )
    server = build_server(options)
    waiting: list[int] = []
    everyone_asked = asyncio.Event()

    async def person(context: Any, params: Any) -> ElicitResult:
        waiting.append(1)
        if len(waiting) == len(ids):
            everyone_asked.set()
        await everyone_asked.wait()
        return ElicitResult(action="accept", content={"confirm": True})

    async with contextlib.AsyncExitStack() as stack:
        sessions = [
            await stack.enter_async_context(
                Client(server, client_info=CLIENT, elicitation_callback=person, mode="legacy")
            )
            for _ in ids
        ]
        answers = await asyncio.gather(
            *(
                client.call_tool("deactivate-user", {"id": user_id})
                for client, user_id in zip(sessions, ids, strict=True)
            )
        )
    refused = [error(a)["message"] for a in answers if a.is_error]
    assert len(refused) == 3 and all("--max-total-changes" in m for m in refused), refused
    assert [user_in(sandbox, u)["active"] for u in ids].count(False) == 2
    assert options.budget.spent == 2
